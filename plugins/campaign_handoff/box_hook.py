"""Talk to Box through the generated SDK (``box_sdk_gen``): folders, verified uploads, listings.

Why a hook of our own rather than the SDK's helpers: the hand-off must be idempotent under
task retries (a file already in Box with the same SHA-1 is not sent again), must verify
what Box stored (size and SHA-1) before a campaign is marked handed over, and must upload
big files without holding them in memory and without the SDK's ``upload_big_file``, which
checks its results with ``assert`` and cannot retry a part.

The connection (``box_default`` unless told otherwise):

* ``login``: the app's client id; ``password``: its client secret.
* ``extra`` (JSON):

  * ``auth_type``: ``"ccg"`` (client credentials grant, the default) or ``"jwt"``.
  * ``jwt_config_json``: for ``jwt``, the app's JSON config from the Box Developer Console
    (as a string or an object); its client id and secret win over ``login``/``password``.
  * ``subject_type``: ``"enterprise"`` (default) or ``"user"``.
  * ``subject_id``: the enterprise or user id (for ``jwt``, defaults to the config's
    ``enterpriseID``).
  * ``base_url``, ``upload_url``, ``oauth2_url``: another Box-compatible server (the local
    stack); default to Box's own.
  * ``max_attempts`` (default 5) and ``retry_base_interval`` (seconds, default 1): the SDK's
    retry strategy for 429, 5xx and network errors, which honours ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from airflow.sdk.bases.hook import BaseHook

if TYPE_CHECKING:
    from box_sdk_gen import BoxClient
    from box_sdk_gen.schemas.file_full import FileFull
    from box_sdk_gen.schemas.upload_part import UploadPart

BOX_API_URL = "https://api.box.com"
BOX_UPLOAD_URL = "https://upload.box.com/api"
BOX_OAUTH2_URL = "https://account.box.com/api/oauth2"
#: Box refuses upload sessions below this size, so no threshold may be lower.
MIN_CHUNKED_UPLOAD_BYTES = 20_000_000
DEFAULT_CHUNKED_THRESHOLD_BYTES = 50 * 1024 * 1024
MAX_NAME_LENGTH = 255
#: Attempts per part of a chunked upload, each re-reading the part from disk. The SDK
#: retries every attempt on its own first (429, 5xx, network errors).
PART_ATTEMPTS = 3
#: Attempts at committing a session while Box answers 202 (parts still being processed).
COMMIT_ATTEMPTS = 5
FILE_FIELDS = ["name", "size", "sha1"]
#: Read size when hashing parts and when streaming them to Box.
READ_BLOCK = 1024 * 1024

_NAME_SEPARATORS = {"/": "-", "\\": "-"}
_WHITESPACE_CONTROLS = {"\t", "\n", "\r", "\x0b", "\x0c", "\u2028", "\u2029", "\x85"}


class BoxHookError(RuntimeError):
    """A Box operation failed; the message says what was wrong and what to do.

    :param retryable: whether trying again later may succeed (rate limits, outages,
        network errors, a damaged upload), as opposed to a problem of configuration,
        permissions or data that a retry repeats.
    """

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class BoxVerificationError(BoxHookError):
    """Box reports a file whose size or SHA-1 differs from the one that was sent."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


@dataclass(frozen=True)
class BoxFolder:
    id: str
    name: str
    created: bool


@dataclass(frozen=True)
class BoxFileInfo:
    """A file in Box as a listing reports it."""

    file_id: str
    name: str
    size: int
    sha1: str


@dataclass(frozen=True)
class UploadedFile(BoxFileInfo):
    """A file after :meth:`BoxHook.upload_file`, verified against the expected size and SHA-1.

    ``method`` is how it got there: ``direct``, ``chunked``, ``already_present`` (Box had
    the same bytes under that name, nothing was sent) or ``new_version`` (Box had other
    bytes under that name; they are now the previous version).
    """

    method: str


def box_safe_name(name: str) -> str:
    """Turn any text into a name Box accepts for a file or folder.

    Box refuses ``/`` and ``\\``, non-printable characters, trailing spaces, the names
    ``.`` and ``..`` and names over 255 characters. Slashes become ``-``; line breaks and
    tabs become spaces; other control characters are dropped; surrounding whitespace is
    stripped; the text is NFC-normalised so that the same name typed on two systems is the
    same name in Box; long names are cut to 255 characters, keeping a short extension.

    :raises ValueError: when nothing usable is left (empty, ``.`` or ``..``).
    """
    text = unicodedata.normalize("NFC", str(name))
    cleaned = []
    for char in text:
        if char in _NAME_SEPARATORS:
            cleaned.append(_NAME_SEPARATORS[char])
        elif char in _WHITESPACE_CONTROLS:
            cleaned.append(" ")
        elif unicodedata.category(char) in {"Cc", "Cs"}:
            continue
        else:
            cleaned.append(char)
    safe = "".join(cleaned).strip()
    if len(safe) > MAX_NAME_LENGTH:
        stem, dot, extension = safe.rpartition(".")
        if dot and stem and 0 < len(extension) <= 16:
            safe = stem[: MAX_NAME_LENGTH - len(extension) - 1].rstrip() + "." + extension
        else:
            safe = safe[:MAX_NAME_LENGTH].rstrip()
    if safe in {"", ".", ".."}:
        raise ValueError(f"{name!r} leaves no usable Box name once cleaned ({safe!r}); give it a real name")
    return safe


class _FileSlice:
    """A read-only, seekable view of ``length`` bytes of a file from ``offset``.

    The SDK streams it (so a part is never held in memory) and seeks it back to 0 before
    each of its retries, so every attempt re-reads the part from disk. ``__len__`` lets
    requests send a Content-Length instead of chunked encoding.
    """

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self._handle = path.open("rb")
        self._offset = offset
        self._length = length
        self._position = 0
        self._handle.seek(offset)

    def __len__(self) -> int:
        return self._length

    def read(self, size: int | None = -1) -> bytes:
        remaining = self._length - self._position
        if size is None or size < 0 or size > remaining:
            size = remaining
        data = self._handle.read(size)
        self._position += len(data)
        return data

    def seek(self, position: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._position, 2: self._length}[whence]
        self._position = max(0, min(self._length, base + position))
        self._handle.seek(self._offset + self._position)
        return self._position

    def tell(self) -> int:
        return self._position

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> _FileSlice:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _NameInUse(Exception):
    """Box answered 409 ``item_name_in_use``; carries the conflicting item."""

    def __init__(self, conflict: dict[str, Any]) -> None:
        super().__init__(conflict.get("id"))
        self.conflict = conflict


def _conflict_of(exc: Exception) -> dict[str, Any] | None:
    """Return the item a 409 name clash names, whatever shape Box used for it.

    The OpenAPI document describes ``context_info.conflicts`` as a list; Box's upload
    endpoints have been seen to answer with a single object. Both are accepted.
    """
    info = getattr(exc, "response_info", None)
    if info is None or info.status_code != 409:
        return None
    conflicts = (info.context_info or {}).get("conflicts")
    if isinstance(conflicts, dict):
        conflicts = [conflicts]
    if not conflicts or not isinstance(conflicts[0], dict) or "id" not in conflicts[0]:
        return None
    return conflicts[0]


def _pause(seconds: float) -> None:
    """Wait between the hook's own attempts (a seam, so tests need not wait)."""
    time.sleep(seconds)


def _sha1_base64(digest: bytes) -> str:
    return base64.b64encode(digest).decode("ascii")


class BoxHook(BaseHook):
    """Folders and verified uploads in Box, through ``box_sdk_gen``.

    :param box_conn_id: the Airflow connection (see the module docstring for its fields).
    :param chunked_threshold_bytes: files of at least this size go through a chunked upload
        session, smaller ones through one request. Box needs at least 20,000,000 bytes for a
        session, and recommends sessions above 50 MiB.
    """

    conn_name_attr = "box_conn_id"
    default_conn_name = "box_default"
    conn_type = "generic"
    hook_name = "Box"

    def __init__(
        self,
        box_conn_id: str = default_conn_name,
        chunked_threshold_bytes: int = DEFAULT_CHUNKED_THRESHOLD_BYTES,
    ) -> None:
        super().__init__()
        if chunked_threshold_bytes < MIN_CHUNKED_UPLOAD_BYTES:
            raise ValueError(
                f"chunked_threshold_bytes is {chunked_threshold_bytes}, but Box only accepts chunked "
                f"uploads of at least {MIN_CHUNKED_UPLOAD_BYTES} bytes: set it to {MIN_CHUNKED_UPLOAD_BYTES} "
                "or more (box_chunked_upload_threshold_mb >= 20)."
            )
        self.box_conn_id = box_conn_id
        self.chunked_threshold_bytes = chunked_threshold_bytes
        self._client: BoxClient | None = None

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Label the connection form's fields for a Box app (used where the hook is registered)."""
        return {
            "hidden_fields": ["host", "schema", "port"],
            "relabeling": {"login": "Client ID", "password": "Client secret"},
            "placeholders": {
                "extra": json.dumps({"auth_type": "ccg", "subject_type": "enterprise", "subject_id": "<id>"})
            },
        }

    # --- connection ---------------------------------------------------------------------

    def get_conn(self) -> BoxClient:
        """Return a client for the connection, built once per hook (tokens come lazily)."""
        if self._client is None:
            self._client = self._build_client()
        return self._client

    def _build_client(self) -> BoxClient:
        from box_sdk_gen import (
            BaseUrls,
            BoxCCGAuth,
            BoxClient,
            BoxJWTAuth,
            BoxRetryStrategy,
            CCGConfig,
            JWTConfig,
            NetworkSession,
        )
        from box_sdk_gen.internal.logging import DataSanitizer

        conn = self.get_connection(self.box_conn_id)
        extra = conn.extra_dejson or {}
        where = f"Box connection {self.box_conn_id!r}"
        auth_type = str(extra.get("auth_type") or "ccg").lower()
        subject_type = str(extra.get("subject_type") or "enterprise").lower()
        subject_id = extra.get("subject_id")
        if subject_type not in {"enterprise", "user"}:
            raise ValueError(
                f"{where}: extra subject_type must be 'enterprise' or 'user', not {subject_type!r}"
            )

        auth: Any
        if auth_type == "ccg":
            if not conn.login or not conn.password:
                raise ValueError(f"{where}: set login to the Box app's client id and password to its secret")
            if not subject_id:
                raise ValueError(f"{where}: set extra subject_id to the Box enterprise id (or a user id)")
            ids = (
                {"user_id": str(subject_id)} if subject_type == "user" else {"enterprise_id": str(subject_id)}
            )
            auth = BoxCCGAuth(CCGConfig(client_id=conn.login, client_secret=conn.password, **ids))
        elif auth_type == "jwt":
            auth = BoxJWTAuth(self._jwt_config(extra, conn.login, conn.password, where, JWTConfig))
            if subject_id and subject_type == "user":
                auth = auth.with_user_subject(str(subject_id))
            elif subject_id:
                auth = auth.with_enterprise_subject(str(subject_id))
        else:
            raise ValueError(f"{where}: extra auth_type must be 'ccg' or 'jwt', not {auth_type!r}")

        try:
            max_attempts = int(extra.get("max_attempts", 5))
            base_interval = float(extra.get("retry_base_interval", 1))
        except (TypeError, ValueError):
            raise ValueError(f"{where}: max_attempts and retry_base_interval must be numbers") from None

        sanitizer = DataSanitizer()
        # The SDK does not redact JWT assertions in its error texts; they are credentials.
        sanitizer._keys_to_sanitize["assertion"] = ""
        base_urls = BaseUrls(
            base_url=str(extra.get("base_url") or BOX_API_URL).rstrip("/"),
            upload_url=str(extra.get("upload_url") or BOX_UPLOAD_URL).rstrip("/"),
            oauth_2_url=str(extra.get("oauth2_url") or BOX_OAUTH2_URL).rstrip("/"),
        )
        session = NetworkSession(
            base_urls=base_urls,
            retry_strategy=BoxRetryStrategy(max_attempts=max_attempts, retry_base_interval=base_interval),
            data_sanitizer=sanitizer,
        )
        self.log.info(
            "Box client for %s: %s auth as %s %s, API at %s",
            self.box_conn_id,
            auth_type,
            subject_type,
            subject_id or "(from the JWT config)",
            base_urls.base_url,
        )
        return BoxClient(auth=auth, network_session=session)

    @staticmethod
    def _jwt_config(
        extra: dict[str, Any], login: str | None, password: str | None, where: str, jwt_config_cls: Any
    ) -> Any:
        raw = extra.get("jwt_config_json")
        if not raw:
            raise ValueError(f"{where}: auth_type 'jwt' needs extra jwt_config_json (the app's JSON config)")
        try:
            config = json.loads(raw) if isinstance(raw, str) else dict(raw)
            settings = config.setdefault("boxAppSettings", {})
            if login and not settings.get("clientID"):
                settings["clientID"] = login
            if password and not settings.get("clientSecret"):
                settings["clientSecret"] = password
            return jwt_config_cls.from_config_json_string(json.dumps(config))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValueError(
                f"{where}: jwt_config_json is not a Box app config "
                f"(boxAppSettings.clientID/clientSecret/appAuth...): {type(exc).__name__}"
            ) from None

    # --- folders ------------------------------------------------------------------------

    def ensure_folder(self, parent_id: str, name: str) -> BoxFolder:
        """Return the folder ``name`` in ``parent_id``, creating it if needed.

        Creating first and reading the conflict on a 409 takes one request either way and
        is safe when two tasks race for the same folder.
        """
        from box_sdk_gen import BoxSDKError
        from box_sdk_gen.managers.folders import CreateFolderParent

        safe = box_safe_name(name)
        client = self.get_conn()
        try:
            folder = client.folders.create_folder(
                safe, CreateFolderParent(id=str(parent_id)), fields=["name"]
            )
        except BoxSDKError as exc:
            conflict = _conflict_of(exc)
            if conflict is None:
                raise self._error(exc, f"create folder {safe!r} in Box folder {parent_id}") from exc
            if conflict.get("type") != "folder":
                raise BoxHookError(
                    f"Box folder {parent_id} already has a {conflict.get('type', 'item')} named "
                    f"{conflict.get('name', safe)!r} (id {conflict['id']}), so no folder of that name can be "
                    "created there. Rename or move that item in Box, then retry."
                ) from exc
            self.log.info("Box folder %r already exists in %s: id %s", safe, parent_id, conflict["id"])
            return BoxFolder(id=str(conflict["id"]), name=str(conflict.get("name") or safe), created=False)
        self.log.info("Created Box folder %r in %s: id %s", folder.name, parent_id, folder.id)
        return BoxFolder(id=str(folder.id), name=str(folder.name or safe), created=True)

    def list_folder_files(self, folder_id: str) -> list[BoxFileInfo]:
        """List the files (not sub-folders) directly in a folder, with size and SHA-1."""
        from box_sdk_gen import BoxSDKError

        client = self.get_conn()
        files: list[BoxFileInfo] = []
        marker: str | None = None
        while True:
            try:
                page = client.folders.get_folder_items(
                    str(folder_id), fields=FILE_FIELDS, usemarker=True, marker=marker, limit=1000
                )
            except BoxSDKError as exc:
                raise self._error(exc, f"list Box folder {folder_id}") from exc
            for entry in page.entries or []:
                if getattr(entry.type, "value", entry.type) == "file":
                    files.append(
                        BoxFileInfo(str(entry.id), str(entry.name), int(entry.size), str(entry.sha_1))
                    )
            marker = getattr(page, "next_marker", None)
            if not marker:
                break
        self.log.info("Box folder %s holds %d file(s)", folder_id, len(files))
        return files

    # --- uploads ------------------------------------------------------------------------

    def upload_file(self, folder_id: str, name: str, path: Path, size: int, sha1: str) -> UploadedFile:
        """Upload a local file to a Box folder and verify what Box stored.

        Retries of a task are safe: if Box already has a file of that name with the same
        SHA-1, nothing is sent (``already_present``); with other bytes, ours become a new
        version (``new_version``).

        :param size: the file's size in bytes, as it was downloaded.
        :param sha1: its SHA-1 (hex), as computed while it was downloaded; Box checks it too.
        :raises BoxVerificationError: when Box reports another size or SHA-1 afterwards.
        """
        from box_sdk_gen import BoxSDKError

        path = Path(path)
        safe = box_safe_name(name)
        expected_sha1 = sha1.strip().lower()
        if len(expected_sha1) != 40 or any(c not in "0123456789abcdef" for c in expected_sha1):
            raise ValueError(f"sha1 of {safe!r} must be 40 hex digits, not {sha1!r}")
        self._check_local_file(path, safe, size)
        chunked = size >= self.chunked_threshold_bytes
        self.log.info(
            "Uploading %r (%s bytes, sha1 %s) to Box folder %s, %s",
            safe,
            size,
            expected_sha1,
            folder_id,
            "chunked" if chunked else "direct",
        )

        try:
            try:
                if chunked:
                    entry = self._upload_chunked(
                        path, size, expected_sha1, folder_id=str(folder_id), name=safe
                    )
                else:
                    entry = self._upload_direct(path, expected_sha1, folder_id=str(folder_id), name=safe)
                method = "chunked" if chunked else "direct"
            except _NameInUse as clash:
                entry, method = self._settle_name_clash(
                    clash.conflict, path, size, expected_sha1, folder_id, safe
                )
        except BoxSDKError as exc:
            raise self._error(exc, f"upload {safe!r} to Box folder {folder_id}") from exc

        uploaded = self._verify(entry, safe, folder_id, size, expected_sha1, method)
        self.log.info(
            "Box file %s %r in folder %s: %s bytes, sha1 %s, method %s",
            uploaded.file_id,
            uploaded.name,
            folder_id,
            uploaded.size,
            uploaded.sha1,
            uploaded.method,
        )
        return uploaded

    @staticmethod
    def _check_local_file(path: Path, name: str, size: int) -> None:
        try:
            actual = path.stat().st_size
        except OSError as exc:
            raise BoxHookError(
                f"Cannot upload {name!r}: the local copy {path} cannot be read ({exc.strerror}). "
                "Download it again (retry the task)."
            ) from exc
        if actual != size:
            raise BoxHookError(
                f"Cannot upload {name!r}: the local copy {path} has {actual} bytes, but {size} were "
                "expected. The download was incomplete or the file changed; retry the task to download it "
                "again."
            )

    def _settle_name_clash(
        self, conflict: dict[str, Any], path: Path, size: int, sha1: str, folder_id: str, name: str
    ) -> tuple[Any, str]:
        """Decide what a name clash means: the same bytes already there, or a new version."""
        if conflict.get("type", "file") != "file":
            raise BoxHookError(
                f"Box folder {folder_id} already has a {conflict.get('type')} named {name!r} "
                f"(id {conflict['id']}), so the file cannot be uploaded under that name. "
                "Rename or move that item in Box, then retry."
            )
        existing = self.get_conn().files.get_file_by_id(str(conflict["id"]), fields=FILE_FIELDS)
        if (existing.sha_1 or "").lower() == sha1 and existing.size == size:
            self.log.info(
                "Box file %s %r in folder %s already has these %s bytes (sha1 %s); not sending them again",
                existing.id,
                name,
                folder_id,
                size,
                sha1,
            )
            return existing, "already_present"
        self.log.info(
            "Box file %s %r in folder %s has other content (sha1 %s); uploading a new version",
            existing.id,
            name,
            folder_id,
            existing.sha_1,
        )
        # Keep the name Box has (it may differ in case): a new version should not rename.
        current_name = str(existing.name or name)
        if size >= self.chunked_threshold_bytes:
            entry = self._upload_chunked(path, size, sha1, file_id=str(existing.id), name=current_name)
        else:
            entry = self._upload_direct(path, sha1, file_id=str(existing.id), name=current_name)
        return entry, "new_version"

    def _upload_direct(
        self, path: Path, sha1: str, *, name: str, folder_id: str | None = None, file_id: str | None = None
    ) -> Any:
        """Send the file in one multipart request; ``content-md5`` makes Box check the SHA-1."""
        from box_sdk_gen import BoxAPIError
        from box_sdk_gen.managers.uploads import (
            UploadFileAttributes,
            UploadFileAttributesParentField,
            UploadFileVersionAttributes,
        )

        client = self.get_conn()
        with path.open("rb") as stream:
            try:
                if file_id is None:
                    attributes = UploadFileAttributes(
                        name=name, parent=UploadFileAttributesParentField(id=str(folder_id))
                    )
                    files = client.uploads.upload_file(
                        attributes, stream, file_file_name=name, content_md_5=sha1
                    )
                else:
                    files = client.uploads.upload_file_version(
                        file_id,
                        UploadFileVersionAttributes(name=name),
                        stream,
                        file_file_name=name,
                        content_md_5=sha1,
                    )
            except BoxAPIError as exc:
                conflict = _conflict_of(exc)
                if conflict is not None and file_id is None:
                    raise _NameInUse(conflict) from exc
                raise
        return files.entries[0]

    def _upload_chunked(
        self,
        path: Path,
        size: int,
        sha1: str,
        *,
        name: str,
        folder_id: str | None = None,
        file_id: str | None = None,
    ) -> Any:
        """Upload through a session: every part with its digest, then commit with the file's.

        Parts are streamed from disk, one at a time; a failed session is aborted so Box
        does not keep its parts for the session's 7 days.
        """
        from box_sdk_gen import BoxAPIError

        chunked = self.get_conn().chunked_uploads
        try:
            if file_id is None:
                session = chunked.create_file_upload_session(str(folder_id), size, name)
            else:
                session = chunked.create_file_upload_session_for_existing_file(file_id, size, file_name=name)
        except BoxAPIError as exc:
            conflict = _conflict_of(exc)
            if conflict is not None and file_id is None:
                raise _NameInUse(conflict) from exc
            raise
        endpoints = session.session_endpoints
        part_size = int(session.part_size)
        total_parts = int(session.total_parts)
        self.log.info(
            "Box upload session %s for %r: %s parts of %s bytes", session.id, name, total_parts, part_size
        )

        try:
            whole = hashlib.sha1()
            parts: list[UploadPart] = []
            for index in range(total_parts):
                offset = index * part_size
                length = min(part_size, size - offset)
                parts.append(self._upload_part(endpoints.upload_part, path, offset, length, size, whole))
            if whole.hexdigest() != sha1:
                raise BoxHookError(
                    f"The local copy {path} of {name!r} has sha1 {whole.hexdigest()}, not the expected "
                    f"{sha1}: it changed after it was downloaded. Nothing was committed; retry the task."
                )
            entry = self._commit(endpoints.commit, parts, "sha=" + _sha1_base64(whole.digest()), session.id)
        except BoxAPIError as exc:
            self._abort(endpoints.abort, session.id)
            conflict = _conflict_of(exc)
            if conflict is not None and file_id is None:
                raise _NameInUse(conflict) from exc
            raise
        except BaseException:
            self._abort(endpoints.abort, session.id)
            raise
        return entry

    def _upload_part(
        self, url: str, path: Path, offset: int, length: int, size: int, whole: Any
    ) -> UploadPart:
        """Upload one part, re-reading it from disk on each attempt."""
        from box_sdk_gen import BoxAPIError, BoxSDKError

        part_hash = hashlib.sha1()
        with _FileSlice(path, offset, length) as source:
            while block := source.read(READ_BLOCK):
                part_hash.update(block)
                whole.update(block)
        digest = "sha=" + _sha1_base64(part_hash.digest())
        content_range = f"bytes {offset}-{offset + length - 1}/{size}"
        chunked = self.get_conn().chunked_uploads

        for attempt in range(1, PART_ATTEMPTS + 1):
            try:
                with _FileSlice(path, offset, length) as body:
                    uploaded = chunked.upload_file_part_by_url(url, body, digest, content_range)
                break
            except BoxSDKError as exc:
                status = exc.response_info.status_code if isinstance(exc, BoxAPIError) else 0
                # 400 digest errors mean the bytes changed on the way; 429, 5xx and network
                # errors survived the SDK's own retries. Anything else will not get better.
                transient = status in {0, 400, 412, 429} or status >= 500
                if attempt == PART_ATTEMPTS or not transient:
                    raise
                self.log.warning(
                    "Part %s of %s failed (attempt %s of %s, HTTP %s); reading it from disk again",
                    content_range,
                    path.name,
                    attempt,
                    PART_ATTEMPTS,
                    status or "none",
                )
                _pause(min(2**attempt, 10))
        part = uploaded.part
        if (
            part is None
            or part.offset != offset
            or part.size != length
            or part.sha_1 != part_hash.hexdigest()
        ):
            got = [getattr(part, attribute, None) for attribute in ("offset", "size", "sha_1")]
            raise BoxVerificationError(
                f"Box acknowledged part {content_range} of {path.name} with offset/size/sha1 "
                f"{got[0]}/{got[1]}/{got[2]}, expected {offset}/{length}/{part_hash.hexdigest()}. The "
                "session was aborted; retry the task."
            )
        self.log.debug("Uploaded part %s (%s bytes) of %s", content_range, length, path.name)
        return part

    def _commit(self, url: str, parts: list[UploadPart], digest: str, session_id: str | None) -> Any:
        """Commit a session; a 202 means Box is still processing parts, so ask again."""
        chunked = self.get_conn().chunked_uploads
        for attempt in range(1, COMMIT_ATTEMPTS + 1):
            files = chunked.create_file_upload_session_commit_by_url(url, parts, digest)
            if files is not None and files.entries:
                return files.entries[0]
            self.log.info("Box is still processing the parts of session %s (attempt %s)", session_id, attempt)
            _pause(min(2**attempt, 30))
        raise BoxHookError(
            f"Box did not finish processing upload session {session_id} after {COMMIT_ATTEMPTS} commits. "
            "Retry the task later; the session was aborted.",
            retryable=True,
        )

    def _abort(self, url: str, session_id: str | None) -> None:
        from box_sdk_gen import BoxSDKError

        try:
            self.get_conn().chunked_uploads.delete_file_upload_session_by_url(url)
            self.log.warning("Aborted Box upload session %s", session_id)
        except BoxSDKError as exc:
            self.log.warning(
                "Could not abort Box upload session %s (%s); Box drops it after 7 days",
                session_id,
                type(exc).__name__,
            )

    def _verify(
        self, entry: FileFull | Any, name: str, folder_id: str, size: int, sha1: str, method: str
    ) -> UploadedFile:
        got_size = getattr(entry, "size", None)
        got_sha1 = (getattr(entry, "sha_1", None) or "").lower()
        if got_size != size or got_sha1 != sha1:
            raise BoxVerificationError(
                f"Box file {entry.id} {name!r} in folder {folder_id} does not match what was sent "
                f"({method} upload): Box reports {got_size} bytes and sha1 {got_sha1 or 'none'}, expected "
                f"{size} bytes and sha1 {sha1}. The copy in Box is not the source file: retry the task "
                "(it uploads a new version), and if this repeats, check the source file and Box's status."
            )
        return UploadedFile(
            file_id=str(entry.id), name=str(entry.name or name), size=size, sha1=sha1, method=method
        )

    # --- errors -------------------------------------------------------------------------

    def _error(self, exc: Exception, action: str) -> BoxHookError:
        """Explain an SDK error: what failed, Box's answer, and what to do. No credentials."""
        from box_sdk_gen import BoxAPIError

        if isinstance(exc, BoxHookError):
            return exc
        if not isinstance(exc, BoxAPIError):
            return BoxHookError(
                f"Could not {action}: Box could not be reached or the answer was unreadable "
                f"({type(exc).__name__}: {getattr(exc, 'message', exc)}). Check the network and the "
                f"connection's base_url/upload_url; the task retry tries again.",
                retryable=True,
            )
        info = exc.response_info
        body = info.body if isinstance(info.body, dict) else {}
        status = info.status_code
        detail = body.get("message") or body.get("error_description") or body.get("error") or ""
        answer = f"HTTP {status} {info.code or body.get('error') or ''}".rstrip() + (
            f": {detail}" if detail else ""
        )
        if info.request_id:
            answer += f" (Box request id {info.request_id})"
        token_request = "/oauth2/token" in (exc.request_info.url or "")
        if (token_request and status < 500 and status != 429) or status == 401:
            advice = (
                f"Box refused the credentials of connection {self.box_conn_id!r}: check the client id "
                "(login), secret (password), subject_type and subject_id, and that the app is authorised "
                "in the Box Admin Console."
            )
            return BoxHookError(f"Could not {action}: {answer}. {advice}", status=status)
        if status == 403:
            advice = "The service account lacks permission there: collaborate it on the folder as Editor."
        elif status == 404:
            advice = "The folder or file does not exist or the service account cannot see it: check the id."
        elif status == 409:
            advice = "Box reports a conflict (a name in use or a folder being moved): retry later or rename."
        elif status == 429:
            advice = "Box is rate limiting this app even after the SDK's retries: retry the task later."
        elif status >= 500:
            advice = "Box is failing or unavailable even after the SDK's retries: retry the task later."
        elif info.code in {"bad_digest", "digest_mismatch"}:
            advice = (
                "The bytes changed on the way to Box: retry the task, which downloads and sends them again."
            )
        else:
            advice = "Box refused the request as sent: check the name and ids above."
        retryable = status == 429 or status >= 500 or info.code in {"bad_digest", "digest_mismatch"}
        return BoxHookError(f"Could not {action}: {answer}. {advice}", status=status, retryable=retryable)
