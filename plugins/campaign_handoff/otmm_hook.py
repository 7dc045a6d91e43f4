"""Talk to OpenText Media Management (OTMM) through its REST API ``/otmmapi/v6``.

The hand-off needs four things from OTMM: the campaigns in a status, the files of a
campaign's ``Master Assets`` folder, the content of each file, and a status change. This
hook does those and hides the rest: sign-in (session or OAuth2), the ``X-Requested-By``
header, paging, retries of transient failures and a single re-sign-in after a 401.

Connection (default id ``otmm_default``, type ``generic``):

- host: the OTMM server, with or without scheme (``https://otmm.example.com``); a path is
  kept as a prefix and ``/otmmapi/v6`` is appended unless already there;
- port: optional; schema: ``http`` or ``https`` when the host has no scheme (default https);
- login, password: the OTMM user;
- extra (JSON), all optional:

  ``auth_type``: ``session`` (default) or ``oauth2`` (then ``client_id``, ``client_secret``);
  ``status_field_id`` (``CAMPAIGN.FIELD.STATUS``), ``number_field_id``
  (``CAMPAIGN.FIELD.NUMBER``): the site's metadata field ids;
  ``status_operator``: ``ARTESIA.OPERATOR.CHAR.IS`` (exact) by default; sites that used
  ``ARTESIA.OPERATOR.CHAR.CONTAINS`` may keep it, hits whose status is not exactly the one
  asked for are then dropped here;
  ``master_assets_folder_name`` (``Master Assets``);
  ``status_resource``: ``folders`` (default) or ``assets``, the endpoint family used to
  lock, edit and unlock a campaign (public material confirms only the assets one);
  ``verify``: TLS verification, true/false or a CA bundle path (default true);
  ``page_size`` (100), ``timeout`` seconds per request (60), ``retries`` (3) and
  ``backoff_factor`` seconds (1.0) for 502/503/504 and connection failures.

An instance keeps one HTTP session and is not meant to be shared between threads.
"""

from __future__ import annotations

import hashlib
import json
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

import requests
from airflow.sdk.bases.hook import BaseHook
from airflow.sdk.log import mask_secret

API_PATH = "/otmmapi/v6"
DEFAULT_STATUS_FIELD_ID = "CAMPAIGN.FIELD.STATUS"
DEFAULT_NUMBER_FIELD_ID = "CAMPAIGN.FIELD.NUMBER"
OPERATOR_IS = "ARTESIA.OPERATOR.CHAR.IS"
OPERATOR_CONTAINS = "ARTESIA.OPERATOR.CHAR.CONTAINS"
CONTAINER = "CONTAINER"
TRANSIENT_STATUSES = frozenset({502, 503, 504})
#: Sent as ``X-Requested-By`` when signed in with OAuth2, where there is no session id.
CLIENT_NAME = "campaign-handoff"
MAX_RETRY_WAIT = 60.0
EXCERPT_CHARS = 200


# --- errors --------------------------------------------------------------------------------


class OtmmError(Exception):
    """Base of every error this hook raises; messages never carry credentials."""


class OtmmConfigError(OtmmError):
    """The Airflow connection is incomplete or has a bad value; fix the connection."""


class OtmmProtocolError(OtmmError):
    """OTMM (or something in front of it) replied with a body this hook cannot understand."""


class OtmmTransferError(OtmmError):
    """A download broke off or came out shorter or longer than announced."""


class MasterAssetsFolderMissing(OtmmError):
    """A campaign folder has no ``Master Assets`` subfolder."""

    def __init__(self, campaign_id: str, folder_name: str, subfolders: list[str]) -> None:
        self.campaign_id = campaign_id
        self.folder_name = folder_name
        self.subfolders = subfolders
        found = ", ".join(repr(name) for name in subfolders) if subfolders else "none"
        super().__init__(
            f"Campaign {campaign_id} has no subfolder named {folder_name!r} in OTMM (subfolders found: "
            f"{found}). Create it in the campaign folder and put the master assets in it; if this "
            "site names the folder differently, set master_assets_folder_name in the connection extra."
        )


class OtmmHTTPError(OtmmError):
    """OTMM answered with an HTTP error status."""

    def __init__(self, message: str, *, status_code: int | None, method: str, path: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.method = method
        self.path = path


class OtmmAuthError(OtmmHTTPError):
    """Sign-in was refused, or a call was still refused after signing in again."""


class OtmmNotFoundError(OtmmHTTPError):
    """The campaign, folder or asset does not exist (any more) in OTMM."""


class OtmmConflictError(OtmmHTTPError):
    """The object is locked by someone else, or was not locked before an edit."""


class OtmmUnavailableError(OtmmHTTPError):
    """OTMM could not be reached or kept answering 502/503/504 after every retry."""


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Campaign:
    id: str
    #: The campaign number from ``number_field_id``; None when OTMM does not return it.
    number: str | None
    name: str
    status: str


@dataclass(frozen=True)
class MasterAsset:
    id: str
    name: str
    #: Bytes, as OTMM reports the master content; None when it reports no size.
    size: int | None
    mime_type: str | None


@dataclass(frozen=True)
class DownloadResult:
    size: int
    sha1: str


# --- settings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OtmmSettings:
    """What the hook reads from its Airflow connection, checked once."""

    conn_id: str
    base_url: str
    login: str
    password: str = field(repr=False)
    auth_type: str = "session"
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    status_field_id: str = DEFAULT_STATUS_FIELD_ID
    number_field_id: str = DEFAULT_NUMBER_FIELD_ID
    status_operator: str = OPERATOR_IS
    master_assets_folder_name: str = "Master Assets"
    status_resource: str = "folders"
    verify: bool | str = True
    page_size: int = 100
    timeout: float = 60.0
    retries: int = 3
    backoff_factor: float = 1.0

    @classmethod
    def from_connection(cls, conn: Any) -> OtmmSettings:
        conn_id = conn.conn_id

        def bad(message: str) -> OtmmConfigError:
            return OtmmConfigError(f"Airflow connection {conn_id!r}: {message}")

        if not conn.host:
            raise bad("no host; set it to the OTMM server, e.g. https://otmm.example.com")
        if not conn.login or not conn.password:
            raise bad("login and password of the OTMM user are required")
        try:
            extra = conn.extra_dejson
        except Exception:
            raise bad("the extra field is not valid JSON") from None
        if not isinstance(extra, dict):
            raise bad("the extra field must be a JSON object")

        def text(key: str, default: str, choices: tuple[str, ...] = ()) -> str:
            value = extra.get(key, default)
            if not isinstance(value, str) or not value.strip():
                raise bad(f"extra {key!r} must be a non-empty string")
            if choices and value not in choices:
                raise bad(f"extra {key!r} must be one of {', '.join(choices)}, not {value!r}")
            return value.strip()

        def number(key: str, default: float, kind: type, minimum: float) -> Any:
            value = extra.get(key, default)
            try:
                parsed = kind(value)
            except (TypeError, ValueError):
                raise bad(f"extra {key!r} must be a number, not {value!r}") from None
            if isinstance(value, bool) or parsed < minimum:
                raise bad(f"extra {key!r} must be a number of at least {minimum}, not {value!r}")
            return parsed

        auth_type = text("auth_type", "session", ("session", "oauth2"))
        client_id, client_secret = extra.get("client_id"), extra.get("client_secret")
        if auth_type == "oauth2" and not (client_id and client_secret):
            raise bad("auth_type 'oauth2' needs client_id and client_secret in the extra")

        return cls(
            conn_id=conn_id,
            base_url=_base_url(conn.host, conn.port, conn.schema, bad),
            login=conn.login,
            password=conn.password,
            auth_type=auth_type,
            client_id=str(client_id) if client_id else None,
            client_secret=str(client_secret) if client_secret else None,
            status_field_id=text("status_field_id", DEFAULT_STATUS_FIELD_ID),
            number_field_id=text("number_field_id", DEFAULT_NUMBER_FIELD_ID),
            status_operator=text("status_operator", OPERATOR_IS),
            master_assets_folder_name=text("master_assets_folder_name", "Master Assets"),
            status_resource=text("status_resource", "folders", ("folders", "assets")),
            verify=_verify(extra.get("verify", True), bad),
            page_size=number("page_size", 100, int, 1),
            timeout=number("timeout", 60.0, float, 0.001),
            retries=number("retries", 3, int, 0),
            backoff_factor=number("backoff_factor", 1.0, float, 0),
        )


def _base_url(host: str, port: int | None, schema: str | None, bad: Any) -> str:
    raw = host.strip()
    if "://" not in raw:
        scheme = (schema or "https").strip().lower()
        if scheme not in ("http", "https"):
            raise bad(f"schema must be 'http' or 'https' when the host has no scheme, not {schema!r}")
        raw = f"{scheme}://{raw}"
    parts = urllib.parse.urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise bad("host must be a host name or an http(s) URL")
    # Credentials belong in login/password; never carry them in the URL.
    netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if parts.port or port:
        netloc += f":{parts.port or port}"
    prefix = parts.path.rstrip("/")
    if not prefix.endswith(API_PATH):
        prefix += API_PATH
    return urllib.parse.urlunsplit((parts.scheme, netloc, prefix, "", ""))


def _verify(value: Any, bad: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        if lowered:
            return value.strip()  # a CA bundle path
    raise bad(f"extra 'verify' must be true, false or a CA bundle path, not {value!r}")


# --- the hook ------------------------------------------------------------------------------


class OtmmHook(BaseHook):
    """Find A1 campaigns, list and download their master assets, and move their status on.

    :param otmm_conn_id: Airflow connection to OTMM (see the module docstring for its fields).
    """

    conn_name_attr = "otmm_conn_id"
    default_conn_name = "otmm_default"
    conn_type = "generic"
    hook_name = "OpenText Media Management"

    def __init__(self, otmm_conn_id: str = default_conn_name, logger_name: str | None = None) -> None:
        super().__init__(logger_name=logger_name)
        self.otmm_conn_id = otmm_conn_id
        self._settings: OtmmSettings | None = None
        self._http: requests.Session | None = None
        self._signed_in = False
        self._requested_by = CLIENT_NAME
        #: Counts sign-ins, so a caller can tell that the session changed under it.
        self._sign_in_count = 0
        self._secrets: set[str] = set()

    # -- connection and sign-in ---------------------------------------------------------

    @property
    def settings(self) -> OtmmSettings:
        """Read the connection on first use, never at import or construction time."""
        if self._settings is None:
            self._settings = OtmmSettings.from_connection(self.get_connection(self.otmm_conn_id))
            self._secrets.update(s for s in (self._settings.password, self._settings.client_secret) if s)
        return self._settings

    def get_conn(self) -> requests.Session:
        """Return the signed-in HTTP session (signing in if needed)."""
        if not self._signed_in:
            self._sign_in()
        assert self._http is not None
        return self._http

    def _session(self) -> requests.Session:
        if self._http is None:
            http = requests.Session()
            http.headers["User-Agent"] = "campaign-handoff-otmm-hook"
            http.headers["Accept"] = "application/json"
            http.verify = self.settings.verify
            self._http = http
        return self._http

    def _sign_in(self) -> None:
        settings = self.settings
        http = self._session()
        # Start from an empty jar: a stale JSESSIONID or load balancer cookie would only confuse OTMM.
        http.cookies.clear()
        http.headers.pop("Authorization", None)
        http.headers.pop("otmmauthtoken", None)
        self._signed_in = False

        if settings.auth_type == "oauth2":
            path = "/sessions/oauth2/token"
            form = {
                "grant_type": "password",
                "username": settings.login,
                "password": settings.password,
                "client_id": settings.client_id,
                "client_secret": settings.client_secret,
            }
        else:
            path = "/sessions"
            form = {"username": settings.login, "password": settings.password}
        response = self._send("POST", path, data=form)
        if response.status_code in (400, 401, 403):
            raise OtmmAuthError(
                f"OTMM refused to sign in user {settings.login!r} "
                f"({self._describe(response, 'POST', path)}). Check the login, password"
                f"{' and OAuth2 client' if settings.auth_type == 'oauth2' else ''} "
                f"of Airflow connection {settings.conn_id!r}.",
                status_code=response.status_code,
                method="POST",
                path=self._path(path),
            )
        self._raise_for_status(response, "POST", path)
        data = self._json(response, "POST", path)

        if settings.auth_type == "oauth2":
            token = _dig(data, ("token_info", "oauth_token", "accessToken"), "POST", self._path(path))
            self._remember_secret(str(token))
            http.headers["Authorization"] = f"Bearer {token}"
            self._requested_by = CLIENT_NAME
        else:
            session = _dig(data, ("session_resource", "session"), "POST", self._path(path))
            session_id = _dig(session, ("id",), "POST", self._path(path))
            digest = session.get("message_digest")
            for secret in [str(digest or ""), *(c.value or "" for c in http.cookies)]:
                self._remember_secret(secret)
            self._requested_by = str(session_id)
            if "JSESSIONID" not in http.cookies and digest:
                # Some gateways drop the session cookie; OTMM also takes the digest as a header.
                http.headers["otmmauthtoken"] = str(digest)
        self._signed_in = True
        self._sign_in_count += 1
        self.log.info(
            "Signed in to OTMM at %s as %s (%s)", settings.base_url, settings.login, settings.auth_type
        )

    def _remember_secret(self, value: str) -> None:
        """Keep a token or cookie out of error messages here and out of Airflow's task logs."""
        if len(value) >= 4 and value not in self._secrets:
            self._secrets.add(value)
            mask_secret(value)

    def close(self) -> None:
        """Sign out (session auth) and drop the HTTP session; safe to call twice."""
        if self._http is None:
            return
        if self._signed_in and self.settings.auth_type == "session":
            try:
                response = self._send("DELETE", "/sessions", headers={"X-Requested-By": self._requested_by})
                if response.status_code >= 400 and response.status_code != 401:
                    self.log.warning(
                        "OTMM sign-out answered HTTP %s; the session will expire", response.status_code
                    )
            except OtmmError as exc:
                self.log.warning("Could not sign out of OTMM (%s); the session will expire on its own", exc)
        self._http.close()
        self._http = None
        self._signed_in = False

    def __enter__(self) -> OtmmHook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def test_connection(self) -> tuple[bool, str]:
        """Sign in and out, for the Test button of the Airflow connection form."""
        try:
            self._sign_in()
            return True, f"Signed in to OTMM at {self.settings.base_url} as {self.settings.login}."
        except OtmmError as exc:
            return False, str(exc)
        finally:
            self.close()

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": [],
            "relabeling": {"schema": "Scheme (http/https, if the host has none)", "login": "OTMM user"},
            "placeholders": {
                "host": "https://otmm.example.com",
                "extra": json.dumps({"auth_type": "session", "status_field_id": DEFAULT_STATUS_FIELD_ID}),
            },
        }

    # -- HTTP plumbing ------------------------------------------------------------------

    def _path(self, path: str) -> str:
        return urllib.parse.urlsplit(self.settings.base_url).path + path

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send one call, retrying transient failures with exponential backoff.

        Every call this hook makes may be repeated safely: sign-in, search, listing and
        download read; lock, unlock and the status edit set a fixed state. A hook that ever
        creates something in OTMM must not retry that call blindly.
        """
        settings = self.settings
        http = self._session()
        url = settings.base_url + path
        attempts = settings.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                response = http.request(method, url, timeout=settings.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout) as exc:
                if attempt == attempts:
                    raise OtmmUnavailableError(
                        f"Could not reach OTMM for {method} {self._path(path)} after {attempts} attempt(s): "
                        f"{type(exc).__name__}. Check that {settings.base_url} is up and reachable from "
                        "the workers; the task may simply be retried later.",
                        status_code=None,
                        method=method,
                        path=self._path(path),
                    ) from None
                wait = self._backoff(attempt, None)
                self.log.warning(
                    "OTMM %s %s failed (%s); retry %s of %s in %.1f s",
                    method,
                    self._path(path),
                    type(exc).__name__,
                    attempt,
                    attempts - 1,
                    wait,
                )
            else:
                if response.status_code not in TRANSIENT_STATUSES or attempt == attempts:
                    return response
                wait = self._backoff(attempt, response.headers.get("Retry-After"))
                response.close()
                self.log.warning(
                    "OTMM answered HTTP %s to %s %s; retry %s of %s in %.1f s",
                    response.status_code,
                    method,
                    self._path(path),
                    attempt,
                    attempts - 1,
                    wait,
                )
            time.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        wait = self.settings.backoff_factor * (2 ** (attempt - 1))
        if retry_after and retry_after.strip().isdigit():
            wait = max(wait, float(retry_after))
        return min(wait, MAX_RETRY_WAIT)

    def _call(self, method: str, path: str, *, stream: bool = False, **kwargs: Any) -> requests.Response:
        """Send an authenticated call: sign in when needed, and once more after a 401."""
        if not self._signed_in:
            self._sign_in()
        extra_headers = kwargs.pop("headers", {})
        for renewed in (False, True):
            headers = {**extra_headers, "X-Requested-By": self._requested_by}
            response = self._send(method, path, stream=stream, headers=headers, **kwargs)
            if response.status_code != 401 or renewed:
                break
            response.close()
            self.log.warning("OTMM refused %s %s with 401; signing in again once", method, self._path(path))
            self._sign_in()
        if response.status_code == 401:
            raise OtmmAuthError(
                "OTMM still refused the call after signing in again "
                f"({self._describe(response, method, path)}). "
                f"The user of connection {self.settings.conn_id!r} may lack a licence or permission.",
                status_code=401,
                method=method,
                path=self._path(path),
            )
        self._raise_for_status(response, method, path)
        return response

    def _call_json(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._call(method, path, **kwargs)
        return self._json(response, method, path)

    def _raise_for_status(self, response: requests.Response, method: str, path: str) -> None:
        status = response.status_code
        if status < 400:
            return
        what = self._describe(response, method, path)
        response.close()
        full_path = self._path(path)
        if status == 404:
            raise OtmmNotFoundError(
                f"OTMM has no such object ({what}); it may have been deleted or moved.",
                status_code=status,
                method=method,
                path=full_path,
            )
        if status in (409, 423):
            raise OtmmConflictError(
                f"OTMM refused the change because of a lock ({what}). If another user holds the lock, "
                "ask them to release it or unlock the object in OTMM; the next run will try again.",
                status_code=status,
                method=method,
                path=full_path,
            )
        if status in TRANSIENT_STATUSES:
            raise OtmmUnavailableError(
                f"OTMM stayed unavailable ({what}) after {self.settings.retries} retries. It is down or "
                "overloaded, or its load balancer has no healthy node; retry later.",
                status_code=status,
                method=method,
                path=full_path,
            )
        advice = {
            400: "The request was refused as malformed: check the field ids and status_operator in the "
            f"extra of connection {self.settings.conn_id!r}.",
            403: f"The user of connection {self.settings.conn_id!r} lacks permission for this.",
        }.get(status, "See the OTMM server log for the cause.")
        raise OtmmHTTPError(
            f"OTMM refused the call ({what}). {advice}", status_code=status, method=method, path=full_path
        )

    def _json(self, response: requests.Response, method: str, path: str) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise OtmmProtocolError(
                f"OTMM's reply to {method} {self._path(path)} is not a JSON object "
                f"(HTTP {response.status_code}, {response.headers.get('Content-Type', 'no content type')}, "
                f"{len(response.content)} bytes: {self._excerpt(response)!r}). A proxy, a maintenance page "
                "or a sign-in portal may be answering instead of OTMM; check the connection's host and port."
            )
        return data

    def _describe(self, response: requests.Response, method: str, path: str) -> str:
        """Say what came back, for an error message: status, path and OTMM's own message."""
        message = None
        try:
            body = response.json()
            if isinstance(body, dict):
                exception = body.get("exception_body") or {}
                message = exception.get("message") or body.get("error_description") or body.get("error")
        except ValueError:
            pass
        detail = self._redact(str(message)) if message else self._excerpt(response)
        return f"HTTP {response.status_code} from {method} {self._path(path)}" + (
            f": {detail!r}" if detail else ""
        )

    def _excerpt(self, response: requests.Response) -> str:
        try:
            text = response.content[: EXCERPT_CHARS * 4].decode("utf-8", errors="replace")
        except requests.RequestException:
            return ""
        text = " ".join(text.split())
        return self._redact(text[:EXCERPT_CHARS] + ("..." if len(text) > EXCERPT_CHARS else ""))

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret and len(secret) >= 4:
                text = text.replace(secret, "***")
        return text

    def _pages(self, folder_id: str) -> Iterator[dict[str, Any]]:
        """Yield every child of a folder, one page of ``page_size`` at a time.

        Paging stops at the first empty page rather than at a short one, because a server
        may cap the page size below what was asked for.
        """
        after, seen = 0, set()
        path = f"/folders/{urllib.parse.quote(folder_id, safe='')}/children"
        while True:
            params = {
                "load_type": "metadata",
                "level_of_detail": "slim",
                "after": after,
                "limit": self.settings.page_size,
            }
            data = self._call_json("GET", path, params=params)
            children = _dig(data, ("folder_children",), "GET", self._path(path))
            items = _items(children.get("asset_list"), "GET", self._path(path))
            if not items:
                return
            fresh = [item for item in items if item.get("asset_id") not in seen]
            if not fresh:
                raise OtmmProtocolError(
                    f"OTMM returned the same children of folder {folder_id} again for after={after}; "
                    "it seems to ignore paging, so the listing cannot be completed."
                )
            for item in fresh:
                seen.add(item.get("asset_id"))
                yield item
            after += len(items)

    # -- what the hand-off uses ---------------------------------------------------------

    def find_campaigns(self, status: str) -> list[Campaign]:
        """Return every campaign folder whose status field matches ``status``, over all pages."""
        settings = self.settings
        conditions = {
            "search_condition_list": {
                "search_condition": [
                    {
                        "type": "com.artesia.search.SearchScalarCondition",
                        "metadata_field_id": settings.status_field_id,
                        "relational_operator_id": settings.status_operator,
                        "value": status,
                    }
                ]
            }
        }
        found: dict[str, Campaign] = {}
        seen: set[str | None] = set()
        after, total = 0, 0
        while True:
            form = {
                "load_type": "metadata",
                "level_of_detail": "full",
                "after": after,
                "limit": settings.page_size,
                "search_condition_list": json.dumps(conditions),
            }
            data = self._call_json("POST", "/search/text", data=form)
            resource = _dig(data, ("search_result_resource",), "POST", self._path("/search/text"))
            result = resource.get("search_result") or {}
            items = _items(resource.get("asset_list"), "POST", self._path("/search/text"))
            total = _as_int(result.get("total_hit_count"), len(items))
            hits = _as_int(result.get("hit_count"), len(items))
            repeated = bool(items) and all(_item_id(item) in seen for item in items)
            for item in items:
                seen.add(_item_id(item))
                campaign = self._campaign(item, status)
                if campaign is not None and campaign.id not in found:
                    found[campaign.id] = campaign
            after += hits
            if after >= total:
                break
            if hits == 0 or not items:
                self.log.warning(
                    "OTMM reported %s campaigns in status %s but returned none after %s; using those found",
                    total,
                    status,
                    after,
                )
                break
            if repeated:
                raise OtmmProtocolError(
                    f"OTMM returned the same search hits again for after={after - hits}; it seems to "
                    "ignore paging, so the campaign search cannot be completed."
                )
        campaigns = list(found.values())
        self.log.info(
            "Found %s campaign(s) in status %s: %s", len(campaigns), status, [c.id for c in campaigns]
        )
        return campaigns

    def get_campaign(self, campaign_id: str) -> Campaign:
        """Read one campaign's name, number and current status."""
        path = f"/assets/{urllib.parse.quote(campaign_id, safe='')}"
        data = self._call_json("GET", path, params={"load_type": "metadata"})
        asset = _dig(data, ("asset_resource", "asset"), "GET", self._path(path))
        campaign = self._campaign(asset, None)
        assert campaign is not None
        return campaign

    def _campaign(self, item: dict[str, Any], wanted_status: str | None) -> Campaign | None:
        settings = self.settings
        campaign_id = _item_id(item)
        if not campaign_id:
            raise OtmmProtocolError(f"OTMM returned a campaign without asset_id: {sorted(item)}")
        status = _metadata_value(item.get("metadata"), settings.status_field_id)
        if wanted_status is not None and status is not None and status != wanted_status:
            # A CONTAINS search also matches e.g. "A10"; only an exact status counts.
            self.log.warning(
                "Ignoring campaign %s: its status is %r, not %r", campaign_id, status, wanted_status
            )
            return None
        number = _metadata_value(item.get("metadata"), settings.number_field_id)
        return Campaign(
            id=campaign_id,
            number=number,
            name=str(item.get("name") or campaign_id),
            status=status if status is not None else (wanted_status or ""),
        )

    def list_master_assets(self, campaign_id: str) -> list[MasterAsset]:
        """List the files of the campaign's Master Assets folder (subfolders are not descended).

        :raises MasterAssetsFolderMissing: the campaign folder has no such subfolder.
        """
        wanted = self.settings.master_assets_folder_name
        subfolders = [item for item in self._pages(campaign_id) if item.get("data_type") == CONTAINER]
        folder = next((f for f in subfolders if f.get("name") == wanted), None)
        if folder is None:
            folder = next(
                (f for f in subfolders if str(f.get("name", "")).strip().casefold() == wanted.casefold()),
                None,
            )
            if folder is not None:
                self.log.warning(
                    "Campaign %s: using folder %r as %r", campaign_id, folder.get("name"), wanted
                )
        if folder is None:
            raise MasterAssetsFolderMissing(campaign_id, wanted, [str(f.get("name")) for f in subfolders])

        assets: list[MasterAsset] = []
        for item in self._pages(str(_item_id(folder))):
            if item.get("data_type") == CONTAINER:
                self.log.warning(
                    "Campaign %s: subfolder %r of %r is not handed over",
                    campaign_id,
                    item.get("name"),
                    wanted,
                )
                continue
            content = item.get("master_content_info") or {}
            assets.append(
                MasterAsset(
                    id=str(_item_id(item)),
                    name=str(item.get("name") or content.get("name") or _item_id(item)),
                    size=_as_int(content.get("content_size", item.get("content_size")), None),
                    mime_type=content.get("mime_type") or item.get("mime_type"),
                )
            )
        self.log.info(
            "Campaign %s has %s master asset(s), %s bytes",
            campaign_id,
            len(assets),
            sum(a.size or 0 for a in assets),
        )
        return assets

    def download(
        self,
        asset_id: str,
        dest: BinaryIO,
        chunk_size: int = 1 << 20,
        expected_mime_type: str | None = None,
    ) -> DownloadResult:
        """Stream an asset's master content into ``dest``, hashing it on the way.

        Only one chunk is in memory at a time. On a broken transfer ``dest`` holds a partial
        file: the caller should discard it. An HTML answer for an asset that is not HTML is
        refused: it is a gateway's login or maintenance page, not the master file.
        """
        path = f"/assets/{urllib.parse.quote(asset_id, safe='')}/contents"
        digest = hashlib.sha1()
        size = 0
        response = self._call("GET", path, stream=True, headers={"Accept": "*/*"})
        with response:
            answered = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if answered == "text/html" and (expected_mime_type or "").lower() != "text/html":
                raise OtmmProtocolError(
                    f"OTMM answered the download of asset {asset_id} with an HTML page instead of its "
                    f"content ({expected_mime_type or 'unknown type'}): most likely a login or maintenance "
                    "page of a gateway in front of OTMM. Nothing was uploaded; check OTMM and retry."
                )
            announced = response.headers.get("Content-Length")
            try:
                for chunk in response.iter_content(chunk_size=chunk_size):
                    dest.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            except requests.RequestException as exc:
                raise OtmmTransferError(
                    f"The download of asset {asset_id} broke off after {size} bytes ({type(exc).__name__}); "
                    "discard the partial file and try again."
                ) from None
        plain = not response.headers.get("Content-Encoding")
        if plain and announced and announced.isdigit() and int(announced) != size:
            raise OtmmTransferError(
                f"The download of asset {asset_id} gave {size} bytes where OTMM announced {announced}; "
                "discard the partial file and try again."
            )
        result = DownloadResult(size=size, sha1=digest.hexdigest())
        self.log.info("Downloaded asset %s: %s bytes, sha1 %s", asset_id, size, result.sha1)
        return result

    def set_status(self, campaign_id: str, status: str) -> None:
        """Set the campaign's status field: lock, edit, and always unlock again."""
        settings = self.settings
        kind = settings.status_resource
        path = f"/{kind}/{urllib.parse.quote(campaign_id, safe='')}"
        envelope = "edited_folder" if kind == "folders" else "edited_asset"
        body = {
            envelope: {
                "data": {
                    "metadata": [
                        {
                            "id": settings.status_field_id,
                            "type": "com.artesia.metadata.MetadataField",
                            "value": {"value": {"type": "string", "value": status}},
                        }
                    ]
                }
            }
        }
        for attempt in (1, 2):
            self.get_conn()
            sign_ins = self._sign_in_count
            self._call("PUT", f"{path}/state", data={"action": "lock"}).close()
            try:
                self._call("PATCH", path, json=body).close()
                break
            except OtmmConflictError:
                # A re-sign-in between lock and edit leaves the lock with the old session:
                # take it again under the new one, once.
                if attempt == 2 or self._sign_in_count == sign_ins:
                    raise
                self.log.warning(
                    "Session changed while campaign %s was locked; locking it again", campaign_id
                )
            finally:
                try:
                    self._call("PUT", f"{path}/state", data={"action": "unlock"}).close()
                except OtmmError as exc:
                    self.log.warning(
                        "Could not unlock campaign %s in OTMM (%s); unlock it there if it stays locked",
                        campaign_id,
                        exc,
                    )
        self.log.info("Set the status of campaign %s to %s", campaign_id, status)


# --- reply parsing -------------------------------------------------------------------------


def _dig(data: Any, keys: tuple[str, ...], method: str, path: str) -> Any:
    current = data
    for depth, key in enumerate(keys):
        if not isinstance(current, dict) or current.get(key) is None:
            raise OtmmProtocolError(
                f"OTMM's reply to {method} {path} lacks {'.'.join(keys[: depth + 1])}; "
                "this OTMM version may differ from the one the hook was written for."
            )
        current = current[key]
    return current


def _items(value: Any, method: str, path: str) -> list[dict[str, Any]]:
    """Return an ``asset_list`` as a list of objects that each carry an ``asset_id``."""
    if value is None:
        return []
    if isinstance(value, dict):
        value = [value]  # some JSON serialisers turn a one-element list into an object
    if not isinstance(value, list) or not all(isinstance(i, dict) and i.get("asset_id") for i in value):
        raise OtmmProtocolError(
            f"OTMM's reply to {method} {path} has an asset_list that is not a list of objects with an "
            "asset_id; this OTMM version may differ from the one the hook was written for."
        )
    return value


def _item_id(item: dict[str, Any]) -> str | None:
    value = item.get("asset_id")
    return str(value) if value else None


def _as_int(value: Any, default: int | None) -> Any:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _metadata_value(metadata: Any, field_id: str) -> str | None:
    """Find a field's value anywhere in an OTMM metadata tree (categories nest elements)."""
    if isinstance(metadata, list):
        for element in metadata:
            found = _metadata_value(element, field_id)
            if found is not None:
                return found
        return None
    if not isinstance(metadata, dict):
        return None
    if metadata.get("id") == field_id:
        holder = metadata.get("value")
        if holder is None and metadata.get("values"):
            holder = metadata["values"][0]  # tabular field: first row
        if isinstance(holder, dict):
            inner = holder.get("value")
            if isinstance(inner, dict) and inner.get("value") is not None:
                return str(inner["value"])
            if inner is not None and not isinstance(inner, dict):
                return str(inner)
        return None
    for key in ("metadata_element_list", "metadata_element"):
        if key in metadata:
            found = _metadata_value(metadata[key], field_id)
            if found is not None:
                return found
    return None
