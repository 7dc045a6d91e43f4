"""The hand-off through a real Airflow: scheduler, dag-processor, api-server, LocalExecutor.

One long scenario on the local stack (PostgreSQL, SMTP sink, OTMM and Box servers), with
the settings loaded from ``airflow_settings.yaml`` into the metadata database as the demo
does. Runs are triggered from the CLI and executed by the scheduler's executor; states are
read back from the metadata database, per map index.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local_stack import postgres
from local_stack.airflow_local import LocalAirflow
from local_stack.stack import LocalStack

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[1]

DAG_ID = "a1_to_a2_box_upload"
FAILED_ID = "e2e-failed-campaign"
SPRING = "Café Spring"
AUTUMN = "Autumn Teaser"


PROBE_DAG = """
from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

from campaign_handoff.timetable import OffHoursTimetable

with DAG(
    dag_id="cadence_probe",
    schedule=OffHoursTimetable(interval=timedelta(minutes=3), timezone="America/New_York"),
    start_date=pendulum.datetime(2026, 1, 1, tz="America/New_York"),
    catchup=False,
):
    EmptyOperator(task_id="noop")
"""


def dags_with_cadence_probe(folder: Path) -> Path:
    """The project's DAG files, plus a paused DAG on the real Timetable.

    The hand-off itself runs on manual triggers here (so no scheduled run slips between
    the counted ones); the probe lets the real dag-processor serialize the plugin's
    Timetable and the scheduler compute its next run.
    """
    folder.mkdir()
    for dag_file in (REPO / "dags").glob("*.py"):
        (folder / dag_file.name).symlink_to(dag_file)
    (folder / "cadence_probe.py").write_text(PROBE_DAG)
    return folder


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    stack = LocalStack(root=root).start()
    airflow = None
    try:
        stack.apply_migrations()
        failed_dir = stack.campaigns_dir / FAILED_ID
        (failed_dir / "Master Assets").mkdir(parents=True)
        (failed_dir / "campaign.json").write_text(
            json.dumps({"id": FAILED_ID, "number": "OLD-1", "name": "Old 'Promo' / 2019", "status": "A1"}),
            "utf-8",
        )
        with stack.tracking_connection() as conn:
            conn.execute(
                "INSERT INTO campaign_status (campaign_id, campaign_name, dam_status, a1_retry_count, "
                "a1_last_retry_at, a1_permanently_failed, a1_failure_reason) "
                "VALUES (%s, 'Old ''Promo'' / 2019', 'A1', 3, now(), true, 'No master assets found')",
                (FAILED_ID,),
            )
        postgres.create_database(stack.pg, "airflow")
        airflow = LocalAirflow(
            home=root / "airflow",
            postgres=stack.pg,
            extra_env={"HANDOFF_SCHEDULE_MODE": "manual", "HANDOFF_TASK_RETRY_DELAY_SECONDS": "1"},
            dags_folder=dags_with_cadence_probe(root / "dags"),
        )
        airflow.migrate()
        airflow.import_settings(
            stack.settings.for_cli_import(), stack.settings.variables, stack.settings.pools
        )
        airflow.start()
        airflow.wait_for_dag(DAG_ID)
        airflow.unpause(DAG_ID)
        yield stack, airflow
    finally:
        if airflow is not None:
            airflow.stop()
        stack.stop(discard_data=True)


def campaign_ids(stack: LocalStack) -> dict[str, str]:
    ids = {}
    for path in stack.campaigns_dir.glob("*/campaign.json"):
        meta = json.loads(path.read_text("utf-8"))
        ids[meta["name"]] = meta["id"]
    return {prefix: next(i for n, i in ids.items() if n.startswith(prefix)) for prefix in (SPRING, AUTUMN)}


def found_campaigns(airflow: LocalAirflow, run_id: str) -> list[dict]:
    """The list find_a1_campaigns returned: its order is the map index order."""
    (found,) = airflow.xcom_values(DAG_ID, run_id, "find_a1_campaigns").values()
    return json.loads(found) if isinstance(found, str) else found


def per_campaign_states(airflow: LocalAirflow, run_id: str) -> dict[str, dict[str, str]]:
    campaigns = found_campaigns(airflow, run_id)
    result: dict[str, dict[str, str]] = {c["campaign_id"]: {} for c in campaigns}
    for (task_id, map_index), state in airflow.task_states(DAG_ID, run_id).items():
        if map_index >= 0:
            result[campaigns[map_index]["campaign_id"]][task_id.removeprefix("campaign.")] = state
    return result


def retry_columns(stack: LocalStack, campaign_id: str) -> tuple:
    with stack.tracking_connection() as conn:
        return conn.execute(
            "SELECT a1_retry_count, a1_permanently_failed FROM campaign_status WHERE campaign_id = %s",
            (campaign_id,),
        ).fetchone()


def subjects(stack: LocalStack) -> list[str]:
    return [str(m["Subject"]) for m in stack.emails()]


def run(airflow: LocalAirflow, number: int) -> str:
    run_id = f"e2e_run_{number}"
    airflow.trigger(DAG_ID, run_id, logical_date=f"2026-01-01T00:{number:02d}:00+00:00")
    assert airflow.wait_for_run(DAG_ID, run_id) == "success"
    return run_id


UPLOAD = {
    "upload.ensure_box_folder",
    "upload.upload_assets",
    "upload.set_dam_status_a2",
    "upload.mark_handed_over",
}
EMAIL = {"record_missing_assets", "send_missing_assets_email"}


def test_the_hand_off_through_the_scheduler(running):
    stack, airflow = running
    ids = campaign_ids(stack)
    spring, autumn = ids[SPRING], ids[AUTUMN]

    # Run 1: three A1 campaigns, each on its own path at its own map index.
    run_id = run(airflow, 1)
    states = per_campaign_states(airflow, run_id)
    assert set(states) == {spring, autumn, FAILED_ID}
    assert {states[spring][t] for t in UPLOAD} == {"success"}
    assert {states[spring][t] for t in EMAIL | {"skip_campaign"}} == {"skipped"}
    assert {states[autumn][t] for t in EMAIL} == {"success"}
    assert {states[autumn][t] for t in UPLOAD | {"skip_campaign"}} == {"skipped"}
    assert states[FAILED_ID]["skip_campaign"] == "success"
    assert {states[FAILED_ID][t] for t in UPLOAD | EMAIL} == {"skipped"}
    assert retry_columns(stack, autumn) == (1, False)
    assert retry_columns(stack, FAILED_ID) == (3, True)
    assert len(subjects(stack)) == 1 and "Attempt 1/3" in subjects(stack)[0]
    assert json.loads((stack.campaigns_dir / spring / "campaign.json").read_text("utf-8"))["status"] == "A2"

    # An operator clears the whole campaign group of run 1: nothing is counted or sent twice.
    tries_before = airflow.try_numbers(DAG_ID, run_id, "campaign.record_missing_assets")
    group_tasks = sorted({t for t, _ in airflow.task_states(DAG_ID, run_id) if t.startswith("campaign.")})
    assert airflow.clear(DAG_ID, run_id, group_tasks) == 3 * len(group_tasks)
    assert airflow.wait_for_run(DAG_ID, run_id) == "success"
    tries_after = airflow.try_numbers(DAG_ID, run_id, "campaign.record_missing_assets")
    assert all(tries_after[i] == tries_before[i] + 1 for i in tries_before), (tries_before, tries_after)
    assert per_campaign_states(airflow, run_id)[autumn]["send_missing_assets_email"] == "success"
    assert retry_columns(stack, autumn) == (1, False)
    assert len(subjects(stack)) == 1

    # Run 2: the relay refuses every send of the email task's first try (the hook tries three
    # times); Airflow retries the task, which sends the attempt's one email; nothing recounted.
    stack.smtp.refuse_next(3)
    run_id = run(airflow, 2)
    email_tries = airflow.try_numbers(DAG_ID, run_id, "campaign.send_missing_assets_email")
    record_tries = airflow.try_numbers(DAG_ID, run_id, "campaign.record_missing_assets")
    autumn_index = next(
        i for i, c in enumerate(found_campaigns(airflow, run_id)) if c["campaign_id"] == autumn
    )
    assert email_tries[autumn_index] == 2
    assert record_tries[autumn_index] == 1
    assert retry_columns(stack, autumn) == (2, False)
    assert sum("Attempt 2/3" in s for s in subjects(stack)) == 1

    # Run 3 finishes the empty campaign; run 4 leaves it alone.
    run(airflow, 3)
    run(airflow, 4)
    assert [s.split(" - ")[0] for s in subjects(stack)] == [
        "⚠️ No Assets Found (Attempt 1/3)",
        "⚠️ No Assets Found (Attempt 2/3)",
        "PERMANENTLY FAILED",
    ]
    assert retry_columns(stack, autumn) == (3, True)

    # The reset DAG (count and flag only) makes the next run try again from attempt 1.
    airflow.unpause("reset_a1_retry_state")
    airflow.trigger(
        "reset_a1_retry_state",
        "e2e_reset",
        conf={"scope": "one campaign", "campaign_id": autumn, "columns": "count and flag"},
    )
    assert airflow.wait_for_run("reset_a1_retry_state", "e2e_reset") == "success"
    assert retry_columns(stack, autumn) == (0, False)
    run(airflow, 5)
    assert retry_columns(stack, autumn) == (1, False)
    assert "Attempt 1/3" in subjects(stack)[-1]

    # Moved out of A1 in the DAM: no longer found, its row stays as it was, no email.
    meta_path = stack.campaigns_dir / autumn / "campaign.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta_path.write_text(json.dumps({**meta, "status": "A0"}, ensure_ascii=False), "utf-8")
    mails = len(subjects(stack))
    run_id = run(airflow, 6)
    assert autumn not in per_campaign_states(airflow, run_id)
    assert retry_columns(stack, autumn) == (1, False)
    assert len(subjects(stack)) == mails


def test_settings_came_from_airflow_settings_yaml(running):
    _, airflow = running
    listed = airflow.cli("connections", "list", "-o", "json")
    conn_ids = {c["conn_id"] for c in json.loads(listed)}
    assert {"campaign_db", "smtp_default", "otmm_default", "box_default"} <= conn_ids
    assert "local-only-placeholder" not in Path(airflow.home / "component-logs" / "scheduler.log").read_text()


def test_the_real_dag_processor_and_scheduler_use_the_plugins_timetable(running):
    _, airflow = running
    airflow.wait_for_dag("cadence_probe")
    row = airflow.dag_row("cadence_probe")
    assert row["timetable_type"] == "campaign_handoff.timetable.OffHoursTimetable"
    assert "America/New_York" in row["timetable_summary"]
    assert "America/New_York" in row["timetable_description"]
    assert row["is_paused"] is True
    from datetime import timedelta

    from campaign_handoff.timetable import OffHoursTimetable

    cadence = OffHoursTimetable(interval=timedelta(minutes=3), timezone="America/New_York").schedule
    next_run = row["next_dagrun"]
    assert next_run is not None
    assert cadence.first_run_at_or_after(next_run) == next_run  # a valid run instant of the cadence
