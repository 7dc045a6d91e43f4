"""Fault injection shared by the local servers: rules that pick requests, used up as they fire.

A test adds a rule through a server's ``/__admin/faults`` endpoint; the first rule whose
method and path match a request answers it instead of the server, and counts down its
``times`` (``None`` means until cleared). What a fault then does (its status, body, delay,
damage) is each server's own business: :mod:`local_stack.box_faults` and
:mod:`local_stack.otmm_faults` extend :class:`FaultRule` with it.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any, Generic, TypeVar


@dataclass
class FaultRule:
    """Which requests a fault answers, and how many more times it will."""

    #: ``None`` (or empty) matches every method; otherwise compared case-insensitively.
    method: str | None
    path_regex: re.Pattern[str]
    #: How many more matching requests this fault answers; ``None`` means until cleared.
    times: int | None

    def matches(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        return bool(self.path_regex.search(path))

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError


FaultT = TypeVar("FaultT", bound=FaultRule)


class FaultList(Generic[FaultT]):
    """The faults of one server, in the order they were added.

    It is guarded by its owner's lock rather than one of its own, so that an owner resetting
    everything under that lock clears the faults along with the rest of its state.
    """

    def __init__(self, lock: threading.Lock | threading.RLock) -> None:
        self._lock = lock
        self._faults: list[FaultT] = []

    def add(self, fault: FaultT) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    def take(self, method: str, path: str) -> FaultT | None:
        """Return the first fault matching the request, counting it down; drop it once used up."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(method, path):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                return fault
            return None
