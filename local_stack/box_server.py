"""A local Box-compatible HTTP server for the demo and the tests.

It answers the part of the Box API that the hand-off uses, as ``box-openapi.json`` describes
it, so that :class:`campaign_handoff.box_hook.BoxHook` runs against the real ``box_sdk_gen``
client over HTTP without a Box account:

* ``POST /oauth2/token``: client credentials grant (``box_subject_type``/``box_subject_id``)
  and the JWT bearer grant, whose assertion must be signed by a key configured at start
  (:mod:`local_stack.box_auth`).
* ``GET /2.0/folders/{id}``, ``GET /2.0/folders/{id}/items``, ``POST /2.0/folders``,
  ``GET /2.0/files/{id}``: folder "0" is the root and always exists.
* The upload server under ``/api``: direct uploads (``POST /api/2.0/files/content`` and
  ``POST /api/2.0/files/{id}/content``, honouring ``content-md5``) and chunked upload
  sessions (create, upload part, get, list parts, commit, abort).

Errors use Box's ClientError shape (:mod:`local_stack.box_errors`). Names are unique per
folder, case-insensitively, across files and folders, as on Box. State lives in memory;
file bytes live on disk in the data directory (:mod:`local_stack.box_store`), and request
bodies are streamed there with their SHA-1 computed on the way, so no file is ever held in
memory whole (:mod:`local_stack.box_requests`).

With ``validate=True`` every Box API request and response is checked against the OpenAPI
document with openapi-core, and every mismatch is recorded as a violation (the request is
still served, so a test sees both the behaviour and the violation); what is checked, and
the one gap in the document bridged on purpose, is told in :mod:`local_stack.box_openapi`.

The ``/__admin`` endpoints are not Box API and are never validated:

* ``POST /__admin/faults`` with ``{"method": "POST", "path_regex": "...", "status": 429,
  "times": 1, "retry_after": 0}``: answer the next ``times`` matching requests with that
  status (``times: null`` means until cleared). ``"corrupt_sha1": true`` instead lets the
  matching upload succeed and then damages the stored bytes, so Box reports a SHA-1 that
  differs from what was sent (:mod:`local_stack.box_faults`). ``GET`` lists the faults,
  ``DELETE`` clears them.
* ``GET /__admin/violations`` (``DELETE`` clears), ``GET /__admin/requests`` (the log of
  Box API requests with their status), ``GET /__admin/tree`` (every folder path, every file
  with size and SHA-1; ``?verify=true`` re-reads each file from disk),
  ``POST /__admin/expire_tokens`` and ``POST /__admin/reset``.

Start it from Python with :func:`start_box_server` or from a shell with
``python -m local_stack.box_server --data-dir D --client-id X --client-secret Y``. It
listens on 127.0.0.1 by default and is meant for local use only.
"""

from __future__ import annotations

import argparse
import base64
import json
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import threading
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from local_stack.box_auth import BoxAuth
from local_stack.box_errors import BoxError, OAuthError, client_error_body, oauth_error_body
from local_stack.box_faults import DEFAULT_FAULT_CODES, BoxFault, parse_fault
from local_stack.box_openapi import (
    CODES_MISSING_FROM_SPEC_ENUM,
    BoxSpecValidator,
    OpenApiResponse,
    default_spec_path,
    load_validator,
    werkzeug_headers,
)
from local_stack.box_records import FileRecord, PartRecord
from local_stack.box_requests import (
    MultipartUpload,
    RequestContext,
    int_param,
    parse_digest,
    sha1_hex_to_base64,
    stream_to_file,
)
from local_stack.box_store import ROOT_FOLDER_ID, BoxState, check_name, concatenate, corrupt_blob
from local_stack.box_upload_sessions import (
    DEFAULT_PART_SIZE,
    MIN_CHUNKED_UPLOAD_SIZE,
    check_commit_parts,
    check_range,
    open_session,
)
from local_stack.box_views import (
    file_full,
    file_mini,
    folder_full,
    folder_mini,
    part_view,
    select_fields,
    session_view,
    sorted_children,
)

log = logging.getLogger(__name__)

#: Their names from when the validator lived here; the contract test still imports them so.
_OpenApiResponse = OpenApiResponse
_werkzeug_headers = werkzeug_headers


# --- request handling --------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[RequestContext], Awaitable[Reply]]


class BoxApp:
    """The ASGI application: Box API routes, admin routes and the validation around them."""

    def __init__(
        self,
        state: BoxState,
        client_id: str,
        client_secret: str,
        validator: BoxSpecValidator | None,
        jwt_public_keys: Mapping[str, str] | None = None,
        part_size: int = DEFAULT_PART_SIZE,
    ) -> None:
        self.state = state
        self.auth = BoxAuth(state, client_id, client_secret, jwt_public_keys)
        self.validator = validator
        self.part_size = part_size
        #: Where clients reach this server; set once the socket is bound.
        self.base_url = ""
        box = self._box_route
        self.asgi = Starlette(
            routes=[
                Route("/oauth2/token", box(self.token, auth=False), methods=["POST"]),
                Route("/2.0/folders", box(self.create_folder), methods=["POST"]),
                Route("/2.0/folders/{folder_id}", box(self.get_folder), methods=["GET"]),
                Route("/2.0/folders/{folder_id}/items", box(self.list_items), methods=["GET"]),
                Route("/2.0/files/{file_id}", box(self.get_file), methods=["GET"]),
                Route("/api/2.0/files/content", box(self.upload_file), methods=["POST"]),
                Route("/api/2.0/files/upload_sessions", box(self.create_session), methods=["POST"]),
                Route(
                    "/api/2.0/files/upload_sessions/{session_id}",
                    box(self.session_endpoint),
                    methods=["GET", "PUT", "DELETE"],
                ),
                Route(
                    "/api/2.0/files/upload_sessions/{session_id}/parts",
                    box(self.list_parts),
                    methods=["GET"],
                ),
                Route(
                    "/api/2.0/files/upload_sessions/{session_id}/commit",
                    box(self.commit_session),
                    methods=["POST"],
                ),
                Route("/api/2.0/files/{file_id}/content", box(self.upload_version), methods=["POST"]),
                Route(
                    "/api/2.0/files/{file_id}/upload_sessions",
                    box(self.create_version_session),
                    methods=["POST"],
                ),
                Route("/__admin/faults", self.admin_faults, methods=["GET", "POST", "DELETE"]),
                Route("/__admin/violations", self.admin_violations, methods=["GET", "DELETE"]),
                Route("/__admin/requests", self.admin_requests, methods=["GET", "DELETE"]),
                Route("/__admin/tree", self.admin_tree, methods=["GET"]),
                Route("/__admin/reset", self.admin_reset, methods=["POST"]),
                Route("/__admin/expire_tokens", self.admin_expire_tokens, methods=["POST"]),
                Route(
                    "/{path:path}",
                    box(self.unknown, auth=False),
                    methods=["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"],
                ),
            ]
        )

    # -- the wrapper every Box route goes through --

    def _box_route(self, handler: Handler, auth: bool = True) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            ctx = RequestContext(request)
            ctx.fault = self.state.faults.take(request.method, request.url.path)
            try:
                if ctx.fault is not None and ctx.fault.status is not None:
                    await ctx.drain()
                    reply = self._fault_reply(ctx.fault)
                else:
                    if auth:
                        self.auth.check_bearer(request.headers.get("authorization", ""))
                    reply = await handler(ctx)
            except BoxError as exc:
                await ctx.drain()
                reply = Reply(exc.status, client_error_body(exc, ctx.request_id), exc.headers)
            except OAuthError as exc:
                await ctx.drain()
                reply = Reply(exc.status, oauth_error_body(exc))
            except Exception:
                log.exception("Box server failed on %s %s", request.method, request.url.path)
                await ctx.drain()
                error = BoxError(500, "internal_server_error", "Internal Server Error")
                reply = Reply(500, client_error_body(error, ctx.request_id))
            reply.headers.setdefault("box-request-id", ctx.request_id)
            data = json.dumps(reply.body).encode() if reply.body is not None else b""
            headers = dict(reply.headers)
            media_type = "application/json" if reply.body is not None else None
            if self.validator is not None:
                self._validate(ctx, reply.status, data, headers, media_type or "")
            with self.state.lock:
                self.state.requests.append(
                    {
                        "request_id": ctx.request_id,
                        "method": request.method,
                        "path": request.url.path,
                        "status": reply.status,
                        "fault": ctx.fault.id if ctx.fault is not None else None,
                    }
                )
            return Response(data, status_code=reply.status, headers=headers, media_type=media_type)

        return endpoint

    def _fault_reply(self, fault: BoxFault) -> Reply:
        status = fault.status or 500
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if status < 400:
            return Reply(status, None, headers)
        error = BoxError(
            status,
            fault.code or DEFAULT_FAULT_CODES.get(status, "internal_server_error"),
            fault.message or f"Injected fault {fault.id}",
        )
        return Reply(status, client_error_body(error, uuid.uuid4().hex[:16]), headers)

    def _validate(
        self, ctx: RequestContext, status: int, data: bytes, headers: dict[str, str], content_type: str
    ) -> None:
        assert self.validator is not None
        request = ctx.request
        openapi_request = self.validator.to_openapi_request(
            request.method,
            request.url.path,
            request.query_params.multi_items(),
            request.headers.items(),
            ctx.validation_body,
            ctx.validation_content_type,
        )
        response = OpenApiResponse(status, data, werkzeug_headers(headers), content_type)
        problems = [
            ("request", p)
            for p in self.validator.request_errors(openapi_request, ctx.validation_body is not None)
        ]
        if not any(p.startswith("PathNotFound") for _, p in problems):
            problems += [("response", p) for p in self.validator.response_errors(openapi_request, response)]
        if problems:
            with self.state.lock:
                for phase, problem in problems:
                    log.warning(
                        "Box API %s violation on %s %s: %s", phase, request.method, request.url.path, problem
                    )
                    self.state.violations.append(
                        {
                            "request_id": ctx.request_id,
                            "method": request.method,
                            "path": request.url.path,
                            "status": status,
                            "phase": phase,
                            "error": problem,
                        }
                    )

    # -- OAuth --

    async def token(self, ctx: RequestContext) -> Reply:
        raw = await ctx.small_body()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8", "replace")).items()}
        return Reply(200, self.auth.grant(form))

    # -- folders and files --

    async def get_folder(self, ctx: RequestContext) -> Reply:
        with self.state.lock:
            folder = self.state.folder(ctx.request.path_params["folder_id"])
            return Reply(
                200, select_fields(folder_full(self.state, folder), folder_mini(folder), ctx.fields())
            )

    async def list_items(self, ctx: RequestContext) -> Reply:
        params = ctx.request.query_params
        limit = int_param(params.get("limit"), 100, "limit")
        if not 1 <= limit <= 1000:
            raise BoxError(400, "bad_request", "limit must be between 1 and 1000")
        use_marker = params.get("usemarker", "").lower() == "true"
        if use_marker:
            offset = _decode_marker(params.get("marker"))
        else:
            offset = int_param(params.get("offset"), 0, "offset")
        if offset < 0:
            raise BoxError(400, "bad_request", "offset must not be negative")
        fields = ctx.fields()
        with self.state.lock:
            folder = self.state.folder(ctx.request.path_params["folder_id"])
            items = sorted_children(
                self.state.children(folder.id), params.get("sort"), params.get("direction")
            )
            page = items[offset : offset + limit]
            entries = []
            for item in page:
                if isinstance(item, FileRecord):
                    full, mini = file_full(self.state, item), file_mini(item)
                else:
                    full, mini = folder_full(self.state, item), folder_mini(item)
                entries.append(mini if fields is None else select_fields(full, mini, fields))
        order = [
            {"by": params.get("sort") or "name", "direction": (params.get("direction") or "ASC").upper()}
        ]
        if use_marker:
            next_offset = offset + limit
            next_marker = _encode_marker(next_offset) if next_offset < len(items) else None
            return Reply(
                200, {"limit": limit, "next_marker": next_marker, "entries": entries, "order": order}
            )
        body = {
            "total_count": len(items),
            "limit": limit,
            "offset": offset,
            "entries": entries,
            "order": order,
        }
        return Reply(200, body)

    async def create_folder(self, ctx: RequestContext) -> Reply:
        body = await ctx.json_body()
        parent = body.get("parent")
        if not isinstance(parent, dict) or not isinstance(parent.get("id"), str):
            raise BoxError(400, "bad_request", "parent.id is required")
        name = check_name(body.get("name"))
        folder = self.state.create_folder(parent["id"], name)
        with self.state.lock:
            full = folder_full(self.state, folder)
        return Reply(201, select_fields(full, folder_mini(folder), ctx.fields()))

    async def get_file(self, ctx: RequestContext) -> Reply:
        with self.state.lock:
            record = self.state.file(ctx.request.path_params["file_id"])
            return Reply(200, select_fields(file_full(self.state, record), file_mini(record), ctx.fields()))

    # -- direct uploads --

    async def _receive_multipart(self, ctx: RequestContext) -> tuple[MultipartUpload, dict[str, Any]]:
        """Stream a multipart upload to a temporary file and check it as Box does."""
        upload = MultipartUpload(ctx.request.headers.get("content-type", ""), self.state.incoming_path())
        try:
            async for chunk in ctx.chunks():
                upload.feed(chunk)
        finally:
            upload.close()
        ctx.validation_body, ctx.validation_content_type = upload.validation_body()
        try:
            if upload.error is not None:
                raise upload.error
            if upload.attributes_raw is None or not upload.file_seen:
                raise BoxError(400, "bad_request", "Both the attributes and the file parts are required")
            try:
                attributes = json.loads(upload.attributes_raw)
            except ValueError as exc:
                raise BoxError(400, "bad_request", f"attributes is not valid JSON: {exc}") from exc
            if not isinstance(attributes, dict):
                raise BoxError(400, "bad_request", "attributes must be a JSON object")
            expected = ctx.request.headers.get("content-md5")
            actual = upload.sha1.hexdigest()
            if expected is not None and expected.strip().lower() != actual:
                raise BoxError(400, "bad_digest", "The specified content-md5 did not match what we received")
        except BoxError:
            upload.target.unlink(missing_ok=True)
            raise
        return upload, attributes

    async def _maybe_corrupt(self, ctx: RequestContext, sha1: str, size: int, blob: Path) -> tuple[str, int]:
        if ctx.corrupt:
            log.warning("Fault: damaging the bytes stored for this upload (%s)", ctx.request.url.path)
            return await anyio.to_thread.run_sync(corrupt_blob, blob)
        return sha1, size

    async def upload_file(self, ctx: RequestContext) -> Reply:
        upload, attributes = await self._receive_multipart(ctx)
        try:
            parent = attributes.get("parent")
            if not isinstance(parent, dict) or not isinstance(parent.get("id"), str):
                raise BoxError(400, "bad_request", "attributes.parent.id is required")
            name = check_name(attributes.get("name"))
            with self.state.lock:
                self.state.folder(parent["id"])
                existing = self.state.find_by_name(parent["id"], name)
                if existing is not None:
                    raise self.state.conflict(existing)
            sha1, size = await self._maybe_corrupt(ctx, upload.sha1.hexdigest(), upload.size, upload.target)
            record = self.state.add_file(parent["id"], name, upload.target, size, sha1)
        finally:
            upload.target.unlink(missing_ok=True)
        log.info("Stored file %s (%s bytes) in folder %s", record.id, record.current.size, record.parent_id)
        return self._files_reply(201, record, ctx)

    async def upload_version(self, ctx: RequestContext) -> Reply:
        file_id = ctx.request.path_params["file_id"]
        with self.state.lock:
            self.state.file(file_id)
        upload, attributes = await self._receive_multipart(ctx)
        try:
            new_name = attributes.get("name")
            if new_name is not None:
                check_name(new_name)
            with self.state.lock:
                record = self.state.file(file_id)
                if_match = ctx.request.headers.get("if-match")
                if if_match is not None and if_match != record.etag:
                    raise BoxError(412, "precondition_failed", "The resource has been modified")
            sha1, size = await self._maybe_corrupt(ctx, upload.sha1.hexdigest(), upload.size, upload.target)
            record = self.state.add_version(file_id, upload.target, size, sha1, new_name)
        finally:
            upload.target.unlink(missing_ok=True)
        return self._files_reply(200, record, ctx)

    def _files_reply(self, status: int, record: FileRecord, ctx: RequestContext) -> Reply:
        with self.state.lock:
            entry = select_fields(file_full(self.state, record), file_mini(record), ctx.fields())
        return Reply(status, {"total_count": 1, "entries": [entry]})

    # -- chunked uploads --

    async def create_session(self, ctx: RequestContext) -> Reply:
        body = await ctx.json_body()
        folder_id = body.get("folder_id")
        if not isinstance(folder_id, str):
            raise BoxError(400, "bad_request", "folder_id is required")
        name = check_name(body.get("file_name"))
        with self.state.lock:
            self.state.folder(folder_id)
            existing = self.state.find_by_name(folder_id, name)
            if existing is not None:
                raise self.state.conflict(existing)
        session = open_session(self.state, folder_id, None, name, body.get("file_size"), self.part_size)
        return Reply(201, session_view(session, self.base_url))

    async def create_version_session(self, ctx: RequestContext) -> Reply:
        body = await ctx.json_body()
        with self.state.lock:
            record = self.state.file(ctx.request.path_params["file_id"])
            name = record.name
            if body.get("file_name") is not None:
                name = check_name(body["file_name"])
                existing = self.state.find_by_name(record.parent_id, name)
                if existing is not None and existing is not record:
                    raise self.state.conflict(existing)
        session = open_session(
            self.state, record.parent_id, record.id, name, body.get("file_size"), self.part_size
        )
        return Reply(201, session_view(session, self.base_url))

    async def session_endpoint(self, ctx: RequestContext) -> Reply:
        method = ctx.request.method
        if method == "PUT":
            return await self.upload_part(ctx)
        with self.state.lock:
            session = self.state.session(ctx.request.path_params["session_id"])
            if method == "GET":
                return Reply(200, session_view(session, self.base_url))
            del self.state.sessions[session.id]
        shutil.rmtree(session.directory, ignore_errors=True)
        return Reply(204)

    async def upload_part(self, ctx: RequestContext) -> Reply:
        session_id = ctx.request.path_params["session_id"]
        # The binary body is checked against the digest below; the validator sees the headers.
        ctx.validation_body = None
        with self.state.lock:
            session = self.state.session(session_id)
        start, end = check_range(session, ctx.request.headers.get("content-range", ""))
        expected = parse_digest(ctx.request.headers.get("digest", ""))
        temporary = session.directory / f"{start}.{uuid.uuid4().hex}.tmp"
        try:
            sha1, size = await stream_to_file(ctx.chunks(), temporary)
            if size != end - start + 1:
                raise BoxError(
                    400, "bad_request", f"Content-Range announces {end - start + 1} bytes but {size} arrived"
                )
            if sha1_hex_to_base64(sha1) != expected:
                raise BoxError(
                    400,
                    "digest_mismatch",
                    f"Part digest was incorrect. Actual: {sha1_hex_to_base64(sha1)} Expected: {expected}",
                )
            with self.state.lock:
                session = self.state.session(session_id)
                existing = session.parts.get(start)
                if existing is not None:
                    if existing.sha1 == sha1 and existing.size == size:
                        return Reply(200, {"part": part_view(existing)})
                    raise BoxError(409, "conflict", "A different part was already uploaded at this offset")
                final = session.directory / f"{start}.part"
                os.replace(temporary, final)
                part = PartRecord(secrets.token_hex(4).upper(), start, size, sha1, final)
                session.parts[start] = part
        finally:
            temporary.unlink(missing_ok=True)
        return Reply(200, {"part": part_view(part)})

    async def list_parts(self, ctx: RequestContext) -> Reply:
        params = ctx.request.query_params
        offset = int_param(params.get("offset"), 0, "offset")
        limit = int_param(params.get("limit"), 1000, "limit")
        with self.state.lock:
            session = self.state.session(ctx.request.path_params["session_id"])
            parts = [part_view(session.parts[k]) for k in sorted(session.parts)]
        return Reply(
            200,
            {
                "total_count": len(parts),
                "offset": offset,
                "limit": limit,
                "order": [{"by": "offset", "direction": "ASC"}],
                "entries": parts[offset : offset + limit],
            },
        )

    async def commit_session(self, ctx: RequestContext) -> Reply:
        session_id = ctx.request.path_params["session_id"]
        body = await ctx.json_body()
        expected = parse_digest(ctx.request.headers.get("digest", ""))
        with self.state.lock:
            session = self.state.session(session_id)
            if session.committed_file_id is not None:
                # A retried commit whose first answer was lost: answer it the same way.
                return self._files_reply(201, self.state.file(session.committed_file_id), ctx)
            parts = [session.parts[k] for k in sorted(session.parts)]
        check_commit_parts(session, parts, body.get("parts"))
        assembled = self.state.incoming_path()
        try:
            sha1, size = await anyio.to_thread.run_sync(concatenate, [p.path for p in parts], assembled)
            if sha1_hex_to_base64(sha1) != expected:
                raise BoxError(
                    400,
                    "digest_mismatch",
                    f"File digest was incorrect. Actual: {sha1_hex_to_base64(sha1)} Expected: {expected}",
                )
            sha1, size = await self._maybe_corrupt(ctx, sha1, size, assembled)
            if session.file_id is None:
                record = self.state.add_file(session.folder_id, session.file_name, assembled, size, sha1)
            else:
                record = self.state.add_version(session.file_id, assembled, size, sha1, session.file_name)
        finally:
            assembled.unlink(missing_ok=True)
        with self.state.lock:
            session.committed_file_id = record.id
            for part in parts:
                part.path.unlink(missing_ok=True)
        log.info("Committed session %s into file %s (%s bytes)", session.id, record.id, size)
        return self._files_reply(201, record, ctx)

    async def unknown(self, ctx: RequestContext) -> Reply:
        raise BoxError(404, "not_found", f"Not Found: {ctx.request.method} {ctx.request.url.path}")

    # -- admin (not Box API) --

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "GET":
            return _json(self.state.faults.describe())
        if request.method == "DELETE":
            self.state.faults.clear()
            return _json({"cleared": True})
        try:
            spec = await request.json()
            fault = parse_fault(spec, self.state.new_id())
        except (ValueError, TypeError, re.error) as exc:
            return _json({"error": str(exc)}, 400)
        self.state.faults.add(fault)
        return _json(fault.describe(), 201)

    async def admin_violations(self, request: Request) -> Response:
        with self.state.lock:
            if request.method == "DELETE":
                self.state.violations.clear()
            return _json(list(self.state.violations))

    async def admin_requests(self, request: Request) -> Response:
        with self.state.lock:
            if request.method == "DELETE":
                self.state.requests.clear()
            return _json(list(self.state.requests))

    async def admin_tree(self, request: Request) -> Response:
        verify = request.query_params.get("verify", "").lower() in {"1", "true", "yes"}
        return _json(await anyio.to_thread.run_sync(self.state.tree, verify))

    async def admin_reset(self, request: Request) -> Response:
        await anyio.to_thread.run_sync(self.state.reset)
        return _json({"reset": True})

    async def admin_expire_tokens(self, request: Request) -> Response:
        with self.state.lock:
            count = len(self.state.tokens)
            self.state.tokens.clear()
        return _json({"expired": count})


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def _encode_marker(offset: int) -> str:
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def _decode_marker(marker: str | None) -> int:
    if not marker:
        return 0
    try:
        text = base64.urlsafe_b64decode(marker + "=" * (-len(marker) % 4)).decode()
        return int(text.removeprefix("offset:"))
    except ValueError as exc:
        raise BoxError(400, "bad_request", "marker is not valid") from exc


# --- running it --------------------------------------------------------------------------


class BoxServerHandle:
    """A running server: its URLs, its state, and :meth:`stop`.

    Point ``box_sdk_gen`` at it with ``BaseUrls(base_url=handle.sdk_base_url,
    upload_url=handle.sdk_upload_url, oauth_2_url=handle.sdk_oauth2_url)``.
    """

    def __init__(self, app: BoxApp, server: uvicorn.Server, thread: threading.Thread, port: int, host: str):
        self.app = app
        self.state = app.state
        self.port = port
        self.base_url = f"http://{host}:{port}"
        #: The Box API root, as ``https://api.box.com/2.0`` is for Box.
        self.api_url = f"{self.base_url}/2.0"
        self.sdk_base_url = self.base_url
        self.sdk_upload_url = f"{self.base_url}/api"
        self.sdk_oauth2_url = f"{self.base_url}/oauth2"
        self._server = server
        self._thread = thread

    def add_fault(self, **spec: Any) -> dict[str, Any]:
        """Add a fault in-process; takes the same keys as ``POST /__admin/faults``."""
        fault = parse_fault(spec, self.state.new_id())
        self.state.faults.add(fault)
        return fault.describe()

    def violations(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.violations)

    def requests(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return list(self.state.requests)

    def tree(self, verify: bool = False) -> dict[str, Any]:
        return self.state.tree(verify)

    def reset(self) -> None:
        self.state.reset()

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            self._server.force_exit = True
            self._thread.join(timeout)

    def __enter__(self) -> BoxServerHandle:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_box_server(
    data_dir: Path | str,
    client_id: str,
    client_secret: str,
    host: str = "127.0.0.1",
    port: int = 0,
    validate: bool = False,
    *,
    jwt_public_keys: Mapping[str, str] | None = None,
    part_size: int = DEFAULT_PART_SIZE,
    spec_path: Path | None = None,
    startup_timeout: float = 15.0,
) -> BoxServerHandle:
    """Start the server in a background thread and return once it accepts connections.

    :param data_dir: Where file bytes go; the server owns its ``blobs``, ``incoming`` and
        ``sessions`` sub-folders and empties them at start.
    :param client_id: The only client id the token endpoint accepts.
    :param client_secret: Its secret.
    :param port: 0 picks a free port; read it back from ``handle.port``.
    :param validate: Check every Box API request and response against the OpenAPI document.
    :param jwt_public_keys: Public keys (PEM) by key id, for the JWT grant.
    :param part_size: Part size of upload sessions (grown for files of over 10,000 parts).
    :param spec_path: The OpenAPI document; defaults to :func:`default_spec_path`.
    """
    data_path = Path(data_dir)
    data_path.mkdir(parents=True, exist_ok=True)
    validator = load_validator(spec_path) if validate else None
    app = BoxApp(
        BoxState(data_path), client_id, client_secret, validator, jwt_public_keys, part_size=part_size
    )

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    bound_port = sock.getsockname()[1]
    app.base_url = f"http://{host}:{bound_port}"

    config = uvicorn.Config(
        app.asgi, log_level="warning", access_log=False, lifespan="off", timeout_graceful_shutdown=5
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"box-server-{bound_port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"The local Box server did not start on {host}:{bound_port}")
        time.sleep(0.02)
    log.info("Local Box server listening on %s (validate=%s)", app.base_url, validate)
    return BoxServerHandle(app, server, thread, bound_port, host)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--data-dir", required=True, type=Path, help="where file bytes are kept")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--client-secret", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the port chosen here once listening")
    parser.add_argument("--validate", action="store_true", help="validate against box-openapi.json")
    parser.add_argument(
        "--jwt-public-key",
        action="append",
        default=[],
        metavar="KEY_ID=PEM_FILE",
        help="accept JWT assertions signed by this key (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    keys = {}
    for item in args.jwt_public_key:
        key_id, _, pem_file = item.partition("=")
        keys[key_id] = Path(pem_file).read_text(encoding="utf-8")

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    handle = start_box_server(
        args.data_dir,
        args.client_id,
        args.client_secret,
        host=args.host,
        port=args.port,
        validate=args.validate,
        jwt_public_keys=keys,
    )
    if args.port_file:
        partial = args.port_file.with_name(args.port_file.name + ".tmp")
        partial.write_text(f"{handle.port}\n", encoding="utf-8")
        partial.replace(args.port_file)
    print(f"Box server listening on {handle.base_url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        handle.stop()
        if args.port_file:
            args.port_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "CODES_MISSING_FROM_SPEC_ENUM",
    "MIN_CHUNKED_UPLOAD_SIZE",
    "ROOT_FOLDER_ID",
    "BoxServerHandle",
    "BoxSpecValidator",
    "default_spec_path",
    "load_validator",
    "start_box_server",
]
