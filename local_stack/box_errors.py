"""The errors the local Box server answers with, in the shapes Box uses for them."""

from __future__ import annotations

from typing import Any

HELP_URL = "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"


class BoxError(Exception):
    """A Box API error, rendered in the ClientError shape."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        context_info: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.context_info = context_info
        self.headers = headers or {}


class OAuthError(Exception):
    """An error of the token endpoint, rendered in the OAuth2Error shape."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def not_found(kind: str, item_id: str) -> BoxError:
    return BoxError(404, "not_found", f"Not Found: no {kind} with id {item_id!r}")


def client_error_body(error: BoxError, request_id: str) -> dict[str, Any]:
    """Return the ClientError body Box sends for ``error``."""
    return {
        "type": "error",
        "status": error.status,
        "code": error.code,
        "message": error.message,
        "context_info": error.context_info or {},
        "help_url": HELP_URL,
        "request_id": request_id,
    }


def oauth_error_body(error: OAuthError) -> dict[str, Any]:
    """Return the OAuth2Error body the token endpoint sends for ``error``."""
    return {"error": error.error, "error_description": error.description}
