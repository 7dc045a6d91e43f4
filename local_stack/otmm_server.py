"""A local OTMM-compatible HTTP server for the demo and the tests.

It serves the part of ``/otmmapi/v6`` that the hand-off uses (sign-in, text search on the
campaign status, folder listing, content download, lock/edit/unlock of the status) from a
folder on disk, so that the hook can be exercised end to end without an OpenText licence.
How that folder is laid out and how its ids are made is told in
:mod:`local_stack.otmm_campaigns`; how callers sign in and are recognised, in
:mod:`local_stack.otmm_sessions`.

The ``/__admin`` endpoints are not OTMM API: they inject faults
(:mod:`local_stack.otmm_faults`) and show state for tests. Everything listens on 127.0.0.1
by default and is meant for local use only.
"""

from __future__ import annotations

import argparse
import http.server
import json
import logging
import os
import signal
import threading
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_stack.otmm_campaigns import (
    CampaignRecord,
    Node,
    Snapshot,
    scan_campaigns,
    visible,
    write_campaign_file,
)
from local_stack.otmm_errors import ApiError, exception_body
from local_stack.otmm_faults import OtmmFault, parse_fault
from local_stack.otmm_sessions import authenticate, oauth2_token, sign_in, sign_out
from local_stack.otmm_state import (
    API_PREFIX,
    DEFAULT_NUMBER_FIELD_ID,
    DEFAULT_STATUS_FIELD_ID,
    Principal,
    ServerConfig,
    ServerState,
)
from local_stack.otmm_views import item_view, mime_type_of, resource_view

log = logging.getLogger(__name__)

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


# --- request handling -----------------------------------------------------------------------


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
                fault = self.state.faults.take(method, path)
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
            self._send_json(exc.status, exception_body(exc.status, exc.message), exc.headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # pragma: no cover - a bug in this server, shown to the client
            log.exception("Internal error while serving %s %s", method, path)
            self._send_json(500, exception_body(500, f"Internal server error: {type(exc).__name__}"))
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

    def _send_fault(self, fault: OtmmFault) -> None:
        if fault.delay_seconds:
            time.sleep(fault.delay_seconds)
        if fault.body is None:
            payload = json.dumps(exception_body(fault.status, "Injected fault")).encode()
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
            fault = parse_fault(self._json_body())
            state.faults.add(fault)
            self._send_json(201, {"fault": fault.describe()})
        elif (method, path) == ("GET", "/__admin/faults"):
            self._send_json(200, {"faults": state.faults.describe()})
        elif (method, path) == ("POST", "/__admin/reset-faults"):
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
        files = [p for p in master.iterdir() if p.is_file() and visible(p)] if master.is_dir() else []
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
        return authenticate(
            self.state,
            self.headers.get("Authorization", ""),
            self.headers.get("otmmauthtoken"),
            self._cookies(),
            self.headers.get("X-Requested-By"),
        )

    def _sign_in(self) -> None:
        resource, self.cookies_to_set = sign_in(self.state, self._form())
        self._send_json(200, resource)

    def _sign_out(self) -> None:
        sign_out(self.state, self._cookies(), self.headers.get("otmmauthtoken"))
        self._send_empty()

    def _oauth2_token(self) -> None:
        status, reply = oauth2_token(self.state, self._form())
        self._send_json(status, reply)

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
                return self._send_json(200, self._resource(kind, node))
            if rest == ["children"] and method == "GET" and kind == "folders":
                return self._children(snapshot, node)
            if rest == ["contents"] and method == "GET" and kind == "assets":
                return self._contents(node)
            if rest == ["state"] and method == "PUT":
                return self._change_lock(kind, node, principal)
            if rest == [] and method == "PATCH":
                return self._edit(kind, node, principal)
        raise ApiError(404, f"No resource for {method} {API_PREFIX}{route}.")

    def _item(self, node: Node) -> dict[str, Any]:
        return item_view(node, self.state.config, self.state.lock_owner(node.id) is not None)

    def _resource(self, kind: str, node: Node) -> dict[str, Any]:
        return resource_view(kind, self._item(node))

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
                    "asset_list": [self._item(snapshot.nodes[c.id]) for c in page],
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
        self._send_json(200, {"folder_children": {"asset_list": [self._item(n) for n in page]}})

    def _contents(self, node: Node) -> None:
        if node.is_folder:
            raise ApiError(400, f"{node.id} is a folder and has no content.")
        mime_type = mime_type_of(node)
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

    def _change_lock(self, kind: str, node: Node, principal: Principal) -> None:
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
        self._send_json(200, self._resource(kind, node))

    def _edit(self, kind: str, node: Node, principal: Principal) -> None:
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
        self._send_json(200, self._resource(kind, fresh.nodes.get(node.id, node)))


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


__all__ = [
    "API_PREFIX",
    "DEFAULT_NUMBER_FIELD_ID",
    "DEFAULT_STATUS_FIELD_ID",
    "OtmmServerHandle",
    "ServerConfig",
    "ServerState",
    "scan_campaigns",
    "start_otmm_server",
]
