"""Connection ids, Airflow Variable names and their defaults, defined once.

Nothing here touches the metadata database at import time: DAG files import this module
while they parse. Values are read inside tasks through :func:`load_settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

CAMPAIGN_DB_CONN_ID = "campaign_db"
SMTP_CONN_ID = "smtp_default"
OTMM_CONN_ID = "otmm_default"
BOX_CONN_ID = "box_default"

#: The zone of the cadence and the daily report. Read from the environment because a
#: schedule is fixed when the DAG file parses, when no Variable may be read.
TIMEZONE = os.environ.get("HANDOFF_TIMEZONE", "Europe/Rome")

#: "timetable" (the default) schedules the hand-off on its cadence; "manual" leaves it to
#: triggered runs only, which the local demo and the end-to-end test use so that no
#: scheduled run slips between the runs they trigger and count.
SCHEDULE_MODE = os.environ.get("HANDOFF_SCHEDULE_MODE", "timetable")

#: Seconds before Airflow retries a failed hand-off task (doubling each time). The end-to-end
#: test shortens it to see a real retry quickly.
TASK_RETRY_DELAY_SECONDS = float(os.environ.get("HANDOFF_TASK_RETRY_DELAY_SECONDS", "30"))

STATUS_TO_HAND_OVER = "A1"
STATUS_HANDED_OVER = "A2"
MISSING_ASSETS_REASON = "No master assets found"


@dataclass(frozen=True)
class Variable:
    name: str
    default: str
    help: str


VARIABLES: tuple[Variable, ...] = (
    Variable("a1_max_retries", "3", "Attempts before a campaign with no master assets is failed for good."),
    Variable(
        "a1_retry_backoff_minutes",
        "",
        "Minimum wait before attempt 2, 3, ... as comma-separated minutes (e.g. '3,10,30'); "
        "empty means one attempt per run.",
    ),
    Variable("handoff_error_recipients", "", "Comma-separated addresses of the support team."),
    Variable("handoff_report_recipients", "", "Comma-separated addresses of the daily report."),
    Variable("box_root_folder_id", "0", "Box folder under which each campaign gets its folder."),
    Variable(
        "box_chunked_upload_threshold_mb",
        "50",
        "Files at or above this size (MiB) go through a chunked upload session; Box needs >= 20 MB.",
    ),
)
