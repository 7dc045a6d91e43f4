"""The campaigns folder the local OTMM server serves, read as OTMM would see it.

Layout, re-read on every request so that tests may add and remove files and campaigns
while the server runs::

    CAMPAIGNS_DIR/
        <any folder name>/
            campaign.json        {"id": ..., "number": ..., "name": ..., "status": ...}
            Master Assets/       one OTMM asset per file
            <other folders>/     listed as further children of the campaign folder

Ids are stable: a campaign's id is the ``id`` of its ``campaign.json``, and every other
folder or file gets the SHA-1 of ``<campaign id>/<path inside the campaign folder>``, the
40 hex digits real OTMM ids also have. Dot files and dot folders are not listed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

CAMPAIGN_FILE = "campaign.json"


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


def visible(path: Path) -> bool:
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
        if not entry.is_dir() or not visible(entry) or not meta_file.is_file():
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
            if path == meta_file or not all(visible(Path(part)) for part in relative.parts):
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
