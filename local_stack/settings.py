"""Read ``airflow_settings.yaml`` (Astro CLI format) and turn it into what Airflow loads.

The file holds local placeholders; the running stack overrides hosts, ports and URLs with
the free ports it picked. The result goes into the metadata database through the CLI's
import commands, as the demo and the end-to-end test do.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
SETTINGS_FILE = REPO / "airflow_settings.yaml"


@dataclass
class AirflowSettings:
    connections: dict[str, dict[str, Any]]
    variables: dict[str, str]
    pools: dict[str, dict[str, Any]]

    def override_connection(self, conn_id: str, extra: dict[str, Any] | None = None, **fields: Any) -> None:
        conn = self.connections[conn_id]
        conn.update(fields)
        if extra:
            conn["extra"] = {**conn.get("extra", {}), **extra}

    def for_cli_import(self) -> dict[str, dict[str, Any]]:
        """Connections as ``airflow connections import`` reads them (extra as a JSON string)."""
        return {cid: {**c, "extra": json.dumps(c.get("extra", {}))} for cid, c in self.connections.items()}


def load_settings(path: Path = SETTINGS_FILE) -> AirflowSettings:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    section = document.get("airflow", {})
    connections = {}
    for item in section.get("connections", []):
        conn = {"conn_type": item["conn_type"]}
        for key in ("host", "port", "schema", "login", "password"):
            value = item.get(f"conn_{key}")
            if value not in (None, ""):
                conn[key] = value
        extra = item.get("conn_extra") or {}
        conn["extra"] = json.loads(extra) if isinstance(extra, str) else dict(extra)
        connections[item["conn_id"]] = conn
    variables = {
        item["variable_name"]: str(item.get("variable_value") or "") for item in section.get("variables", [])
    }
    pools = {
        item["pool_name"]: {
            "slots": int(item["pool_slot"]),
            "description": item.get("pool_description", ""),
            "include_deferred": False,
        }
        for item in section.get("pools", [])
    }
    return AirflowSettings(connections=connections, variables=variables, pools=pools)
