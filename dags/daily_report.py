"""
### Daily hand-off report, 19:00 local time every day

Emails `handoff_report_recipients` (falling back to `handoff_error_recipients`) a summary of
the day: campaigns handed over to Box with file counts and bytes, campaigns still retrying,
and campaigns permanently failed with the SQL that resets each one.

**Needs** connections `campaign_db` and `smtp_default`.

**If it fails**: nothing else depends on it; clear the task once the database or the SMTP
relay is back. The report covers local midnight up to the run, so a late re-run reports the
same day.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import DAG, CronTriggerTimetable, get_current_context, task

from campaign_handoff import config, report

with DAG(
    dag_id="daily_report",
    description="Daily summary of the campaign hand-off",
    doc_md=__doc__,
    schedule=CronTriggerTimetable("0 19 * * *", timezone=config.TIMEZONE),
    start_date=pendulum.datetime(2026, 1, 1, tz=config.TIMEZONE),
    catchup=False,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=5)},
    tags=["campaign-handoff", "report"],
) as dag:

    @task
    def send_report() -> str:
        context = get_current_context()
        run_at = context["dag_run"].run_after
        recipients = config.setting("handoff_report_recipients") or config.setting("handoff_error_recipients")
        return report.send_daily_report(
            run_at,
            recipients_setting=recipients,
            max_retries_setting=config.setting("a1_max_retries"),
        )

    send_report()
