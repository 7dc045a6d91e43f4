"""The daily report: what the hand-off did today, what is retrying, what needs a person.

:func:`build_report` is a plain function of the rows, so its wording is tested without a
database; :func:`send_daily_report` reads the rows and sends it.
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass
from datetime import date, datetime
from email.message import EmailMessage
from typing import Any

import pendulum

from campaign_handoff import config, emails
from campaign_handoff.retry_policy import parse_max_retries
from campaign_handoff.tracking import CampaignTracking

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReportRows:
    handed_over: list[dict[str, Any]]
    retrying: list[dict[str, Any]]
    failed: list[dict[str, Any]]


def human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def build_report(day: date, rows: ReportRows) -> EmailMessage:
    total_files = sum(int(r["files"]) for r in rows.handed_over)
    total_bytes = sum(int(r["bytes"]) for r in rows.handed_over)
    subject = (
        f"Campaign hand-off report {day.isoformat()}: {len(rows.handed_over)} handed over, "
        f"{len(rows.retrying)} retrying, {len(rows.failed)} permanently failed"
    )
    sections: list[tuple[str, list[str]]] = [
        (
            f"Handed over to Box ({total_files} files, {human_bytes(total_bytes)})",
            [
                f"{r['campaign_name']} (id {r['campaign_id']}): {r['files']} file(s), "
                f"{human_bytes(int(r['bytes']))}, Box folder {r['box_folder_id']}"
                for r in rows.handed_over
            ],
        ),
        (
            "Retrying (Master Assets folder empty)",
            [
                f"{r['campaign_name']} (id {r['campaign_id']}): attempt {r['a1_retry_count']} of "
                f"{r['max_attempts']}, last at {r['a1_last_retry_at']:%Y-%m-%d %H:%M %Z}"
                for r in rows.retrying
            ],
        ),
        (
            "Permanently failed (skipped until reset)",
            [
                f"{r['campaign_name']} (id {r['campaign_id']}): "
                f"{r['a1_failure_reason'] or 'failed'}; reset with: "
                f"{emails.reset_sql(str(r['campaign_id']))}"
                for r in rows.failed
            ],
        ),
    ]
    text_parts = [subject, ""]
    html_parts = [f"<h2>{html.escape(subject)}</h2>"]
    for title, lines in sections:
        text_parts += [title, *(f"  - {line}" for line in lines or ["none"]), ""]
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines or ["none"])
        html_parts.append(f"<h3>{html.escape(title)}</h3><ul>{items}</ul>")
    if rows.failed:
        hint = (
            "A failed campaign needs its master assets in the DAM, then a reset (the SQL above, or the "
            "Airflow DAG reset_a1_retry_state)."
        )
        text_parts.append(hint)
        html_parts.append(f"<p>{html.escape(hint)}</p>")
    return emails.report_email(
        subject, "\n".join(text_parts) + "\n", "<html><body>" + "".join(html_parts) + "</body></html>"
    )


def report_window(run_at: datetime, timezone: str = config.TIMEZONE) -> tuple[datetime, datetime]:
    """The local day up to the run: from the same wall-clock time a day before, to the run.

    Consecutive reports meet without a gap, so hand-offs of the evening and the night
    after a report are in the next one. On a clock-change day the window is 23 or 25 hours.
    """
    local = pendulum.instance(run_at).in_timezone(timezone)
    return local.subtract(days=1), local


def send_daily_report(
    run_at: datetime,
    *,
    recipients_setting: str | None,
    max_retries_setting: str | None,
    tracking: CampaignTracking | None = None,
    smtp_conn_id: str = config.SMTP_CONN_ID,
) -> str:
    tracking = tracking or CampaignTracking()
    since, until = report_window(run_at)
    rows = ReportRows(
        handed_over=tracking.run_query("queries/report_handed_over.sql", {"since": since, "until": until}),
        retrying=tracking.run_query(
            "queries/report_retrying.sql", {"global_max": parse_max_retries(max_retries_setting)}
        ),
        failed=tracking.run_query("operations/list_failed.sql", {}),
    )
    message = build_report(until.date(), rows)
    emails.send(message, emails.parse_recipients(recipients_setting), smtp_conn_id=smtp_conn_id)
    log.info("Daily report for %s to %s sent: %s", since, until, message["Subject"])
    return str(message["Subject"])
