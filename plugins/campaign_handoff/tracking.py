"""The tracking database (connection ``campaign_db``): campaign rows, retry state, upload log.

Each method is one short transaction on a fresh connection, so a database restart between
two tasks, or inside a task retried by Airflow, costs nothing but that retry.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from campaign_handoff import sql
from campaign_handoff.config import CAMPAIGN_DB_CONN_ID, MISSING_ASSETS_REASON, STATUS_HANDED_OVER
from campaign_handoff.retry_policy import RetryState

log = logging.getLogger(__name__)


class SchemaNotReady(RuntimeError):
    """The tracking database lacks migrations; the message names them and the fix."""


@dataclass(frozen=True)
class RecordedAttempt:
    attempt: int
    max_attempts: int
    is_final: bool
    email_sent_at: datetime | None
    newly_recorded: bool


class CampaignTracking:
    """Reads and writes ``campaign_status``, ``a1_retry_attempt`` and ``upload_log``."""

    def __init__(self, postgres_conn_id: str = CAMPAIGN_DB_CONN_ID) -> None:
        self.postgres_conn_id = postgres_conn_id

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        conn = PostgresHook(postgres_conn_id=self.postgres_conn_id).get_conn()
        try:
            with conn.transaction():
                yield conn
        finally:
            conn.close()

    def _rows(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        from psycopg.rows import dict_row

        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.load(query), params)
            return list(cur.fetchall()) if cur.description else []

    def check_schema(self) -> None:
        """Fail early, and say how to fix it, when migrations are missing."""
        from campaign_handoff.migrations import pending

        with self._connection() as conn:
            missing = pending(conn)
        if missing:
            raise SchemaNotReady(
                f"The tracking database ({self.postgres_conn_id}) lacks migration(s) {', '.join(missing)}. "
                "Apply them with 'python -m campaign_handoff.migrations' (or 'make migrate'), then clear "
                "this task."
            )

    def remember_seen(self, campaigns: list[dict[str, Any]], dam_status: str) -> None:
        """Insert or refresh one row per campaign found in the DAM."""
        if not campaigns:
            return
        with self._connection() as conn, conn.cursor() as cur:
            cur.executemany(
                sql.load("queries/upsert_seen_campaign.sql"),
                [
                    {
                        "campaign_id": c["campaign_id"],
                        "campaign_number": c.get("campaign_number"),
                        "campaign_name": c["campaign_name"],
                        "dam_status": dam_status,
                    }
                    for c in campaigns
                ],
            )

    def retry_state(self, campaign_id: str, dag_run_id: str) -> RetryState:
        rows = self._rows(
            "queries/read_retry_state.sql", {"campaign_id": campaign_id, "dag_run_id": dag_run_id}
        )
        if not rows:
            raise LookupError(
                f"Campaign {campaign_id!r} has no row in campaign_status; the find task adds one. "
                "Clear the whole run from its first task."
            )
        row = rows[0]
        return RetryState(
            retry_count=row["a1_retry_count"],
            last_retry_at=row["a1_last_retry_at"],
            permanently_failed=row["a1_permanently_failed"],
            failure_reason=row["a1_failure_reason"],
            max_retries=row["a1_max_retries"],
            attempt_of_this_run=row["attempt_of_this_run"],
            email_owed=row["email_owed"],
        )

    def record_missing_assets_attempt(
        self, campaign_id: str, dag_run_id: str, global_max: int, reason: str = MISSING_ASSETS_REASON
    ) -> RecordedAttempt | None:
        """Count this run's attempt (once); None when the campaign is already failed for good."""
        rows = self._rows(
            "queries/record_missing_assets_attempt.sql",
            {
                "campaign_id": campaign_id,
                "dag_run_id": dag_run_id,
                "global_max": global_max,
                "reason": reason,
            },
        )
        return RecordedAttempt(**rows[0]) if rows else None

    def latest_unsent_attempt(self, campaign_id: str) -> dict[str, Any] | None:
        rows = self._rows("queries/latest_unsent_attempt.sql", {"campaign_id": campaign_id})
        return rows[0] if rows else None

    def mark_emails_sent_through(self, campaign_id: str, dag_run_id: str) -> None:
        """The attempt of ``dag_run_id`` was emailed; older unsent ones are settled with it."""
        self._rows(
            "queries/mark_attempt_email_sent.sql", {"campaign_id": campaign_id, "dag_run_id": dag_run_id}
        )

    def tracked_in_status(self, dam_status: str) -> list[str]:
        return [
            r["campaign_id"] for r in self._rows("queries/tracked_in_status.sql", {"dam_status": dam_status})
        ]

    def set_dam_status(self, campaign_id: str, dam_status: str) -> None:
        self._rows(
            "queries/set_dam_status.sql",
            {"campaign_id": campaign_id, "dam_status": dam_status, "handed_over_status": STATUS_HANDED_OVER},
        )

    def claim_box_folder(self, box_folder_id: str, campaign_id: str, folder_name: str) -> str:
        """Claim the folder for the campaign (atomically); return the campaign that holds it."""
        from psycopg.rows import dict_row

        params = {"box_folder_id": box_folder_id, "campaign_id": campaign_id, "folder_name": folder_name}
        with self._connection() as conn, conn.cursor(row_factory=dict_row) as cur:
            cur.execute(sql.load("queries/claim_box_folder.sql"), params)
            cur.execute(sql.load("queries/box_folder_holder.sql"), params)
            return cur.fetchone()["campaign_id"]

    def set_box_folder(self, campaign_id: str, box_folder_id: str) -> None:
        self._rows("queries/set_box_folder.sql", {"campaign_id": campaign_id, "box_folder_id": box_folder_id})

    def log_upload(self, **row: Any) -> None:
        self._rows("queries/log_upload.sql", row)

    def uploads_of_run(self, campaign_id: str, dag_run_id: str) -> tuple[int, int]:
        row = self._rows(
            "queries/uploads_of_run.sql", {"campaign_id": campaign_id, "dag_run_id": dag_run_id}
        )[0]
        return int(row["files"]), int(row["bytes"])

    def mark_handed_over(self, campaign_id: str, box_folder_id: str, dam_status: str) -> None:
        self._rows(
            "queries/mark_handed_over.sql",
            {"campaign_id": campaign_id, "box_folder_id": box_folder_id, "dam_status": dam_status},
        )

    def run_query(self, relative_path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one SQL file of ``include/sql`` (a report query or an operator's file)."""
        return self._rows(relative_path, params)
