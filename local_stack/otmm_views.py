"""The JSON shapes OTMM gives folders and assets of the campaigns folder."""

from __future__ import annotations

import mimetypes
from typing import Any

from local_stack.otmm_campaigns import Node
from local_stack.otmm_state import API_PREFIX, ServerConfig

METADATA_FIELD_TYPE = "com.artesia.metadata.MetadataField"


def meta_element(field_id: str, name: str, value: str) -> dict[str, Any]:
    return {
        "id": field_id,
        "name": name,
        "type": METADATA_FIELD_TYPE,
        "data_type": "CHAR",
        "editable": True,
        "value": {"value": {"type": "string", "value": value}},
    }


def data_type(mime_type: str) -> tuple[str, str]:
    """Return OTMM's ``(data_type, content_type)`` pair for a MIME type."""
    family = mime_type.split("/", 1)[0]
    if mime_type == "application/pdf":
        return "DOCUMENT", "ACROBAT"
    if family == "image":
        return "BITMAP", "BITMAP"
    if family == "video":
        return "VIDEO", "VIDEO"
    if family == "audio":
        return "AUDIO", "AUDIO"
    return "DOCUMENT", "OTHER"


def mime_type_of(node: Node) -> str:
    return mimetypes.guess_type(node.path.name)[0] or "application/octet-stream"


def item_view(node: Node, config: ServerConfig, locked: bool) -> dict[str, Any]:
    """Describe a node the way ``asset_list`` entries look."""
    campaign = node.campaign
    base: dict[str, Any] = {
        "asset_id": node.id,
        "name": campaign.name if node.id == campaign.id else node.path.name,
        "locked": locked,
        "checked_out": False,
        "deleted": False,
        "asset_state": "NORMAL",
        "metadata_model_id": "ARTESIA.MODEL.DEFAULT",
    }
    if node.is_folder:
        base.update(
            data_type="CONTAINER",
            content_type="NONE",
            container_type_id="ARTESIA.BASIC.FOLDER",
        )
        if node.id == campaign.id:
            base["metadata_model_id"] = "CAMPAIGN.MODEL"
            base["metadata"] = {
                "metadata_element_list": [
                    meta_element(config.status_field_id, "Status", campaign.status),
                    meta_element(config.number_field_id, "Campaign number", campaign.number),
                ]
            }
        return base
    mime_type = mime_type_of(node)
    kind, content_type = data_type(mime_type)
    size = node.path.stat().st_size
    base.update(
        data_type=kind,
        content_type=content_type,
        mime_type=mime_type,
        content_size=size,
        master_content_info={
            "id": node.id,
            "name": node.path.name,
            "mime_type": mime_type,
            "content_size": size,
            "content_kind": "MASTER",
            "unit_of_size": "BYTES",
            "url": f"{API_PREFIX}/assets/{node.id}/contents",
        },
        metadata={
            "metadata_element_list": [meta_element("ARTESIA.FIELD.ASSET NAME", "Name", node.path.name)]
        },
    )
    return base


def resource_view(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    """Wrap an item as the ``folder_resource`` or ``asset_resource`` of a ``folders``/``assets`` call."""
    if kind == "folders":
        return {"folder_resource": {"folder": item}}
    return {"asset_resource": {"asset": item}}
