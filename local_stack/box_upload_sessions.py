"""Box's rules for chunked upload sessions: which files get one, how they are cut into parts,
which content ranges a part may cover, and what a commit must list.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from local_stack.box_errors import BoxError
from local_stack.box_records import PartRecord, SessionRecord
from local_stack.box_store import BoxState, utc_now

#: Box refuses upload sessions for files smaller than this (``file_size_too_small``).
MIN_CHUNKED_UPLOAD_SIZE = 20_000_000
DEFAULT_PART_SIZE = 8 * 1024 * 1024
#: Box caps a session at 10,000 parts; bigger files get bigger parts.
MAX_PARTS = 10_000


def open_session(
    state: BoxState, folder_id: str, file_id: str | None, name: str, file_size: Any, part_size: int
) -> SessionRecord:
    """Open a session for a new file (``file_id`` None) or a new version, with its parts folder.

    :param part_size: The part size wanted; doubled until the file fits in :data:`MAX_PARTS`.
    """
    if not isinstance(file_size, int) or isinstance(file_size, bool) or file_size < 0:
        raise BoxError(400, "bad_request", "file_size must be a non-negative integer")
    if file_size < MIN_CHUNKED_UPLOAD_SIZE:
        raise BoxError(
            400,
            "file_size_too_small",
            f"file_size is below the minimum of {MIN_CHUNKED_UPLOAD_SIZE} bytes for upload sessions",
        )
    while -(-file_size // part_size) > MAX_PARTS:
        part_size *= 2
    session_id = uuid.uuid4().hex.upper()
    directory = state.sessions_dir / session_id
    directory.mkdir(parents=True)
    session = SessionRecord(
        id=session_id,
        folder_id=folder_id,
        file_id=file_id,
        file_name=name,
        file_size=file_size,
        part_size=part_size,
        total_parts=-(-file_size // part_size),
        expires_at=utc_now() + timedelta(days=7),
        directory=directory,
    )
    with state.lock:
        state.sessions[session_id] = session
    return session


def check_range(session: SessionRecord, header: str) -> tuple[int, int]:
    """Return the first and last byte a ``content-range`` header gives a part of ``session``."""
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


def check_commit_parts(session: SessionRecord, stored: list[PartRecord], listed: Any) -> None:
    """Refuse a commit unless every part is uploaded and ``listed`` names each exactly once."""
    if not isinstance(listed, list):
        raise BoxError(400, "bad_request", "parts must be a list")
    missing = session.total_parts - len(stored)
    if missing:
        raise BoxError(400, "bad_request", f"{missing} of {session.total_parts} parts have not been uploaded")
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
