"""What the local OTMM server keeps between requests: its settings, who is signed in, which
folders and assets are locked, the faults to inject and the log of requests served.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.faults import FaultList
from local_stack.otmm_faults import OtmmFault

#: Where the OTMM API lives on this server, as on OTMM.
API_PREFIX = "/otmmapi/v6"
DEFAULT_STATUS_FIELD_ID = "CAMPAIGN.FIELD.STATUS"
DEFAULT_NUMBER_FIELD_ID = "CAMPAIGN.FIELD.NUMBER"


@dataclass
class ServerConfig:
    campaigns_dir: Path
    username: str
    password: str
    client_id: str | None = None
    client_secret: str | None = None
    session_ttl: float = 3600.0
    status_field_id: str = DEFAULT_STATUS_FIELD_ID
    number_field_id: str = DEFAULT_NUMBER_FIELD_ID


@dataclass
class Principal:
    """Who a request acts as: a signed-in session or an OAuth2 bearer token."""

    key: str
    login_name: str
    expires_at: float
    session_id: int | None = None
    message_digest: str | None = None
    jsessionid: str | None = None
    lb_cookie: str | None = None


@dataclass
class ServerState:
    config: ServerConfig
    lock: threading.Lock = field(default_factory=threading.Lock)
    principals: dict[str, Principal] = field(default_factory=dict)
    next_session_id: int = 1001
    #: asset/folder id -> key of the principal holding its lock
    locks: dict[str, str] = field(default_factory=dict)
    faults: FaultList[OtmmFault] = field(init=False)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=2000))

    def __post_init__(self) -> None:
        self.faults = FaultList(self.lock)

    def expire_sessions(self) -> None:
        with self.lock:
            for principal in self.principals.values():
                principal.expires_at = 0.0

    def lock_owner(self, node_id: str) -> str | None:
        """Return the live holder of a lock; a lock of an expired session no longer counts."""
        owner = self.locks.get(node_id)
        principal = self.principals.get(owner) if owner else None
        if owner and owner.startswith("admin:"):
            return owner
        if principal is None or principal.expires_at < time.monotonic():
            return None
        return owner
