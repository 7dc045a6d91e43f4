"""Who calls the local OTMM server: signing in and out, OAuth2 tokens, and telling who a
request acts as.

A session (``POST /sessions``) is shown on later calls by its ``otmmauthtoken`` header or
its ``JSESSIONID`` cookie; the cookie only counts together with the load balancer's sticky
cookie set at sign-in, and every call of a session must carry its id in ``X-Requested-By``.
A token from ``POST /sessions/oauth2/token`` is shown as ``Authorization: Bearer ...``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from local_stack.otmm_errors import ApiError
from local_stack.otmm_state import API_PREFIX, Principal, ServerState

#: Name of the cookie a load balancer in front of OTMM sets for sticky sessions.
LB_COOKIE = "AWSALB"


def authenticate(
    state: ServerState,
    authorization: str,
    otmmauthtoken: str | None,
    cookies: Mapping[str, str],
    requested_by: str | None,
) -> Principal:
    """Find the caller's live session or token, or refuse the request like OTMM would."""
    now = time.monotonic()
    with state.lock:
        principal: Principal | None = None
        via_cookie = False
        if authorization.lower().startswith("bearer "):
            principal = state.principals.get("token:" + authorization[7:].strip())
        elif otmmauthtoken:
            principal = next(
                (p for p in state.principals.values() if p.message_digest == otmmauthtoken), None
            )
        elif "JSESSIONID" in cookies:
            principal = next(
                (p for p in state.principals.values() if p.jsessionid == cookies["JSESSIONID"]), None
            )
            via_cookie = True
        if principal is None:
            raise ApiError(401, "Not authenticated: sign in through POST /sessions first.")
        if principal.expires_at < now:
            state.principals.pop(principal.key, None)
            raise ApiError(401, "The session has expired: sign in again.")
        if via_cookie and cookies.get(LB_COOKIE) != principal.lb_cookie:
            # Without its sticky cookie the load balancer sends the call to a node that
            # never saw this session.
            raise ApiError(401, "Session not known on this node (load balancer cookie missing).")
        if principal.session_id is not None and requested_by != str(principal.session_id):
            raise ApiError(
                400,
                "The X-Requested-By header is missing or does not carry the session id; "
                "it is required on every call for cross-site request forgery protection.",
            )
        return principal


def sign_in(state: ServerState, form: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Open a session for the configured user; return its ``session_resource`` and cookies."""
    config = state.config
    if not secrets.compare_digest(form.get("username", ""), config.username) or not secrets.compare_digest(
        form.get("password", ""), config.password
    ):
        raise ApiError(401, "The user name or password is incorrect.")
    with state.lock:
        session_id = state.next_session_id
        state.next_session_id += 1
        principal = Principal(
            key=f"session:{session_id}",
            login_name=config.username,
            expires_at=time.monotonic() + config.session_ttl,
            session_id=session_id,
            message_digest=secrets.token_hex(20),
            jsessionid=secrets.token_hex(16).upper(),
            lb_cookie=secrets.token_urlsafe(24),
        )
        state.principals[principal.key] = principal
    cookies = [
        f"JSESSIONID={principal.jsessionid}; Path={API_PREFIX.rsplit('/', 1)[0]}; HttpOnly",
        f"{LB_COOKIE}={principal.lb_cookie}; Path=/",
    ]
    resource = {
        "session_resource": {
            "session": {
                "id": session_id,
                "login_name": principal.login_name,
                "message_digest": principal.message_digest,
                "validation_key": secrets.randbelow(10**9),
                "role_name": "Administrator",
                "user_full_name": principal.login_name,
                "domain_name": "LOCAL",
            }
        }
    }
    return resource, cookies


def sign_out(state: ServerState, cookies: Mapping[str, str], otmmauthtoken: str | None) -> None:
    """End the sessions the ``JSESSIONID`` cookie or the ``otmmauthtoken`` header name."""
    with state.lock:
        for key, principal in list(state.principals.items()):
            by_cookie = principal.jsessionid and principal.jsessionid == cookies.get("JSESSIONID")
            if by_cookie or (otmmauthtoken and principal.message_digest == otmmauthtoken):
                state.principals.pop(key)


def oauth2_token(state: ServerState, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
    """Answer a password grant: the status and body of the token endpoint's reply."""
    config = state.config
    if form.get("grant_type") != "password":
        return 400, {"error": "unsupported_grant_type"}
    if (
        config.client_id is None
        or config.client_secret is None
        or form.get("client_id") != config.client_id
        or not secrets.compare_digest(form.get("client_secret", ""), config.client_secret)
    ):
        return 401, {"error": "invalid_client", "error_description": "Unknown client."}
    if form.get("username") != config.username or not secrets.compare_digest(
        form.get("password", ""), config.password
    ):
        return 400, {"error": "invalid_grant", "error_description": "Bad user credentials."}
    token = secrets.token_urlsafe(32)
    with state.lock:
        key = "token:" + token
        state.principals[key] = Principal(
            key=key, login_name=config.username, expires_at=time.monotonic() + config.session_ttl
        )
    return 200, {
        "token_info": {
            "oauth_token": {
                "accessToken": token,
                "tokenType": "bearer",
                "expiresIn": int(config.session_ttl),
                "refreshToken": secrets.token_urlsafe(32),
            }
        }
    }
