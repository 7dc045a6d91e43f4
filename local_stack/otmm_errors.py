"""The errors the local OTMM server answers with, in OTMM's ``exception_body`` shape."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An error reply in the shape OTMM uses (``exception_body``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def exception_body(status: int, message: str) -> dict[str, Any]:
    return {"exception_body": {"http_response_code": status, "message": message, "debug_message": message}}
