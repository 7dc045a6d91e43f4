"""Access tokens of the local Box server: the OAuth 2 grants Box offers, and bearer checks.

``POST /oauth2/token`` takes the client credentials grant (``box_subject_type`` and
``box_subject_id``) and the JWT bearer grant, whose assertion must be signed by a key
configured at start. Tokens live in :attr:`BoxState.tokens <local_stack.box_store.BoxState>`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping
from typing import Any

from local_stack.box_errors import BoxError, OAuthError
from local_stack.box_store import BoxState

TOKEN_LIFETIME_SECONDS = 3600
JWT_AUDIENCE = "https://api.box.com/oauth2/token"
JWT_ALGORITHMS = ["RS256", "RS384", "RS512"]


class BoxAuth:
    """Issue tokens to the one configured client, and check the tokens requests carry."""

    def __init__(
        self,
        state: BoxState,
        client_id: str,
        client_secret: str,
        jwt_public_keys: Mapping[str, str] | None = None,
    ) -> None:
        self.state = state
        self.client_id = client_id
        self.client_secret = client_secret
        self.jwt_public_keys = dict(jwt_public_keys or {})

    def grant(self, form: Mapping[str, str]) -> dict[str, Any]:
        """Answer a token request (its form fields), or raise the :class:`OAuthError` Box would."""
        grant = form.get("grant_type")
        if form.get("client_id") != self.client_id or form.get("client_secret") != self.client_secret:
            raise OAuthError("invalid_client", "The client credentials are invalid")
        if grant == "client_credentials":
            if form.get("box_subject_type") not in {"enterprise", "user"} or not form.get("box_subject_id"):
                raise OAuthError(
                    "invalid_grant", "box_subject_type (enterprise or user) and box_subject_id are required"
                )
        elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            self._check_assertion(form.get("assertion", ""))
        else:
            raise OAuthError("unsupported_grant_type", f"Grant type {grant!r} is not supported here")
        token = secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens[token] = time.time() + TOKEN_LIFETIME_SECONDS
        return {
            "access_token": token,
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "token_type": "bearer",
            "restricted_to": [],
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        }

    def _check_assertion(self, assertion: str) -> None:
        """Check a JWT assertion the way Box does: signature by a known key, audience, claims."""
        import jwt

        if not self.jwt_public_keys:
            raise OAuthError("unauthorized_client", "This server has no public key configured for JWT")
        try:
            key_id = jwt.get_unverified_header(assertion).get("kid")
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_grant", f"The assertion is not a JWT: {exc}") from exc
        public_key = self.jwt_public_keys.get(key_id or "")
        if public_key is None:
            raise OAuthError("invalid_grant", f"No public key with id {key_id!r} is configured")
        try:
            claims = jwt.decode(
                assertion,
                public_key,
                algorithms=JWT_ALGORITHMS,
                audience=JWT_AUDIENCE,
                options={"require": ["exp", "iss", "sub", "jti", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise OAuthError("invalid_grant", f"The assertion is not valid: {exc}") from exc
        if claims.get("iss") != self.client_id:
            raise OAuthError("invalid_grant", "The assertion's issuer is not this client id")
        if claims.get("box_sub_type") not in {"enterprise", "user"}:
            raise OAuthError("invalid_grant", "box_sub_type must be enterprise or user")
        if claims["exp"] - time.time() > 60:
            raise OAuthError("invalid_grant", "The assertion's exp must be within 60 seconds")

    def check_bearer(self, authorization: str) -> None:
        """Refuse a request whose ``authorization`` header carries no live token, as Box does."""
        scheme, _, token = authorization.partition(" ")
        expiry = self.state.tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None or expiry < time.time():
            raise BoxError(
                401,
                "unauthorized",
                "The access token is missing, invalid or expired",
                headers={
                    "WWW-Authenticate": 'Bearer realm="Service", error="invalid_token", '
                    'error_description="The access token provided is invalid."'
                },
            )
