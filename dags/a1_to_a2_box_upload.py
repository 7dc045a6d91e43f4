"""
### Campaign hand-off: DAM (OTMM) to Box, status A1 to A2

Every run finds the campaigns whose DAM status is **A1** and, for each one, takes one way:

- **permanently failed** (`a1_permanently_failed` is true): skipped, with no DAM listing,
  no upload and no email;
- **Master Assets present**: find or create the campaign's Box folder under
  `box_root_folder_id`, upload and verify (size and SHA-1) every master asset, set the DAM
  status to **A2**, reset the retry columns and log the files in `upload_log`;
- **Master Assets empty**: count one failed attempt (at most one per run, however often a
  task is retried or cleared) and email `handoff_error_recipients`; the last attempt
  (`a1_max_retries`, default 3) sends the final email and fails the campaign for good.

**Needs** connections `otmm_default`, `box_default`, `campaign_db`, `smtp_default`, the
Variables listed in the README, and the migrations of `include/sql/migrations` applied.

**If it fails**: the task log names the campaign and what to do. Tasks are safe to clear:
counting, emails, uploads and the status change each happen once per run. To try a
permanently failed campaign again, trigger `reset_a1_retry_state` or run
`include/sql/operations/reset_campaign.sql`.

Cadence: every 3 minutes in business hours, at :00 and :30 at night and on weekends.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pendulum
from airflow.sdk import DAG, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowSkipException

from campaign_handoff import config, handoff
from campaign_handoff.handoff import CampaignFacts
from campaign_handoff.retries import HANDOFF_RETRY_POLICY
from campaign_handoff.timetable import OffHoursTimetable

log = logging.getLogger(__name__)

DAG_ID = "a1_to_a2_box_upload"
GROUP_ID = "campaign"
ROUTE_TASK_ID = f"{GROUP_ID}.route_campaign"


def _run_id() -> str:
    return get_current_context()["run_id"]


def _proceed_only_if_routed_here(own_task_id: str) -> None:
    """Skip this path unless the branch chose it for this map index.

    In Airflow 3.3.2 a branch inside a mapped task group does not skip the paths it did not
    choose (apache/airflow#67265). Each path's first task therefore reads the branch's
    choice for its own map index and skips itself, which skips the rest of its path too.
    Workaround for apache/airflow#67265: once a release with its fix is pinned the guard is
    redundant and can go (the per-map-index routing tests show whether it still is needed).
    """
    ti = get_current_context()["ti"]
    chosen = ti.xcom_pull(task_ids=ROUTE_TASK_ID, map_indexes=ti.map_index)
    chosen_ids = {chosen} if isinstance(chosen, str) else set(chosen or ())
    if f"{GROUP_ID}.{own_task_id}" not in chosen_ids:
        raise AirflowSkipException(f"The branch routed this campaign to {sorted(chosen_ids)}")


with DAG(
    dag_id=DAG_ID,
    description="Hand campaign master assets from the DAM to Box and set them to A2",
    doc_md=__doc__,
    schedule=(
        None
        if config.SCHEDULE_MODE == "manual"
        else OffHoursTimetable(interval=timedelta(minutes=3), timezone=config.TIMEZONE)
    ),
    start_date=pendulum.datetime(2026, 1, 1, tz=config.TIMEZONE),
    catchup=False,
    max_active_runs=1,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=config.TASK_RETRY_DELAY_SECONDS),
        "retry_exponential_backoff": 2.0,
        "retry_policy": HANDOFF_RETRY_POLICY,
    },
    tags=["campaign-handoff", "otmm", "box"],
) as dag:

    @task
    def find_a1_campaigns() -> list[dict]:
        return handoff.find_campaigns_to_hand_over()

    @task_group(group_id=GROUP_ID)
    def campaign(campaign: dict):
        @task.branch
        def route_campaign(campaign: dict) -> str:
            decision = handoff.decide_route(
                CampaignFacts.of(campaign),
                _run_id(),
                backoff_setting=config.setting("a1_retry_backoff_minutes"),
            )
            return f"{GROUP_ID}.{handoff.ROUTE_TASKS[decision.route]}"

        @task
        def skip_campaign(campaign: dict) -> None:
            _proceed_only_if_routed_here("skip_campaign")
            log.info("Campaign %s skipped this run; route_campaign's log says why.", campaign["campaign_id"])

        @task_group(group_id="upload")
        def upload(campaign: dict):
            @task
            def ensure_box_folder(campaign: dict) -> str:
                _proceed_only_if_routed_here("upload.ensure_box_folder")
                return handoff.ensure_box_folder(
                    CampaignFacts.of(campaign), config.setting("box_root_folder_id")
                )

            @task(pool="box_uploads")
            def upload_assets(campaign: dict, box_folder_id: str) -> dict:
                return handoff.upload_master_assets(
                    CampaignFacts.of(campaign),
                    box_folder_id,
                    _run_id(),
                    chunked_threshold_bytes=handoff.parse_threshold_mb(
                        config.setting("box_chunked_upload_threshold_mb")
                    ),
                )

            @task
            def set_dam_status_a2(campaign: dict) -> None:
                handoff.set_dam_status_handed_over(CampaignFacts.of(campaign))

            @task
            def mark_handed_over(campaign: dict, box_folder_id: str) -> dict:
                return handoff.mark_handed_over(CampaignFacts.of(campaign), box_folder_id, _run_id())

            folder_id = ensure_box_folder(campaign)
            uploaded = upload_assets(campaign, folder_id)
            status_set = set_dam_status_a2(campaign)
            uploaded >> status_set >> mark_handed_over(campaign, folder_id)

        @task
        def record_missing_assets(campaign: dict) -> dict | None:
            _proceed_only_if_routed_here("record_missing_assets")
            return handoff.record_missing_assets(
                CampaignFacts.of(campaign),
                _run_id(),
                max_retries_setting=config.setting("a1_max_retries"),
                backoff_setting=config.setting("a1_retry_backoff_minutes"),
            )

        @task
        def send_missing_assets_email(campaign: dict) -> bool:
            return handoff.email_missing_assets(
                CampaignFacts.of(campaign),
                _run_id(),
                recipients_setting=config.setting("handoff_error_recipients"),
                backoff_setting=config.setting("a1_retry_backoff_minutes"),
            )

        route = route_campaign(campaign)
        attempt = record_missing_assets(campaign)
        route >> [skip_campaign(campaign), upload(campaign), attempt]
        attempt >> send_missing_assets_email(campaign)

    campaign.expand(campaign=find_a1_campaigns())
