"""The faults a test can inject into the local Box server, and how their specs are read.

A spec is what ``POST /__admin/faults`` takes: ``{"method": "POST", "path_regex": "...",
"status": 429, "times": 1, "retry_after": 0}`` answers the next ``times`` matching requests
with that status (``times: null`` means until cleared), optionally with a ``code`` and
``message`` of its own. ``"corrupt_sha1": true`` instead lets the matching upload succeed
and then damages the stored bytes, so Box reports a SHA-1 that differs from what was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from local_stack.faults import FaultRule

#: The ClientError code of an injected error reply that names none of its own.
DEFAULT_FAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    429: "too_many_requests",
    500: "internal_server_error",
    503: "unavailable",
}


@dataclass
class BoxFault(FaultRule):
    id: str
    status: int | None
    retry_after: int | None
    code: str | None
    message: str | None
    corrupt_sha1: bool

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path_regex": self.path_regex.pattern,
            "status": self.status,
            "times": self.times,
            "retry_after": self.retry_after,
            "code": self.code,
            "message": self.message,
            "corrupt_sha1": self.corrupt_sha1,
        }


def parse_fault(spec: Any, fault_id: str) -> BoxFault:
    """Read a fault spec; one the server refuses raises ``ValueError``, ``TypeError`` or ``re.error``."""
    if not isinstance(spec, dict):
        raise ValueError("a fault is a JSON object")
    status = spec.get("status")
    corrupt = bool(spec.get("corrupt_sha1", False))
    if status is None and not corrupt:
        raise ValueError("a fault needs a status or corrupt_sha1: true")
    if status is not None and (not isinstance(status, int) or not (status == 202 or 400 <= status <= 599)):
        raise ValueError("status must be 202 or a 4xx/5xx integer")
    times = spec.get("times", 1)
    if times is not None and (not isinstance(times, int) or times < 1):
        raise ValueError("times must be a positive integer, or null for until cleared")
    retry_after = spec.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
        raise ValueError("retry_after must be a non-negative integer of seconds")
    return BoxFault(
        id=fault_id,
        method=spec.get("method"),
        path_regex=re.compile(spec.get("path_regex", ".*")),
        status=status,
        times=times,
        retry_after=retry_after,
        code=spec.get("code"),
        message=spec.get("message"),
        corrupt_sha1=corrupt,
    )
