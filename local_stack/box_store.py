"""The local Box server's state: folders, files and upload sessions, with their bytes on disk.

State lives in memory, behind one lock; file bytes live on disk in the data directory
(``blobs`` for stored versions, ``incoming`` for uploads being received, ``sessions`` for
the parts of upload sessions). Names are unique per folder, case-insensitively, across
files and folders, as on Box.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_stack.box_errors import BoxError, not_found
from local_stack.box_faults import BoxFault
from local_stack.box_records import FileRecord, FileVersionRecord, FolderRecord, SessionRecord
from local_stack.box_views import item_mini
from local_stack.faults import FaultList

ROOT_FOLDER_ID = "0"
ROOT_FOLDER_NAME = "All Files"
MAX_NAME_LENGTH = 255
REQUEST_LOG_SIZE = 10_000


def utc_now() -> datetime:
    """Return the time as Box stamps items with it: UTC, to the second."""
    return datetime.now(UTC).replace(microsecond=0)


def check_name(name: Any) -> str:
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
        self.faults: FaultList[BoxFault] = FaultList(self.lock)
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
            self.faults.clear()
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
            raise not_found("folder", folder_id)
        return found

    def file(self, file_id: str) -> FileRecord:
        found = self.files.get(file_id)
        if found is None:
            raise not_found("file", file_id)
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
            context_info={"conflicts": [item_mini(item)]},
        )

    def create_folder(self, parent_id: str, name: str) -> FolderRecord:
        with self.lock:
            self.folder(parent_id)
            existing = self.find_by_name(parent_id, name)
            if existing is not None:
                raise self.conflict(existing)
            now = utc_now()
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
            now = utc_now()
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
            record.modified_at = utc_now()
            record.etag = str(int(record.etag) + 1)
            return record

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
                    entry["disk_sha1"], entry["disk_size"] = hash_file(self.blob_path(record.current.id))
                files.append(entry)
        return {
            "folders": sorted(folders, key=lambda f: f["path"]),
            "files": sorted(files, key=lambda f: f["path"]),
        }


# --- bytes on disk ---------------------------------------------------------------------------


def hash_file(path: Path) -> tuple[str, int]:
    """Return the SHA-1 (hex) and size of a file, read in 1 MiB chunks."""
    digest = hashlib.sha1()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def concatenate(paths: list[Path], target: Path) -> tuple[str, int]:
    """Write the files one after the other into ``target``; return its SHA-1 (hex) and size."""
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


def corrupt_blob(path: Path) -> tuple[str, int]:
    """Flip the first byte of a stored blob (as storage corruption would) and rehash it."""
    with path.open("r+b") as handle:
        first = handle.read(1)
        handle.seek(0)
        handle.write(bytes([(first[0] if first else 0) ^ 0xFF]))
    return hash_file(path)
