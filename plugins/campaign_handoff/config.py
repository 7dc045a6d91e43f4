"""Connection ids, Airflow Variable names and their defaults, defined once.

Nothing here touches the metadata database at import time: DAG files import this module
while they parse. Values are read inside tasks through :func:`load_settings`.
"""

from __future__ import annotations

import os

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


#: Every Airflow Variable the DAGs read, with the default used when it is not set (the
#: README's table lists the same names and meanings).
VARIABLE_DEFAULTS: dict[str, str] = {
    "a1_max_retries": "3",
    "a1_retry_backoff_minutes": "",
    "handoff_error_recipients": "",
    "handoff_report_recipients": "",
    "box_root_folder_id": "0",
    "box_chunked_upload_threshold_mb": "50",
}


def setting(name: str) -> str:
    """An Airflow Variable's value, or its default. Call it inside tasks only, never at parse time."""
    from airflow.sdk import Variable

    return Variable.get(name, default=VARIABLE_DEFAULTS[name])
