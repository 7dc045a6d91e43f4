"""The JSON representations Box gives folders, files, upload sessions and parts.

The functions given the store read it without taking its lock: their callers hold ``state.lock``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from local_stack.box_records import FileRecord, FolderRecord, PartRecord, SessionRecord

if TYPE_CHECKING:
    from local_stack.box_store import BoxState

_SERVICE_USER = {
    "type": "user",
    "id": "30000001",
    "name": "Local Box Service Account",
    "login": "automation@boxdevedition.example.com",
}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


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


def item_mini(item: FolderRecord | FileRecord) -> dict[str, Any]:
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
    entries = sorted_children(state.children(folder.id), "name", "ASC")
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
            "entries": [item_mini(e) for e in entries[:100]],
            "offset": 0,
            "limit": 100,
            "order": [{"by": "type", "direction": "ASC"}, {"by": "name", "direction": "ASC"}],
        },
    }
    if folder.parent_id is not None:
        body["parent"] = folder_mini(state.folders[folder.parent_id])
    return body


def select_fields(full: dict[str, Any], mini: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """Box's ``fields`` rule: the mini representation plus exactly the fields asked for."""
    if fields is None:
        return full
    chosen = dict(mini)
    for name in fields:
        if name in full:
            chosen[name] = full[name]
    return chosen


def sorted_children(
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
