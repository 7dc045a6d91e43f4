"""A local Box-compatible HTTP server for the demo and the tests.

It answers the part of the Box API that the hand-off uses, as ``box-openapi.json`` describes
it, so that :class:`campaign_handoff.box_hook.BoxHook` runs against the real ``box_sdk_gen``
client over HTTP without a Box account:

* ``POST /oauth2/token``: client credentials grant (``box_subject_type``/``box_subject_id``)
  and the JWT bearer grant, whose assertion must be signed by a key configured at start.
* ``GET /2.0/folders/{id}``, ``GET /2.0/folders/{id}/items``, ``POST /2.0/folders``,
  ``GET /2.0/files/{id}``: folder "0" is the root and always exists.
* The upload server under ``/api``: direct uploads (``POST /api/2.0/files/content`` and
  ``POST /api/2.0/files/{id}/content``, honouring ``content-md5``) and chunked upload
  sessions (create, upload part, get, list parts, commit, abort).

Errors use Box's ClientError shape. Names are unique per folder, case-insensitively, across
files and folders, as on Box. State lives in memory; file bytes live on disk in the data
directory, and request bodies are streamed there with their SHA-1 computed on the way, so
no file is ever held in memory whole.

With ``validate=True`` every Box API request and response is checked against the OpenAPI
document with openapi-core, and every mismatch is recorded as a violation (the request is
still served, so a test sees both the behaviour and the violation). Local URLs are mapped
to the hosts the document declares: ``/api/...`` to ``https://upload.box.com``, everything
else to ``https://api.box.com``. What is validated:

* parameters (path, query, headers) of every request, and JSON and form bodies in full;
* multipart uploads: the ``attributes`` part in full; the ``file`` part is replaced by an
  empty placeholder, since its bytes went to disk (its size and SHA-1 are checked by the
  server itself against ``content-md5``);
* chunk uploads: the ``digest`` and ``content-range`` headers; the binary body is checked
  by the server against the digest, not by the validator;
* every response: status, headers and JSON body.

Security requirements are not checked by the validator (openapi-core does not support
Box's OAuth 2 scheme); the server enforces bearer tokens itself.

Known gap in the document, bridged on purpose: ``ClientError.code`` is an enum that omits
codes which real Box returns and which the document names in its own response
descriptions (``item_name_in_use`` on a 409, for instance). The validator widens that enum
by exactly the codes in :data:`CODES_MISSING_FROM_SPEC_ENUM`; everything else is strict.

The ``/__admin`` endpoints are not Box API and are never validated:

* ``POST /__admin/faults`` with ``{"method": "POST", "path_regex": "...", "status": 429,
  "times": 1, "retry_after": 0}``: answer the next ``times`` matching requests with that
  status (``times: null`` means until cleared). ``"corrupt_sha1": true`` instead lets the
  matching upload succeed and then damages the stored bytes, so Box reports a SHA-1 that
  differs from what was sent. ``GET`` lists the faults, ``DELETE`` clears them.
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
import contextlib
import hashlib
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
import warnings
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.to_thread
import uvicorn
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

log = logging.getLogger(__name__)

ROOT_FOLDER_ID = "0"
ROOT_FOLDER_NAME = "All Files"
#: Box refuses upload sessions for files smaller than this (``file_size_too_small``).
MIN_CHUNKED_UPLOAD_SIZE = 20_000_000
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: Box caps a session at 10,000 parts; bigger files get bigger parts.
MAX_PARTS = 10_000
MAX_NAME_LENGTH = 255
TOKEN_LIFETIME_SECONDS = 3600
JWT_AUDIENCE = "https://api.box.com/oauth2/token"
JWT_ALGORITHMS = ["RS256", "RS384", "RS512"]
HELP_URL = "https://developer.box.com/guides/api-calls/permissions-and-errors/common-errors/"
#: The largest JSON, form or multipart ``attributes`` body the server reads into memory.
MAX_SMALL_BODY = 1024 * 1024
REQUEST_LOG_SIZE = 10_000

#: Error codes real Box returns that ``ClientError.code`` in the OpenAPI document omits,
#: with where each is documented. The validator accepts these and no others.
CODES_MISSING_FROM_SPEC_ENUM: dict[str, str] = {
    "item_name_in_use": "409 descriptions of POST /folders and other folder operations",
    "item_name_too_long": "400 descriptions of POST /folders and POST /files/content",
    "file_size_too_small": "400 description of POST /files/upload_sessions",
    "metadata_after_file_contents": "description of the multipart body of POST /files/content",
    "bad_digest": "Box's common errors guide: content-md5 mismatch on upload",
    "digest_mismatch": "what Box answers when a chunked upload's digest does not match",
}

_SERVICE_USER = {
    "type": "user",
    "id": "30000001",
    "name": "Local Box Service Account",
    "login": "automation@boxdevedition.example.com",
}


def default_spec_path() -> Path:
    """Return where the Box OpenAPI document is: ``$BOX_OPENAPI_SPEC`` or the shared copy.

    The shared copy sits beside the repository (``<repo>/../shared/specs``), where every
    machine of this project has it.
    """
    from_env = os.environ.get("BOX_OPENAPI_SPEC")
    if from_env:
        return Path(from_env)
    return Path(__file__).resolve().parents[1].parent / "shared" / "specs" / "box-openapi.json"


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _sha1_hex_to_base64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


# --- errors ------------------------------------------------------------------------------


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


def _not_found(kind: str, item_id: str) -> BoxError:
    return BoxError(404, "not_found", f"Not Found: no {kind} with id {item_id!r}")


def _check_name(name: Any) -> str:
    """Apply Box's naming rules to a file or folder name, raising the error Box raises."""
    if not isinstance(name, str) or not name:
        raise BoxError(400, "bad_request", "A non-empty name is required")
    if len(name) > MAX_NAME_LENGTH:
        raise BoxError(400, "item_name_too_long", f"Item name is longer than {MAX_NAME_LENGTH} characters")
    invalid = (
        name in {".", ".."}
        or "/" in name
        or "\\" in name
        or name != name.rstrip(" ")
        or any(ord(ch) < 32 or ord(ch) == 127 for ch in name)
    )
    if invalid:
        raise BoxError(400, "item_name_invalid", "Item name is invalid")
    return name


# --- state -------------------------------------------------------------------------------


@dataclass
class FolderRecord:
    id: str
    name: str
    parent_id: str | None
    created_at: datetime | None
    modified_at: datetime | None
    etag: str = "0"


@dataclass
class FileVersionRecord:
    id: str
    sha1: str
    size: int


@dataclass
class FileRecord:
    id: str
    name: str
    parent_id: str
    created_at: datetime
    modified_at: datetime
    versions: list[FileVersionRecord]
    etag: str = "0"

    @property
    def current(self) -> FileVersionRecord:
        return self.versions[-1]


@dataclass
class PartRecord:
    part_id: str
    offset: int
    size: int
    sha1: str
    path: Path


@dataclass
class SessionRecord:
    id: str
    folder_id: str
    file_id: str | None
    file_name: str
    file_size: int
    part_size: int
    total_parts: int
    expires_at: datetime
    directory: Path
    parts: dict[int, PartRecord] = field(default_factory=dict)
    committed_file_id: str | None = None


@dataclass
class Fault:
    id: str
    method: str | None
    path_regex: re.Pattern[str]
    status: int | None
    times: int | None
    retry_after: int | None
    code: str | None
    message: str | None
    corrupt_sha1: bool

    def describe(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path_regex": self.path_regex.pattern,
            "status": self.status,
            "times": self.times,
            "retry_after": self.retry_after,
            "code": self.code,
            "message": self.message,
            "corrupt_sha1": self.corrupt_sha1,
        }


_DEFAULT_FAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    429: "too_many_requests",
    500: "internal_server_error",
    503: "unavailable",
}


class BoxState:
    """Folders, files, upload sessions, tokens, faults and violations, behind one lock."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.blobs_dir = data_dir / "blobs"
        self.incoming_dir = data_dir / "incoming"
        self.sessions_dir = data_dir / "sessions"
        self.lock = threading.RLock()
        self.folders: dict[str, FolderRecord] = {}
        self.files: dict[str, FileRecord] = {}
        self.sessions: dict[str, SessionRecord] = {}
        self.tokens: dict[str, float] = {}
        self.faults: list[Fault] = []
        self.violations: list[dict[str, Any]] = []
        self.requests: deque[dict[str, Any]] = deque(maxlen=REQUEST_LOG_SIZE)
        self._next_id = 100_000_000_000
        self.reset()

    def reset(self) -> None:
        """Forget everything and empty the server's own folders in the data directory."""
        with self.lock:
            for directory in (self.blobs_dir, self.incoming_dir, self.sessions_dir):
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir(parents=True, exist_ok=True)
            self.folders = {ROOT_FOLDER_ID: FolderRecord(ROOT_FOLDER_ID, ROOT_FOLDER_NAME, None, None, None)}
            self.files = {}
            self.sessions = {}
            self.tokens = {}
            self.faults = []
            self.violations = []
            self.requests.clear()

    def new_id(self) -> str:
        with self.lock:
            self._next_id += 1
            return str(self._next_id)

    def blob_path(self, version_id: str) -> Path:
        return self.blobs_dir / f"{version_id}.bin"

    def incoming_path(self) -> Path:
        return self.incoming_dir / uuid.uuid4().hex

    # -- lookups --

    def folder(self, folder_id: str) -> FolderRecord:
        found = self.folders.get(folder_id)
        if found is None:
            raise _not_found("folder", folder_id)
        return found

    def file(self, file_id: str) -> FileRecord:
        found = self.files.get(file_id)
        if found is None:
            raise _not_found("file", file_id)
        return found

    def session(self, session_id: str) -> SessionRecord:
        found = self.sessions.get(session_id)
        if found is None:
            raise BoxError(404, "not_found", f"Not Found: no upload session with id {session_id!r}")
        return found

    def children(self, folder_id: str) -> list[FolderRecord | FileRecord]:
        folders: list[FolderRecord | FileRecord] = [
            f for f in self.folders.values() if f.parent_id == folder_id
        ]
        files = [f for f in self.files.values() if f.parent_id == folder_id]
        return folders + files

    def find_by_name(self, folder_id: str, name: str) -> FolderRecord | FileRecord | None:
        wanted = name.casefold()
        for item in self.children(folder_id):
            if item.name.casefold() == wanted:
                return item
        return None

    def path_of(self, folder_id: str | None) -> list[FolderRecord]:
        """Return the folders from the root down to ``folder_id``, both included."""
        chain: list[FolderRecord] = []
        while folder_id is not None:
            folder = self.folders[folder_id]
            chain.append(folder)
            folder_id = folder.parent_id
        return list(reversed(chain))

    def folder_size(self, folder_id: str) -> int:
        total = sum(f.current.size for f in self.files.values() if f.parent_id == folder_id)
        for sub in [f for f in self.folders.values() if f.parent_id == folder_id]:
            total += self.folder_size(sub.id)
        return total

    # -- changes --

    def conflict(self, item: FolderRecord | FileRecord) -> BoxError:
        return BoxError(
            409,
            "item_name_in_use",
            "Item with the same name already exists",
            context_info={"conflicts": [conflict_view(item)]},
        )

    def create_folder(self, parent_id: str, name: str) -> FolderRecord:
        with self.lock:
            self.folder(parent_id)
            existing = self.find_by_name(parent_id, name)
            if existing is not None:
                raise self.conflict(existing)
            now = _now()
            folder = FolderRecord(self.new_id(), name, parent_id, now, now)
            self.folders[folder.id] = folder
            return folder

    def add_file(self, parent_id: str, name: str, blob: Path, size: int, sha1: str) -> FileRecord:
        """Create a file from an uploaded blob, moved into the store; conflicts raise 409."""
        with self.lock:
            self.folder(parent_id)
            existing = self.find_by_name(parent_id, name)
            if existing is not None:
                raise self.conflict(existing)
            version = FileVersionRecord(self.new_id(), sha1, size)
            os.replace(blob, self.blob_path(version.id))
            now = _now()
            record = FileRecord(self.new_id(), name, parent_id, now, now, [version])
            self.files[record.id] = record
            return record

    def add_version(
        self, file_id: str, blob: Path, size: int, sha1: str, new_name: str | None = None
    ) -> FileRecord:
        """Make an uploaded blob the current version of a file (old bytes are dropped)."""
        with self.lock:
            record = self.file(file_id)
            if new_name is not None and new_name != record.name:
                existing = self.find_by_name(record.parent_id, new_name)
                if existing is not None and existing is not record:
                    raise self.conflict(existing)
                record.name = new_name
            previous = record.current
            version = FileVersionRecord(self.new_id(), sha1, size)
            os.replace(blob, self.blob_path(version.id))
            self.blob_path(previous.id).unlink(missing_ok=True)
            record.versions.append(version)
            record.modified_at = _now()
            record.etag = str(int(record.etag) + 1)
            return record

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if fault.method and fault.method.upper() != method.upper():
                    continue
                if not fault.path_regex.search(path):
                    continue
                if fault.times is not None:
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                return fault
            return None

    def tree(self, verify: bool = False) -> dict[str, Any]:
        with self.lock:

            def folder_path(folder_id: str) -> str:
                names = [f.name for f in self.path_of(folder_id)[1:]]
                return "/" + "/".join(names)

            folders = [{"id": f.id, "path": folder_path(f.id), "name": f.name} for f in self.folders.values()]
            files = []
            for record in self.files.values():
                parent_path = folder_path(record.parent_id)
                entry: dict[str, Any] = {
                    "id": record.id,
                    "folder_id": record.parent_id,
                    "path": parent_path.rstrip("/") + "/" + record.name,
                    "name": record.name,
                    "size": record.current.size,
                    "sha1": record.current.sha1,
                    "version_count": len(record.versions),
                }
                if verify:
                    entry["disk_sha1"], entry["disk_size"] = _hash_file(self.blob_path(record.current.id))
                files.append(entry)
        return {
            "folders": sorted(folders, key=lambda f: f["path"]),
            "files": sorted(files, key=lambda f: f["path"]),
        }


def _hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha1()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _corrupt_blob(path: Path) -> tuple[str, int]:
    """Flip the first byte of a stored blob (as storage corruption would) and rehash it."""
    with path.open("r+b") as handle:
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([(first[0] if first else 0) ^ 0xFF]))
    return _hash_file(path)


# --- representations ---------------------------------------------------------------------


def user_view() -> dict[str, Any]:
    return dict(_SERVICE_USER)


def folder_mini(folder: FolderRecord) -> dict[str, Any]:
    return {
        "type": "folder",
        "id": folder.id,
        "sequence_id": folder.etag,
        "etag": folder.etag,
        "name": folder.name,
    }


def file_mini(record: FileRecord) -> dict[str, Any]:
    return {
        "type": "file",
        "id": record.id,
        "sequence_id": record.etag,
        "etag": record.etag,
        "name": record.name,
        "sha1": record.current.sha1,
        "file_version": {"type": "file_version", "id": record.current.id, "sha1": record.current.sha1},
    }


def conflict_view(item: FolderRecord | FileRecord) -> dict[str, Any]:
    return file_mini(item) if isinstance(item, FileRecord) else folder_mini(item)


def _path_collection(state: BoxState, parent_id: str | None) -> dict[str, Any]:
    chain = state.path_of(parent_id) if parent_id is not None else []
    return {"total_count": len(chain), "entries": [folder_mini(f) for f in chain]}


def file_full(state: BoxState, record: FileRecord) -> dict[str, Any]:
    parent = state.folders[record.parent_id]
    extension = record.name.rsplit(".", 1)[1] if "." in record.name.strip(".") else ""
    return {
        **file_mini(record),
        "description": "",
        "size": record.current.size,
        "path_collection": _path_collection(state, record.parent_id),
        "created_at": _iso(record.created_at),
        "modified_at": _iso(record.modified_at),
        "trashed_at": None,
        "purged_at": None,
        "content_created_at": _iso(record.created_at),
        "content_modified_at": _iso(record.modified_at),
        "created_by": user_view(),
        "modified_by": user_view(),
        "owned_by": user_view(),
        "parent": folder_mini(parent),
        "item_status": "active",
        "version_number": str(len(record.versions)),
        "comment_count": 0,
        "extension": extension,
        "is_package": False,
    }


def folder_full(state: BoxState, folder: FolderRecord) -> dict[str, Any]:
    entries = _sorted_children(state.children(folder.id), "name", "ASC")
    body: dict[str, Any] = {
        **folder_mini(folder),
        "created_at": _iso(folder.created_at),
        "modified_at": _iso(folder.modified_at),
        "description": "",
        "size": state.folder_size(folder.id),
        "path_collection": _path_collection(state, folder.parent_id),
        "created_by": user_view(),
        "modified_by": user_view(),
        "trashed_at": None,
        "purged_at": None,
        "content_created_at": _iso(folder.created_at),
        "content_modified_at": _iso(folder.modified_at),
        "owned_by": user_view(),
        "item_status": "active",
        "item_collection": {
            "total_count": len(entries),
            "entries": [_item_mini(e) for e in entries[:100]],
            "offset": 0,
            "limit": 100,
            "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
        },
    }
    if folder.parent_id is not None:
        body["parent"] = folder_mini(state.folders[folder.parent_id])
    return body


def _item_mini(item: FolderRecord | FileRecord) -> dict[str, Any]:
    return file_mini(item) if isinstance(item, FileRecord) else folder_mini(item)


def _select_fields(full: dict[str, Any], mini: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """Box's ``fields`` rule: the mini representation plus exactly the fields asked for."""
    if fields is None:
        return full
    chosen = dict(mini)
    for name in fields:
        if name in full:
            chosen[name] = full[name]
    return chosen


def _sorted_children(
    items: list[FolderRecord | FileRecord], sort: str | None, direction: str | None
) -> list[FolderRecord | FileRecord]:
    def key(item: FolderRecord | FileRecord) -> tuple[Any, ...]:
        type_rank = 0 if isinstance(item, FolderRecord) else 1
        if sort == "id":
            return (int(item.id),)
        if sort == "date":
            return (item.modified_at or datetime.min.replace(tzinfo=UTC), item.id)
        if sort == "size":
            size = item.current.size if isinstance(item, FileRecord) else 0
            return (size, item.id)
        return (type_rank, item.name.casefold(), item.id)

    return sorted(items, key=key, reverse=(direction or "ASC").upper() == "DESC")


def session_view(session: SessionRecord, base_url: str) -> dict[str, Any]:
    prefix = f"{base_url}/api/2.0/files/upload_sessions/{session.id}"
    return {
        "type": "upload_session",
        "id": session.id,
        "session_expires_at": _iso(session.expires_at),
        "part_size": session.part_size,
        "total_parts": session.total_parts,
        "num_parts_processed": len(session.parts),
        "session_endpoints": {
            "upload_part": prefix,
            "commit": f"{prefix}/commit",
            "abort": prefix,
            "list_parts": f"{prefix}/parts",
            "status": prefix,
            "log_event": f"{prefix}/log",
        },
    }


def part_view(part: PartRecord) -> dict[str, Any]:
    return {"part_id": part.part_id, "offset": part.offset, "size": part.size, "sha1": part.sha1}


# --- validation --------------------------------------------------------------------------


@dataclass
class _OpenApiRequest:
    """A request in the shape openapi-core reads (``openapi_core.protocols.Request``)."""

    host_url: str
    path: str
    method: str
    parameters: Any
    body: bytes | None
    content_type: str


@dataclass
class _OpenApiResponse:
    status_code: int
    data: bytes | None
    headers: Any
    content_type: str


class BoxSpecValidator:
    """Validate requests and responses against the Box OpenAPI document with openapi-core."""

    def __init__(self, spec_path: Path) -> None:
        from openapi_core import OpenAPI
        from openapi_core.validation.request.validators import (
            V30RequestBodyValidator,
            V30RequestParametersValidator,
        )
        from openapi_core.validation.response.validators import V30ResponseValidator

        document = json.loads(spec_path.read_text(encoding="utf-8"))
        self._widen_error_codes(document)
        api = OpenAPI.from_dict(document)
        self._parameters = V30RequestParametersValidator(api.spec)
        self._body = V30RequestBodyValidator(api.spec)
        self._response = V30ResponseValidator(api.spec)

    @staticmethod
    def _widen_error_codes(document: dict[str, Any]) -> None:
        code = document["components"]["schemas"]["ClientError"]["properties"]["code"]
        code["enum"] = [*code["enum"], *CODES_MISSING_FROM_SPEC_ENUM]

    @staticmethod
    def to_openapi_request(
        method: str,
        path: str,
        query: Iterable[tuple[str, str]],
        headers: Iterable[tuple[str, str]],
        body: bytes | None,
        content_type: str,
    ) -> _OpenApiRequest:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        host = "https://upload.box.com" if path.startswith("/api/") else "https://api.box.com"
        parameters = RequestParameters(
            query=ImmutableMultiDict(list(query)),
            header=Headers(list(headers)),
            cookie=ImmutableMultiDict(),
            path={},
        )
        return _OpenApiRequest(host, path, method.lower(), parameters, body, content_type.lower())

    def request_errors(self, request: _OpenApiRequest, with_body: bool) -> list[str]:
        errors = [_describe(e) for e in self._parameters.iter_errors(request)]
        if with_body and not errors:
            errors += [_describe(e) for e in self._body.iter_errors(request)]
        return errors

    def response_errors(self, request: _OpenApiRequest, response: _OpenApiResponse) -> list[str]:
        return [_describe(e) for e in self._response.iter_errors(request, response)]


def _describe(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    cause = error.__cause__
    if cause is not None and str(cause) not in text:
        text += f" ({type(cause).__name__}: {cause})"
    for sub in getattr(cause, "schema_errors", None) or getattr(error, "schema_errors", None) or []:
        text += f"; {getattr(sub, 'message', sub)}"
    return text


_VALIDATORS: dict[Path, BoxSpecValidator] = {}
_VALIDATORS_LOCK = threading.Lock()


def load_validator(spec_path: Path | None = None) -> BoxSpecValidator:
    """Return a validator for the document, loading it once per process (it takes ~1.5 s)."""
    path = (spec_path or default_spec_path()).resolve()
    with _VALIDATORS_LOCK:
        if path not in _VALIDATORS:
            if not path.is_file():
                raise FileNotFoundError(
                    f"Box OpenAPI document not found at {path}; set BOX_OPENAPI_SPEC to its path"
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _VALIDATORS[path] = BoxSpecValidator(path)
        return _VALIDATORS[path]


# --- request handling --------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)


class _Context:
    """One request being served: its id, body stream and what validation should see."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.request_id = uuid.uuid4().hex[:16]
        self.fault: Fault | None = None
        #: The body openapi-core validates; ``None`` skips body validation.
        self.validation_body: bytes | None = None
        self.validation_content_type = request.headers.get("content-type", "")
        self._stream: AsyncIterator[bytes] | None = None

    @property
    def corrupt(self) -> bool:
        return bool(self.fault and self.fault.corrupt_sha1)

    def chunks(self) -> AsyncIterator[bytes]:
        if self._stream is None:
            self._stream = self.request.stream().__aiter__()
        return self._stream

    async def drain(self) -> None:
        """Read what is left of the body, so the client can finish sending before we reply."""
        with contextlib.suppress(Exception):
            async for _ in self.chunks():
                pass

    async def small_body(self) -> bytes:
        data = bytearray()
        async for chunk in self.chunks():
            data += chunk
            if len(data) > MAX_SMALL_BODY:
                await self.drain()
                raise BoxError(400, "bad_request", f"Request body is larger than {MAX_SMALL_BODY} bytes")
        body = bytes(data)
        self.validation_body = body
        return body

    async def json_body(self) -> dict[str, Any]:
        raw = await self.small_body()
        try:
            parsed = json.loads(raw or b"{}")
        except ValueError as exc:
            raise BoxError(400, "bad_request", f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(parsed, dict):
            raise BoxError(400, "bad_request", "Request body must be a JSON object")
        return parsed

    def fields(self) -> list[str] | None:
        raw = self.request.query_params.get("fields")
        if raw is None:
            return None
        return [name.strip() for name in raw.split(",") if name.strip()]


async def _stream_to_file(chunks: AsyncIterator[bytes], target: Path) -> tuple[str, int]:
    digest = hashlib.sha1()
    size = 0
    with target.open("wb") as handle:
        async for chunk in chunks:
            handle.write(chunk)
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class _MultipartUpload:
    """Stream a Box multipart upload: ``attributes`` kept in memory, ``file`` sent to disk."""

    def __init__(self, content_type: str, target: Path) -> None:
        kind, options = parse_options_header(content_type)
        boundary = options.get(b"boundary")
        if kind != b"multipart/form-data" or not boundary:
            raise BoxError(400, "bad_request", "Expected a multipart/form-data body with a boundary")
        self.target = target
        self.attributes_raw: bytes | None = None
        self.file_seen = False
        self.file_name: str | None = None
        self.sha1 = hashlib.sha1()
        self.size = 0
        self.error: BoxError | None = None
        self._handle: Any = None
        self._part: str | None = None
        self._buffer = bytearray()
        self._header_field = bytearray()
        self._header_value = bytearray()
        self._headers: dict[str, bytes] = {}
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._on_part_begin,
                "on_header_field": self._on_header_field,
                "on_header_value": self._on_header_value,
                "on_header_end": self._on_header_end,
                "on_headers_finished": self._on_headers_finished,
                "on_part_data": self._on_part_data,
                "on_part_end": self._on_part_end,
            },
        )

    def _on_part_begin(self) -> None:
        self._headers = {}
        self._part = None
        self._buffer = bytearray()

    def _on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_field += data[start:end]

    def _on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _on_header_end(self) -> None:
        self._headers[self._header_field.decode("latin-1").lower()] = bytes(self._header_value)
        self._header_field = bytearray()
        self._header_value = bytearray()

    def _on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", b""))
        self._part = options.get(b"name", b"").decode("utf-8", "replace")
        if self._part == "file":
            self.file_seen = True
            self.file_name = options.get(b"filename", b"").decode("utf-8", "replace")
            if self.attributes_raw is None:
                self.error = self.error or BoxError(
                    400,
                    "metadata_after_file_contents",
                    "The attributes part of the body must come before the file part",
                )
            elif self._handle is None and self.error is None:
                self._handle = self.target.open("wb")

    def _on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part == "attributes":
            self._buffer += data[start:end]
            if len(self._buffer) > MAX_SMALL_BODY:
                self.error = self.error or BoxError(400, "bad_request", "The attributes part is too large")
                self._buffer = bytearray()
        elif self._part == "file" and self._handle is not None:
            chunk = data[start:end]
            self._handle.write(chunk)
            self.sha1.update(chunk)
            self.size += len(chunk)

    def _on_part_end(self) -> None:
        if self._part == "attributes" and self.attributes_raw is None:
            self.attributes_raw = bytes(self._buffer)
        self._part = None

    def feed(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except Exception as exc:  # the parser raises its own error types on malformed bodies
            self.error = self.error or BoxError(400, "bad_request", f"Malformed multipart body: {exc}")

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def validation_body(self) -> tuple[bytes, str]:
        """Rebuild the body for the validator: the real attributes, an empty file part."""
        boundary = "boxlocalvalidation"
        parts = []
        if self.attributes_raw is not None:
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="attributes"\r\n\r\n'.encode()
                + self.attributes_raw
                + b"\r\n"
            )
        if self.file_seen:
            filename = (self.file_name or "").replace('"', "")
            parts.append(
                (
                    f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"'
                    "\r\nContent-Type: application/octet-stream\r\n\r\n\r\n"
                ).encode()
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return body, f"multipart/form-data; boundary={boundary}"


Handler = Callable[[_Context], Awaitable[Reply]]


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
        self.client_id = client_id
        self.client_secret = client_secret
        self.validator = validator
        self.jwt_public_keys = dict(jwt_public_keys or {})
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
            ctx = _Context(request)
            ctx.fault = self.state.take_fault(request.method, request.url.path)
            try:
                if ctx.fault is not None and ctx.fault.status is not None:
                    await ctx.drain()
                    reply = self._fault_reply(ctx.fault)
                else:
                    if auth:
                        self._check_bearer(request)
                    reply = await handler(ctx)
            except BoxError as exc:
                await ctx.drain()
                reply = Reply(exc.status, self._error_body(exc, ctx.request_id), exc.headers)
            except OAuthError as exc:
                await ctx.drain()
                reply = Reply(exc.status, {"error": exc.error, "error_description": exc.description})
            except Exception:
                log.exception("Box server failed on %s %s", request.method, request.url.path)
                await ctx.drain()
                error = BoxError(500, "internal_server_error", "Internal Server Error")
                reply = Reply(500, self._error_body(error, ctx.request_id))
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

    def _fault_reply(self, fault: Fault) -> Reply:
        status = fault.status or 500
        headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
        if status < 400:
            return Reply(status, None, headers)
        error = BoxError(
            status,
            fault.code or _DEFAULT_FAULT_CODES.get(status, "internal_server_error"),
            fault.message or f"Injected fault {fault.id}",
        )
        return Reply(status, self._error_body(error, uuid.uuid4().hex[:16]), headers)

    @staticmethod
    def _error_body(error: BoxError, request_id: str) -> dict[str, Any]:
        return {
            "type": "error",
            "status": error.status,
            "code": error.code,
            "message": error.message,
            "context_info": error.context_info or {},
            "help_url": HELP_URL,
            "request_id": request_id,
        }

    def _check_bearer(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
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

    def _validate(
        self, ctx: _Context, status: int, data: bytes, headers: dict[str, str], content_type: str
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
        response = _OpenApiResponse(status, data, _werkzeug_headers(headers), content_type)
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

    async def token(self, ctx: _Context) -> Reply:
        raw = await ctx.small_body()
        form = {k: v[0] for k, v in urllib.parse.parse_qs(raw.decode("utf-8", "replace")).items()}
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
        return Reply(
            200,
            {
                "access_token": token,
                "expires_in": TOKEN_LIFETIME_SECONDS,
                "token_type": "bearer",
                "restricted_to": [],
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            },
        )

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

    # -- folders and files --

    async def get_folder(self, ctx: _Context) -> Reply:
        with self.state.lock:
            folder = self.state.folder(ctx.request.path_params["folder_id"])
            return Reply(
                200, _select_fields(folder_full(self.state, folder), folder_mini(folder), ctx.fields())
            )

    async def list_items(self, ctx: _Context) -> Reply:
        params = ctx.request.query_params
        limit = _int_param(params.get("limit"), 100, "limit")
        if not 1 <= limit <= 1000:
            raise BoxError(400, "bad_request", "limit must be between 1 and 1000")
        use_marker = params.get("usemarker", "").lower() == "true"
        if use_marker:
            offset = _decode_marker(params.get("marker"))
        else:
            offset = _int_param(params.get("offset"), 0, "offset")
        if offset < 0:
            raise BoxError(400, "bad_request", "offset must not be negative")
        fields = ctx.fields()
        with self.state.lock:
            folder = self.state.folder(ctx.request.path_params["folder_id"])
            items = _sorted_children(
                self.state.children(folder.id), params.get("sort"), params.get("direction")
            )
            page = items[offset : offset + limit]
            entries = []
            for item in page:
                if isinstance(item, FileRecord):
                    full, mini = file_full(self.state, item), file_mini(item)
                else:
                    full, mini = folder_full(self.state, item), folder_mini(item)
                entries.append(mini if fields is None else _select_fields(full, mini, fields))
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

    async def create_folder(self, ctx: _Context) -> Reply:
        body = await ctx.json_body()
        parent = body.get("parent")
        if not isinstance(parent, dict) or not isinstance(parent.get("id"), str):
            raise BoxError(400, "bad_request", "parent.id is required")
        name = _check_name(body.get("name"))
        folder = self.state.create_folder(parent["id"], name)
        with self.state.lock:
            full = folder_full(self.state, folder)
        return Reply(201, _select_fields(full, folder_mini(folder), ctx.fields()))

    async def get_file(self, ctx: _Context) -> Reply:
        with self.state.lock:
            record = self.state.file(ctx.request.path_params["file_id"])
            return Reply(200, _select_fields(file_full(self.state, record), file_mini(record), ctx.fields()))

    # -- direct uploads --

    async def _receive_multipart(self, ctx: _Context) -> tuple[_MultipartUpload, dict[str, Any]]:
        """Stream a multipart upload to a temporary file and check it as Box does."""
        upload = _MultipartUpload(ctx.request.headers.get("content-type", ""), self.state.incoming_path())
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

    async def _maybe_corrupt(self, ctx: _Context, sha1: str, size: int, blob: Path) -> tuple[str, int]:
        if ctx.corrupt:
            log.warning("Fault: damaging the bytes stored for this upload (%s)", ctx.request.url.path)
            return await anyio.to_thread.run_sync(_corrupt_blob, blob)
        return sha1, size

    async def upload_file(self, ctx: _Context) -> Reply:
        upload, attributes = await self._receive_multipart(ctx)
        try:
            parent = attributes.get("parent")
            if not isinstance(parent, dict) or not isinstance(parent.get("id"), str):
                raise BoxError(400, "bad_request", "attributes.parent.id is required")
            name = _check_name(attributes.get("name"))
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

    async def upload_version(self, ctx: _Context) -> Reply:
        file_id = ctx.request.path_params["file_id"]
        with self.state.lock:
            self.state.file(file_id)
        upload, attributes = await self._receive_multipart(ctx)
        try:
            new_name = attributes.get("name")
            if new_name is not None:
                _check_name(new_name)
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

    def _files_reply(self, status: int, record: FileRecord, ctx: _Context) -> Reply:
        with self.state.lock:
            entry = _select_fields(file_full(self.state, record), file_mini(record), ctx.fields())
        return Reply(status, {"total_count": 1, "entries": [entry]})

    # -- chunked uploads --

    def _new_session(self, folder_id: str, file_id: str | None, name: str, file_size: Any) -> SessionRecord:
        if not isinstance(file_size, int) or isinstance(file_size, bool) or file_size < 0:
            raise BoxError(400, "bad_request", "file_size must be a non-negative integer")
        if file_size < MIN_CHUNKED_UPLOAD_SIZE:
            raise BoxError(
                400,
                "file_size_too_small",
                f"file_size is below the minimum of {MIN_CHUNKED_UPLOAD_SIZE} bytes for upload sessions",
            )
        part_size = self.part_size
        while -(-file_size // part_size) > MAX_PARTS:
            part_size *= 2
        session_id = uuid.uuid4().hex.upper()
        directory = self.state.sessions_dir / session_id
        directory.mkdir(parents=True)
        session = SessionRecord(
            id=session_id,
            folder_id=folder_id,
            file_id=file_id,
            file_name=name,
            file_size=file_size,
            part_size=part_size,
            total_parts=-(-file_size // part_size),
            expires_at=_now() + timedelta(days=7),
            directory=directory,
        )
        with self.state.lock:
            self.state.sessions[session_id] = session
        return session

    async def create_session(self, ctx: _Context) -> Reply:
        body = await ctx.json_body()
        folder_id = body.get("folder_id")
        if not isinstance(folder_id, str):
            raise BoxError(400, "bad_request", "folder_id is required")
        name = _check_name(body.get("file_name"))
        with self.state.lock:
            self.state.folder(folder_id)
            existing = self.state.find_by_name(folder_id, name)
            if existing is not None:
                raise self.state.conflict(existing)
        session = self._new_session(folder_id, None, name, body.get("file_size"))
        return Reply(201, session_view(session, self.base_url))

    async def create_version_session(self, ctx: _Context) -> Reply:
        body = await ctx.json_body()
        with self.state.lock:
            record = self.state.file(ctx.request.path_params["file_id"])
            name = record.name
            if body.get("file_name") is not None:
                name = _check_name(body["file_name"])
                existing = self.state.find_by_name(record.parent_id, name)
                if existing is not None and existing is not record:
                    raise self.state.conflict(existing)
        session = self._new_session(record.parent_id, record.id, name, body.get("file_size"))
        return Reply(201, session_view(session, self.base_url))

    async def session_endpoint(self, ctx: _Context) -> Reply:
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

    async def upload_part(self, ctx: _Context) -> Reply:
        session_id = ctx.request.path_params["session_id"]
        # The binary body is checked against the digest below; the validator sees the headers.
        ctx.validation_body = None
        with self.state.lock:
            session = self.state.session(session_id)
        start, end = self._check_range(session, ctx.request.headers.get("content-range", ""))
        expected = _parse_digest(ctx.request.headers.get("digest", ""))
        temporary = session.directory / f"{start}.{uuid.uuid4().hex}.tmp"
        try:
            sha1, size = await _stream_to_file(ctx.chunks(), temporary)
            if size != end - start + 1:
                raise BoxError(
                    400, "bad_request", f"Content-Range announces {end - start + 1} bytes but {size} arrived"
                )
            if _sha1_hex_to_base64(sha1) != expected:
                raise BoxError(
                    400,
                    "digest_mismatch",
                    f"Part digest was incorrect. Actual: {_sha1_hex_to_base64(sha1)} Expected: {expected}",
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

    @staticmethod
    def _check_range(session: SessionRecord, header: str) -> tuple[int, int]:
        match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", header.strip())
        if match is None:
            raise BoxError(416, "bad_request", "content-range must look like 'bytes START-END/TOTAL'")
        start, end, total = (int(g) for g in match.groups())
        last = end == session.file_size - 1
        size = end - start + 1
        if (
            total != session.file_size
            or end >= total
            or size <= 0
            or start % session.part_size
            or size > session.part_size
            or (size != session.part_size and not last)
        ):
            raise BoxError(
                416,
                "bad_request",
                f"The content range {start}-{end}/{total} does not fit this session "
                f"(file_size {session.file_size}, part_size {session.part_size})",
            )
        return start, end

    async def list_parts(self, ctx: _Context) -> Reply:
        params = ctx.request.query_params
        offset = _int_param(params.get("offset"), 0, "offset")
        limit = _int_param(params.get("limit"), 1000, "limit")
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

    async def commit_session(self, ctx: _Context) -> Reply:
        session_id = ctx.request.path_params["session_id"]
        body = await ctx.json_body()
        expected = _parse_digest(ctx.request.headers.get("digest", ""))
        with self.state.lock:
            session = self.state.session(session_id)
            if session.committed_file_id is not None:
                # A retried commit whose first answer was lost: answer it the same way.
                return self._files_reply(201, self.state.file(session.committed_file_id), ctx)
            parts = [session.parts[k] for k in sorted(session.parts)]
        self._check_commit_parts(session, parts, body.get("parts"))
        assembled = self.state.incoming_path()
        try:
            sha1, size = await anyio.to_thread.run_sync(_concatenate, [p.path for p in parts], assembled)
            if _sha1_hex_to_base64(sha1) != expected:
                raise BoxError(
                    400,
                    "digest_mismatch",
                    f"File digest was incorrect. Actual: {_sha1_hex_to_base64(sha1)} Expected: {expected}",
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

    @staticmethod
    def _check_commit_parts(session: SessionRecord, stored: list[PartRecord], listed: Any) -> None:
        if not isinstance(listed, list):
            raise BoxError(400, "bad_request", "parts must be a list")
        missing = session.total_parts - len(stored)
        if missing:
            raise BoxError(
                400, "bad_request", f"{missing} of {session.total_parts} parts have not been uploaded"
            )
        by_offset = {p.offset: p for p in stored}
        seen: set[int] = set()
        for entry in listed:
            part = by_offset.get(entry.get("offset")) if isinstance(entry, dict) else None
            if (
                part is None
                or entry.get("part_id") != part.part_id
                or entry.get("size") != part.size
                or (entry.get("sha1") is not None and entry["sha1"] != part.sha1)
            ):
                raise BoxError(400, "bad_request", f"Part {entry!r} does not match any uploaded part")
            seen.add(part.offset)
        if seen != set(by_offset):
            raise BoxError(400, "bad_request", "parts must list every uploaded part exactly once")

    async def unknown(self, ctx: _Context) -> Reply:
        raise BoxError(404, "not_found", f"Not Found: {ctx.request.method} {ctx.request.url.path}")

    # -- admin (not Box API) --

    async def admin_faults(self, request: Request) -> Response:
        if request.method == "GET":
            with self.state.lock:
                return _json([f.describe() for f in self.state.faults])
        if request.method == "DELETE":
            with self.state.lock:
                self.state.faults.clear()
            return _json({"cleared": True})
        try:
            spec = await request.json()
            fault = _parse_fault(spec, self.state.new_id())
        except (ValueError, TypeError, re.error) as exc:
            return _json({"error": str(exc)}, 400)
        with self.state.lock:
            self.state.faults.append(fault)
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


def _werkzeug_headers(headers: dict[str, str]) -> Any:
    from werkzeug.datastructures import Headers

    return Headers(list(headers.items()))


def _int_param(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise BoxError(400, "bad_request", f"{name} must be an integer") from exc


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


def _parse_digest(header: str) -> str:
    """Return the base64 SHA-1 of a ``digest: sha=...`` header (the only form Box accepts)."""
    algorithm, _, value = header.strip().partition("=")
    if algorithm.lower() != "sha" or not value:
        raise BoxError(400, "bad_request", "digest must look like 'sha=<base64 SHA-1>'")
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise BoxError(400, "bad_request", "digest is not valid base64") from exc
    if len(raw) != 20:
        raise BoxError(400, "bad_request", "digest must be a SHA-1 (20 bytes)")
    return base64.b64encode(raw).decode("ascii")


def _concatenate(paths: list[Path], target: Path) -> tuple[str, int]:
    digest = hashlib.sha1()
    size = 0
    with target.open("wb") as out:
        for path in paths:
            with path.open("rb") as handle:
                while chunk := handle.read(1024 * 1024):
                    out.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
    return digest.hexdigest(), size


def _parse_fault(spec: Any, fault_id: str) -> Fault:
    if not isinstance(spec, dict):
        raise ValueError("a fault is a JSON object")
    status = spec.get("status")
    corrupt = bool(spec.get("corrupt_sha1", False))
    if status is None and not corrupt:
        raise ValueError("a fault needs a status or corrupt_sha1: true")
    if status is not None and (not isinstance(status, int) or not (status == 202 or 400 <= status <= 599)):
        raise ValueError("status must be 202 or a 4xx/5xx integer")
    times = spec.get("times", 1)
    if times is not None and (not isinstance(times, int) or times < 1):
        raise ValueError("times must be a positive integer, or null for until cleared")
    retry_after = spec.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
        raise ValueError("retry_after must be a non-negative integer of seconds")
    return Fault(
        id=fault_id,
        method=spec.get("method"),
        path_regex=re.compile(spec.get("path_regex", ".*")),
        status=status,
        times=times,
        retry_after=retry_after,
        code=spec.get("code"),
        message=spec.get("message"),
        corrupt_sha1=corrupt,
    )


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
        fault = _parse_fault(spec, self.state.new_id())
        with self.state.lock:
            self.state.faults.append(fault)
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
