"""The faults a test can inject into the local OTMM server, and how their specs are read.

A spec is what ``POST /__admin/faults`` takes: ``path_regex`` and ``status`` at least, and
optionally ``method`` (``*`` or absent for any), ``times`` (absent, ``null`` or -1 for
until cleared), ``body`` and ``content_type`` of the reply (an OTMM ``exception_body`` if
no body is given), ``delay_seconds`` before it, or ``expire_sessions: true`` to time every
session out at that call and then serve it as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from local_stack.faults import FaultRule
from local_stack.otmm_errors import ApiError


@dataclass
class OtmmFault(FaultRule):
    status: int
    body: str | None
    content_type: str
    delay_seconds: float
    #: Instead of replying, expire every session and serve the request as usual (a
    #: session timing out at exactly this call).
    expire_sessions: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "path_regex": self.path_regex.pattern,
            "status": self.status,
            "times_left": self.times,
        }


def parse_fault(spec: Any) -> OtmmFault:
    """Read a fault spec, raising the 400 :class:`ApiError` the admin endpoint answers with."""
    if not isinstance(spec, dict) or "path_regex" not in spec or "status" not in spec:
        raise ApiError(400, "A fault needs at least 'path_regex' and 'status'.")
    try:
        # Upper-cased here, so that it matches the request methods the handler passes.
        method_filter = str(spec.get("method") or "*").upper()
        return OtmmFault(
            method=None if method_filter == "*" else method_filter,
            path_regex=re.compile(str(spec["path_regex"])),
            status=int(spec["status"]),
            times=None if spec.get("times") in (None, -1) else int(spec["times"]),
            body=None if spec.get("body") is None else str(spec["body"]),
            content_type=str(spec.get("content_type") or "text/html;charset=UTF-8"),
            delay_seconds=float(spec.get("delay_seconds") or 0),
            expire_sessions=bool(spec.get("expire_sessions", False)),
        )
    except (re.error, ValueError, TypeError) as exc:
        raise ApiError(400, f"Bad fault: {exc}") from None
