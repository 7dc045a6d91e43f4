"""Names in Box for campaigns and their files, decided before anything is uploaded.

DAM names are user data. Box refuses some characters, cuts at 255, and compares names
without regard to case, so two different DAM names can become one Box name; uploading the
second would silently replace the first. These functions give every asset of a campaign
its own Box name, the same on every run, and never a name Box would refuse.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from campaign_handoff.box_hook import box_safe_name

BOX_NAME_LIMIT = 255


def clean_text(text: str) -> str:
    """Text that PostgreSQL and SMTP accept: no NUL, and each lone surrogate becomes "?"."""
    text = text.replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8") if _has_surrogates(text) else text


def _has_surrogates(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


def _box_key(name: str) -> str:
    """How Box tells names apart: the same after Unicode normalisation and case folding."""
    return unicodedata.normalize("NFC", name).casefold()


def _split_extension(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem or len(ext) > 16:
        return name, ""
    return stem, "." + ext


def with_suffix(name: str, suffix: str) -> str:
    """``name`` with ``suffix`` before its extension, cut so the whole stays within Box's limit."""
    stem, ext = _split_extension(name)
    if len(suffix) + len(ext) > BOX_NAME_LIMIT // 2:
        # An absurdly long id: a short digest of it tells names apart just as well.
        suffix = f" ({hashlib.sha1(suffix.encode()).hexdigest()[:12]})"
        ext = ext[:16]
    room = BOX_NAME_LIMIT - len(suffix) - len(ext)
    return box_safe_name(stem[:room].rstrip() + suffix + ext)


def safe_name_or(name: str, fallback: str) -> str:
    """Box's form of ``name``, or ``fallback`` when nothing usable is left (``"  "``, ``".."``)."""
    try:
        return box_safe_name(name)
    except ValueError:
        return box_safe_name(fallback)


def campaign_folder_name(campaign_id: str, number: str | None, name: str) -> str:
    """``<number> - <name>``; a campaign without a number carries its id, so names cannot clash."""
    label = f"{number} - {name}" if number else f"{name} [{campaign_id}]"
    return safe_name_or(label, f"Campaign {campaign_id}")


@dataclass(frozen=True)
class NamedAsset:
    asset_id: str
    dam_name: str
    box_name: str

    @property
    def renamed(self) -> bool:
        return self.box_name != self.dam_name


def box_file_names(assets: Iterable[tuple[str, str]]) -> list[NamedAsset]:
    """Give each ``(asset_id, dam_name)`` a Box name unique within its folder.

    Assets whose names would clash in Box all get their DAM asset id before the extension
    (``Logo (3f2a9c1e).png``), so the outcome does not depend on the DAM's listing order.
    """
    pairs = list(assets)
    safe = {asset_id: safe_name_or(name, f"asset {asset_id}") for asset_id, name in pairs}
    groups: dict[str, list[str]] = defaultdict(list)
    for asset_id, _ in pairs:
        groups[_box_key(safe[asset_id])].append(asset_id)
    final = dict(safe)
    for members in groups.values():
        if len(members) > 1:
            short = len({m[:8] for m in members}) == len(members)
            for asset_id in members:
                final[asset_id] = with_suffix(safe[asset_id], f" ({asset_id[:8] if short else asset_id})")
    if len({_box_key(n) for n in final.values()}) != len(final):
        # Only a DAM name that already looks like a renamed one can get here.
        final = {a: with_suffix(safe[a], f" ({a})") for a in final}
    return [NamedAsset(asset_id, name, final[asset_id]) for asset_id, name in pairs]
