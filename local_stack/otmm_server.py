"""A local OTMM-compatible HTTP server for the demo and the tests.

It serves the part of ``/otmmapi/v6`` that the hand-off uses (sign-in, text search on the
campaign status, folder listing, content download, lock/edit/unlock of the status) from a
folder on disk, so that the hook can be exercised end to end without an OpenText licence.

Layout of the campaigns folder, re-read on every request so that tests may add and remove
files and campaigns while the server runs::

    CAMPAIGNS_DIR/
        <any folder name>/
            campaign.json        {"id": ..., "number": ..., "name": ..., "status": ...}
            Master Assets/       one OTMM asset per file
            <other folders>/     listed as further children of the campaign folder

Ids are stable: a campaign's id is the ``id`` of its ``campaign.json``, and every other
folder or file gets the SHA-1 of ``<campaign id>/<path inside the campaign folder>``, the
40 hex digits real OTMM ids also have.

The ``/__admin`` endpoints are not OTMM API: they inject faults and show state for tests.
Everything listens on 127.0.0.1 by default and is meant for local use only.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.server
import json
import logging
import mimetypes
import os
import re
import secrets
import signal
import tempfile
import threading
import time
import urllib.parse
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

API_PREFIX = "/otmmapi/v6"
DEFAULT_STATUS_FIELD_ID = "CAMPAIGN.FIELD.STATUS"
DEFAULT_NUMBER_FIELD_ID = "CAMPAIGN.FIELD.NUMBER"
METADATA_FIELD_TYPE = "com.artesia.metadata.MetadataField"
CAMPAIGN_FILE = "campaign.json"
#: Name of the cookie a load balancer in front of OTMM sets for sticky sessions.
LB_COOKIE = "AWSALB"
STREAM_CHUNK = 256 * 1024

#: Operators of ``SearchScalarCondition`` the server understands, by OTMM id.
OPERATORS: dict[str, Any] = {
    "ARTESIA.OPERATOR.CHAR.IS": lambda actual, wanted: actual == wanted,
    "ARTESIA.OPERATOR.CHAR.IS NOT": lambda actual, wanted: actual != wanted,
    "ARTESIA.OPERATOR.CHAR.CONTAINS": lambda actual, wanted: wanted.casefold() in actual.casefold(),
    "ARTESIA.OPERATOR.CHAR.STARTS WITH": lambda actual, wanted: actual.casefold().startswith(
        wanted.casefold()
    ),
}


class ApiError(Exception):
    """An error reply in the shape OTMM uses (``exception_body``)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


# --- the campaigns folder ----------------------------------------------------------------


def _node_id(campaign_id: str, relative: str) -> str:
    return hashlib.sha1(f"{campaign_id}/{relative}".encode()).hexdigest()


@dataclass
class Node:
    """A folder or file of the campaigns folder, as OTMM would see it."""

    id: str
    path: Path
    campaign: CampaignRecord
    is_folder: bool
    parent_id: str | None


@dataclass
class CampaignRecord:
    id: str
    number: str
    name: str
    status: str
    dir: Path
    raw: dict[str, Any]


@dataclass
class Snapshot:
    """The campaigns folder as read for one request."""

    campaigns: list[CampaignRecord]
    nodes: dict[str, Node]


def _visible(path: Path) -> bool:
    # Dot files hide the temporary files of atomic rewrites and editor leftovers.
    return not path.name.startswith(".")


def scan_campaigns(campaigns_dir: Path) -> Snapshot:
    """Read every campaign folder; a campaign without a readable ``campaign.json`` is skipped."""
    campaigns: list[CampaignRecord] = []
    nodes: dict[str, Node] = {}
    if not campaigns_dir.is_dir():
        return Snapshot(campaigns, nodes)
    for entry in sorted(campaigns_dir.iterdir()):
        meta_file = entry / CAMPAIGN_FILE
        if not entry.is_dir() or not _visible(entry) or not meta_file.is_file():
            continue
        try:
            raw = json.loads(meta_file.read_text(encoding="utf-8"))
            campaign = CampaignRecord(
                id=str(raw["id"]),
                number=str(raw.get("number", "")),
                name=str(raw["name"]),
                status=str(raw.get("status", "")),
                dir=entry,
                raw=raw,
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("Skipping campaign folder %s: unreadable %s (%s)", entry, CAMPAIGN_FILE, exc)
            continue
        campaigns.append(campaign)
        nodes[campaign.id] = Node(campaign.id, entry, campaign, True, None)
        for path in sorted(entry.rglob("*")):
            relative = path.relative_to(entry)
            if path == meta_file or not all(_visible(Path(part)) for part in relative.parts):
                continue
            parent = path.parent
            parent_id = (
                campaign.id
                if parent == entry
                else _node_id(campaign.id, parent.relative_to(entry).as_posix())
            )
            node_id = _node_id(campaign.id, relative.as_posix())
            nodes[node_id] = Node(node_id, path, campaign, path.is_dir(), parent_id)
    return Snapshot(campaigns, nodes)


def write_campaign_file(campaign: CampaignRecord, **changes: Any) -> None:
    """Rewrite ``campaign.json`` atomically so a concurrent scan never sees half a file."""
    data = {**campaign.raw, **changes}
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{CAMPAIGN_FILE}.", suffix=".tmp", dir=campaign.dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, campaign.dir / CAMPAIGN_FILE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# --- server state ---------------------------------------------------------------------------


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
class Fault:
    method: str | None
    path_regex: re.Pattern[str]
    status: int
    times: int | None
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
class ServerState:
    config: ServerConfig
    lock: threading.Lock = field(default_factory=threading.Lock)
    principals: dict[str, Principal] = field(default_factory=dict)
    next_session_id: int = 1001
    #: asset/folder id -> key of the principal holding its lock
    locks: dict[str, str] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    requests: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=2000))

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method not in (None, "*", method) or not fault.path_regex.search(path):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
        return None

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


# --- request handling -----------------------------------------------------------------------


def _exception_body(status: int, message: str) -> dict[str, Any]:
    return {"exception_body": {"http_response_code": status, "message": message, "debug_message": message}}


def _meta_element(field_id: str, name: str, value: str) -> dict[str, Any]:
    return {
        "id": field_id,
        "name": name,
        "type": METADATA_FIELD_TYPE,
        "data_type": "CHAR",
        "editable": True,
        "value": {"value": {"type": "string", "value": value}},
    }


def _data_type(mime_type: str) -> tuple[str, str]:
    """Return OTMM's ``(data_type, content_type)`` pair for a MIME type."""
    family = mime_type.split("/", 1)[0]
    if mime_type == "application/pdf":
        return "DOCUMENT", "ACROBAT"
    if family == "image":
        return "BITMAP", "BITMAP"
    if family == "video":
        return "VIDEO", "VIDEO"
    if family == "audio":
        return "AUDIO", "AUDIO"
    return "DOCUMENT", "OTHER"


def _int_param(params: dict[str, str], name: str, default: int) -> int:
    raw = params.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, f"Parameter '{name}' must be a whole number, got {raw!r}.") from None
    if value < 0:
        raise ApiError(400, f"Parameter '{name}' must not be negative.")
    return value


class OtmmRequestHandler(http.server.BaseHTTPRequestHandler):
    """Route one HTTP request; the server's :class:`ServerState` lives on ``self.server``."""

    protocol_version = "HTTP/1.1"
    server_version = "OTMM-local/16.5"
    server: OtmmHTTPServer

    # -- plumbing ------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    @property
    def state(self) -> ServerState:
        return self.server.state

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _handle(self, method: str) -> None:
        # Read the whole body first: with keep-alive an unread body would corrupt the next request.
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            self.send_error(400, "Bad Content-Length")
            return
        self.body = self.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(split.path)
        self.query = {k: v[-1] for k, v in urllib.parse.parse_qs(split.query, keep_blank_values=True).items()}
        self.status_sent = 0
        self.cookies_to_set: list[str] = []
        try:
            if path.startswith("/__admin/"):
                self._admin(method, path)
            elif path == API_PREFIX or path.startswith(API_PREFIX + "/"):
                fault = self.state.take_fault(method, path)
                if fault is not None and fault.expire_sessions:
                    self.state.expire_sessions()
                    fault = None
                if fault is not None:
                    self._send_fault(fault)
                else:
                    self._api(method, path[len(API_PREFIX) :] or "/")
            else:
                raise ApiError(404, f"No resource at {path}; the OTMM API lives under {API_PREFIX}.")
        except ApiError as exc:
            self._send_json(exc.status, _exception_body(exc.status, exc.message), exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # pragma: no cover - a bug in this server, shown to the client
            log.exception("Internal error while serving %s %s", method, path)
            self._send_json(500, _exception_body(500, f"Internal server error: {type(exc).__name__}"))
        if not path.startswith("/__admin/"):
            self.state.requests.append({"method": method, "path": path, "status": self.status_sent})

    def _send_bytes(
        self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.status_sent = status
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        for cookie in self.cookies_to_set:
            self.send_header("Set-Cookie", cookie)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        payload = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._send_bytes(status, payload, "application/json;charset=UTF-8", headers)

    def _send_empty(self, status: int = 204) -> None:
        self._send_bytes(status, b"", "text/plain")

    def _send_fault(self, fault: Fault) -> None:
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.body is None:
            payload = json.dumps(_exception_body(fault.status, "Injected fault")).encode()
            self._send_bytes(fault.status, payload, "application/json")
        else:
            self._send_bytes(fault.status, fault.body.encode("utf-8"), fault.content_type)

    def _form(self) -> dict[str, str]:
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "The form body is not valid UTF-8.") from None
        return {k: v[-1] for k, v in urllib.parse.parse_qs(text, keep_blank_values=True).items()}

    def _json_body(self) -> Any:
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "The request body is not valid JSON.") from None

    def _cookies(self) -> dict[str, str]:
        jar: dict[str, str] = {}
        for header in self.headers.get_all("Cookie") or []:
            for part in header.split(";"):
                name, _, value = part.strip().partition("=")
                if name:
                    jar[name] = value
        return jar

    # -- admin endpoints ---------------------------------------------------------------------

    def _admin(self, method: str, path: str) -> None:
        state = self.state
        if (method, path) == ("POST", "/__admin/faults"):
            spec = self._json_body()
            if not isinstance(spec, dict) or "path_regex" not in spec or "status" not in spec:
                raise ApiError(400, "A fault needs at least 'path_regex' and 'status'.")
            try:
                method_filter = str(spec.get("method") or "*").upper()
                fault = Fault(
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
            with state.lock:
                state.faults.append(fault)
            self._send_json(201, {"fault": fault.describe()})
        elif (method, path) == ("GET", "/__admin/faults"):
            with state.lock:
                self._send_json(200, {"faults": [f.describe() for f in state.faults]})
        elif (method, path) == ("POST", "/__admin/reset-faults"):
            with state.lock:
                state.faults.clear()
            self._send_empty()
        elif (method, path) == ("GET", "/__admin/campaigns"):
            snapshot = scan_campaigns(state.config.campaigns_dir)
            with state.lock:
                self._send_json(
                    200, {"campaigns": [self._admin_campaign(snapshot, c) for c in snapshot.campaigns]}
                )
        elif (method, path) == ("GET", "/__admin/requests"):
            self._send_json(200, {"requests": list(state.requests)})
        elif (method, path) == ("POST", "/__admin/reset-requests"):
            state.requests.clear()
            self._send_empty()
        elif (method, path) == ("POST", "/__admin/expire-sessions"):
            state.expire_sessions()
            self._send_empty()
        elif (method, path) == ("POST", "/__admin/lock"):
            # Lets a test play "someone else has this folder locked".
            spec = self._json_body()
            if not isinstance(spec, dict) or not spec.get("id"):
                raise ApiError(400, "Give the 'id' of the folder or asset to lock.")
            node_id = str(spec["id"])
            with state.lock:
                if spec.get("locked", True):
                    state.locks[node_id] = f"admin:{spec.get('owner', 'another.user')}"
                else:
                    state.locks.pop(node_id, None)
            self._send_empty()
        else:
            raise ApiError(404, f"No admin endpoint {method} {path}.")

    def _admin_campaign(self, snapshot: Snapshot, campaign: CampaignRecord) -> dict[str, Any]:
        master = campaign.dir / "Master Assets"
        files = [p for p in master.iterdir() if p.is_file() and _visible(p)] if master.is_dir() else []
        return {
            "id": campaign.id,
            "number": campaign.number,
            "name": campaign.name,
            "status": campaign.status,
            "has_master_assets_folder": master.is_dir(),
            "file_count": len(files),
            "total_bytes": sum(p.stat().st_size for p in files),
            "locked": self.state.lock_owner(campaign.id) is not None,
        }

    # -- authentication ---------------------------------------------------------------------

    def _authenticate(self) -> Principal:
        """Find the caller's live session or token, or refuse the request like OTMM would."""
        state = self.state
        now = time.monotonic()
        auth = self.headers.get("Authorization", "")
        cookies = self._cookies()
        with state.lock:
            principal: Principal | None = None
            via_cookie = False
            if auth.lower().startswith("bearer "):
                principal = state.principals.get("token:" + auth[7:].strip())
            elif self.headers.get("otmmauthtoken"):
                digest = self.headers["otmmauthtoken"]
                principal = next((p for p in state.principals.values() if p.message_digest == digest), None)
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
            if principal.session_id is not None and self.headers.get("X-Requested-By") != str(
                principal.session_id
            ):
                raise ApiError(
                    400,
                    "The X-Requested-By header is missing or does not carry the session id; "
                    "it is required on every call for cross-site request forgery protection.",
                )
            return principal

    def _sign_in(self) -> None:
        form = self._form()
        config = self.state.config
        if not secrets.compare_digest(
            form.get("username", ""), config.username
        ) or not secrets.compare_digest(form.get("password", ""), config.password):
            raise ApiError(401, "The user name or password is incorrect.")
        with self.state.lock:
            session_id = self.state.next_session_id
            self.state.next_session_id += 1
            principal = Principal(
                key=f"session:{session_id}",
                login_name=config.username,
                expires_at=time.monotonic() + config.session_ttl,
                session_id=session_id,
                message_digest=secrets.token_hex(20),
                jsessionid=secrets.token_hex(16).upper(),
                lb_cookie=secrets.token_urlsafe(24),
            )
            self.state.principals[principal.key] = principal
        self.cookies_to_set = [
            f"JSESSIONID={principal.jsessionid}; Path={API_PREFIX.rsplit('/', 1)[0]}; HttpOnly",
            f"{LB_COOKIE}={principal.lb_cookie}; Path=/",
        ]
        self._send_json(
            200,
            {
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
            },
        )

    def _sign_out(self) -> None:
        cookies = self._cookies()
        digest = self.headers.get("otmmauthtoken")
        with self.state.lock:
            for key, principal in list(self.state.principals.items()):
                by_cookie = principal.jsessionid and principal.jsessionid == cookies.get("JSESSIONID")
                if by_cookie or (digest and principal.message_digest == digest):
                    self.state.principals.pop(key)
        self._send_empty()

    def _oauth2_token(self) -> None:
        form = self._form()
        config = self.state.config
        if form.get("grant_type") != "password":
            self._send_json(400, {"error": "unsupported_grant_type"})
            return
        if (
            config.client_id is None
            or config.client_secret is None
            or form.get("client_id") != config.client_id
            or not secrets.compare_digest(form.get("client_secret", ""), config.client_secret)
        ):
            self._send_json(401, {"error": "invalid_client", "error_description": "Unknown client."})
            return
        if form.get("username") != config.username or not secrets.compare_digest(
            form.get("password", ""), config.password
        ):
            self._send_json(400, {"error": "invalid_grant", "error_description": "Bad user credentials."})
            return
        token = secrets.token_urlsafe(32)
        with self.state.lock:
            key = "token:" + token
            self.state.principals[key] = Principal(
                key=key, login_name=config.username, expires_at=time.monotonic() + config.session_ttl
            )
        self._send_json(
            200,
            {
                "token_info": {
                    "oauth_token": {
                        "accessToken": token,
                        "tokenType": "bearer",
                        "expiresIn": int(config.session_ttl),
                        "refreshToken": secrets.token_urlsafe(32),
                    }
                }
            },
        )

    # -- the OTMM API ------------------------------------------------------------------------

    def _api(self, method: str, route: str) -> None:
        if route == "/sessions":
            if method == "POST":
                return self._sign_in()
            if method == "DELETE":
                return self._sign_out()
            raise ApiError(405, f"{method} is not allowed on /sessions.")
        if route == "/sessions/oauth2/token":
            if method != "POST":
                raise ApiError(405, "Only POST is allowed on the token endpoint.")
            return self._oauth2_token()

        principal = self._authenticate()
        snapshot = scan_campaigns(self.state.config.campaigns_dir)
        parts = route.strip("/").split("/")

        if parts == ["search", "text"] and method == "POST":
            return self._search(snapshot)
        if len(parts) >= 2 and parts[0] in ("folders", "assets"):
            kind, node_id, rest = parts[0], parts[1], parts[2:]
            node = snapshot.nodes.get(node_id)
            if node is None:
                raise ApiError(404, f"No {kind[:-1]} with id {node_id}.")
            if kind == "folders" and not node.is_folder:
                raise ApiError(400, f"{node_id} is an asset, not a folder.")
            if rest == [] and method == "GET":
                return self._send_json(200, self._resource(kind, snapshot, node))
            if rest == ["children"] and method == "GET" and kind == "folders":
                return self._children(snapshot, node)
            if rest == ["contents"] and method == "GET" and kind == "assets":
                return self._contents(node)
            if rest == ["state"] and method == "PUT":
                return self._change_lock(kind, snapshot, node, principal)
            if rest == [] and method == "PATCH":
                return self._edit(kind, snapshot, node, principal)
        raise ApiError(404, f"No resource for {method} {API_PREFIX}{route}.")

    def _item(self, snapshot: Snapshot, node: Node) -> dict[str, Any]:
        """Describe a node the way ``asset_list`` entries look."""
        state = self.state
        campaign = node.campaign
        locked = state.lock_owner(node.id) is not None
        base: dict[str, Any] = {
            "asset_id": node.id,
            "name": campaign.name if node.id == campaign.id else node.path.name,
            "locked": locked,
            "checked_out": False,
            "deleted": False,
            "asset_state": "NORMAL",
            "metadata_model_id": "ARTESIA.MODEL.DEFAULT",
        }
        if node.is_folder:
            base.update(
                data_type="CONTAINER",
                content_type="NONE",
                container_type_id="ARTESIA.BASIC.FOLDER",
            )
            if node.id == campaign.id:
                base["metadata_model_id"] = "CAMPAIGN.MODEL"
                base["metadata"] = {
                    "metadata_element_list": [
                        _meta_element(state.config.status_field_id, "Status", campaign.status),
                        _meta_element(state.config.number_field_id, "Campaign number", campaign.number),
                    ]
                }
            return base
        mime_type = mimetypes.guess_type(node.path.name)[0] or "application/octet-stream"
        data_type, content_type = _data_type(mime_type)
        size = node.path.stat().st_size
        base.update(
            data_type=data_type,
            content_type=content_type,
            mime_type=mime_type,
            content_size=size,
            master_content_info={
                "id": node.id,
                "name": node.path.name,
                "mime_type": mime_type,
                "content_size": size,
                "content_kind": "MASTER",
                "unit_of_size": "BYTES",
                "url": f"{API_PREFIX}/assets/{node.id}/contents",
            },
            metadata={
                "metadata_element_list": [_meta_element("ARTESIA.FIELD.ASSET NAME", "Name", node.path.name)]
            },
        )
        return base

    def _resource(self, kind: str, snapshot: Snapshot, node: Node) -> dict[str, Any]:
        if kind == "folders":
            return {"folder_resource": {"folder": self._item(snapshot, node)}}
        return {"asset_resource": {"asset": self._item(snapshot, node)}}

    def _search(self, snapshot: Snapshot) -> None:
        form = self._form()
        after = _int_param(form, "after", 0)
        limit = _int_param(form, "limit", 25)
        raw = form.get("search_condition_list")
        if not raw:
            raise ApiError(400, "search_condition_list is required for a text search without keywords.")
        try:
            conditions = json.loads(raw)["search_condition_list"]["search_condition"]
            if isinstance(conditions, dict):
                conditions = [conditions]
            if not isinstance(conditions, list):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise ApiError(400, "search_condition_list is not a valid search condition list.") from None

        config = self.state.config
        values = {
            config.status_field_id: lambda c: c.status,
            config.number_field_id: lambda c: c.number,
            "ARTESIA.FIELD.ASSET NAME": lambda c: c.name,
        }
        matches = list(snapshot.campaigns)
        for condition in conditions:
            field_id = condition.get("metadata_field_id")
            operator_id = condition.get("relational_operator_id")
            if field_id not in values:
                raise ApiError(400, f"Metadata field {field_id!r} does not exist.")
            if operator_id not in OPERATORS:
                raise ApiError(400, f"Relational operator {operator_id!r} is not valid for a CHAR field.")
            wanted = str(condition.get("value", ""))
            getter, test = values[field_id], OPERATORS[operator_id]
            matches = [c for c in matches if test(getter(c), wanted)]

        page = matches[after : after + limit]
        self._send_json(
            200,
            {
                "search_result_resource": {
                    "search_result": {
                        "hit_count": len(page),
                        "total_hit_count": len(matches),
                        "asset_id_list": [c.id for c in page],
                    },
                    "asset_list": [self._item(snapshot, snapshot.nodes[c.id]) for c in page],
                }
            },
        )

    def _children(self, snapshot: Snapshot, folder: Node) -> None:
        after = _int_param(self.query, "after", 0)
        limit = _int_param(self.query, "limit", 25)
        children = sorted(
            (n for n in snapshot.nodes.values() if n.parent_id == folder.id),
            key=lambda n: (n.path.name.casefold(), n.path.name),
        )
        page = children[after : after + limit]
        self._send_json(200, {"folder_children": {"asset_list": [self._item(snapshot, n) for n in page]}})

    def _contents(self, node: Node) -> None:
        if node.is_folder:
            raise ApiError(400, f"{node.id} is a folder and has no content.")
        mime_type = mimetypes.guess_type(node.path.name)[0] or "application/octet-stream"
        try:
            handle = node.path.open("rb")
        except OSError:
            raise ApiError(404, f"The content of asset {node.id} is not available.") from None
        with handle:
            size = os.fstat(handle.fileno()).st_size
            self.status_sent = 200
            self.send_response(200)
            self.send_header("Content-Type", mime_type)
            self.send_header("Content-Length", str(size))
            self.send_header(
                "Content-Disposition",
                f"attachment; filename*=UTF-8''{urllib.parse.quote(node.path.name)}",
            )
            self.end_headers()
            for chunk in _read_chunks(handle, size):
                self.wfile.write(chunk)

    def _change_lock(self, kind: str, snapshot: Snapshot, node: Node, principal: Principal) -> None:
        action = self._form().get("action", "")
        if action not in ("lock", "unlock"):
            raise ApiError(400, f"Unknown state action {action!r}; use lock or unlock.")
        with self.state.lock:
            owner = self.state.lock_owner(node.id)
            if owner not in (None, principal.key):
                raise ApiError(409, f"The {kind[:-1]} {node.id} is locked by another user or session.")
            if action == "lock":
                self.state.locks[node.id] = principal.key
            else:
                self.state.locks.pop(node.id, None)
        self._send_json(200, self._resource(kind, snapshot, node))

    def _edit(self, kind: str, snapshot: Snapshot, node: Node, principal: Principal) -> None:
        envelope = "edited_folder" if kind == "folders" else "edited_asset"
        body = self._json_body()
        try:
            elements = body[envelope]["data"]["metadata"]
            if not isinstance(elements, list):
                raise TypeError
        except (KeyError, TypeError):
            raise ApiError(
                400, f"The body must be {{'{envelope}': {{'data': {{'metadata': [...]}}}}}}."
            ) from None
        if self.state.lock_owner(node.id) != principal.key:
            raise ApiError(
                409, f"The {kind[:-1]} {node.id} must be locked by this session before it is edited."
            )

        config = self.state.config
        editable = {config.status_field_id: "status", config.number_field_id: "number"}
        changes: dict[str, str] = {}
        for element in elements:
            field_id = element.get("id") if isinstance(element, dict) else None
            if field_id not in editable or node.id != node.campaign.id:
                raise ApiError(400, f"Field {field_id!r} is not part of the metadata model of {node.id}.")
            try:
                value = element["value"]["value"]["value"]
            except (KeyError, TypeError):
                raise ApiError(400, f"Field {field_id!r} needs a value as value.value.value.") from None
            changes[editable[field_id]] = str(value)
        with self.state.lock:
            write_campaign_file(node.campaign, **changes)
        fresh = scan_campaigns(config.campaigns_dir)
        self._send_json(200, self._resource(kind, fresh, fresh.nodes.get(node.id, node)))


def _read_chunks(handle: Any, size: int) -> Iterator[bytes]:
    remaining = size
    while remaining > 0:
        chunk = handle.read(min(STREAM_CHUNK, remaining))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


class OtmmHTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        super().__init__(address, OtmmRequestHandler)
        self.state = state


# --- starting and stopping ------------------------------------------------------------------


@dataclass
class OtmmServerHandle:
    """A running server: ``base_url`` is what the connection's host and port point at."""

    server: OtmmHTTPServer
    thread: threading.Thread

    @property
    def host(self) -> str:
        return str(self.server.server_address[0])

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def state(self) -> ServerState:
        return self.server.state

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> OtmmServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_otmm_server(
    campaigns_dir: Path | str,
    username: str,
    password: str,
    client_id: str | None = None,
    client_secret: str | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    session_ttl: float = 3600,
    status_field_id: str = DEFAULT_STATUS_FIELD_ID,
    number_field_id: str = DEFAULT_NUMBER_FIELD_ID,
) -> OtmmServerHandle:
    """Serve ``campaigns_dir`` in a background thread; port 0 picks a free port.

    OAuth2 sign-in is refused unless both ``client_id`` and ``client_secret`` are given.
    """
    config = ServerConfig(
        campaigns_dir=Path(campaigns_dir),
        username=username,
        password=password,
        client_id=client_id,
        client_secret=client_secret,
        session_ttl=float(session_ttl),
        status_field_id=status_field_id,
        number_field_id=number_field_id,
    )
    server = OtmmHTTPServer((host, port), ServerState(config))
    # A short poll interval lets stop() return quickly; idle polling costs next to nothing.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="otmm-server", daemon=True
    )
    thread.start()
    return OtmmServerHandle(server, thread)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve a campaigns folder as a local OTMM REST API.")
    parser.add_argument("--campaigns-dir", required=True, type=Path)
    parser.add_argument("--username", required=True)
    parser.add_argument(
        "--password",
        default=os.environ.get("OTMM_SERVER_PASSWORD"),
        help="password to accept (default: $OTMM_SERVER_PASSWORD, which keeps it out of the process list)",
    )
    parser.add_argument("--client-id", default=os.environ.get("OTMM_SERVER_CLIENT_ID"))
    parser.add_argument("--client-secret", default=os.environ.get("OTMM_SERVER_CLIENT_SECRET"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the chosen port here once listening")
    parser.add_argument("--session-ttl", type=float, default=3600)
    parser.add_argument("--status-field-id", default=DEFAULT_STATUS_FIELD_ID)
    parser.add_argument("--number-field-id", default=DEFAULT_NUMBER_FIELD_ID)
    args = parser.parse_args(argv)
    if not args.password:
        parser.error("give --password or set OTMM_SERVER_PASSWORD")

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    handle = start_otmm_server(
        args.campaigns_dir,
        args.username,
        args.password,
        client_id=args.client_id,
        client_secret=args.client_secret,
        host=args.host,
        port=args.port,
        session_ttl=args.session_ttl,
        status_field_id=args.status_field_id,
        number_field_id=args.number_field_id,
    )
    if args.port_file:
        # Write then rename, so a reader polling for the file never sees it empty.
        tmp = args.port_file.with_name(args.port_file.name + ".tmp")
        tmp.write_text(f"{handle.port}\n")
        os.replace(tmp, args.port_file)

    stopping = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())
    log.info("OTMM server on %s serving %s", handle.api_url, args.campaigns_dir)
    stopping.wait()
    handle.stop()
    log.info("OTMM server stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
