"""What the local Box server records of folders, files and their versions, upload sessions and parts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


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
