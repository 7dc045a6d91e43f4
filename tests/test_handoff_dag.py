"""The hand-off DAG run with ``dag.test()`` against real PostgreSQL, SMTP, OTMM and Box servers.

These prove the routing per map index in one run with three A1 campaigns (assets, empty,
permanently failed), the upload and verification in Box, the DAM status change and the
emails. The same DAG through the real scheduler is ``test_end_to_end.py``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from local_stack.smtp_sink import read_messages

pytest_plugins = ("tests.otmm_fixtures", "tests.box_fixtures")

REPO = Path(__file__).resolve().parents[1]
FAILED_ID = "c-failed-2019"


@pytest.fixture
def handoff_env(airflow_db, tracking_db, db, smtp_sink, otmm_stack, box_conn, monkeypatch):
    """Everything the DAG needs, with a fourth campaign already permanently failed."""
    otmm_stack.connect()
    otmm_stack.add_campaign(FAILED_ID, "Old 'Promo' / 2019 🎞️", "A1")
    db.execute(
        "INSERT INTO campaign_status (campaign_id, campaign_name, dam_status, a1_retry_count, "
        "a1_last_retry_at, a1_permanently_failed, a1_failure_reason) "
        "VALUES (%s, %s, 'A1', 3, now(), true, 'No master assets found')",
        (FAILED_ID, "Old 'Promo' / 2019 🎞️"),
    )
    for name, value in {
        "handoff_error_recipients": "support@example.com",
        "a1_max_retries": "3",
        "box_root_folder_id": "0",
        "box_chunked_upload_threshold_mb": "20",
        "a1_retry_backoff_minutes": "",
    }.items():
        monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", value)
    return {"db": db, "smtp": smtp_sink, "otmm": otmm_stack, "box": box_conn, "airflow_db": airflow_db}


def load_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / "a1_to_a2_box_upload.py"))
    assert bag.import_errors == {}
    return bag.dags["a1_to_a2_box_upload"]


def states_by_campaign(airflow_db: Path, run_id: str) -> dict[str, dict[str, str]]:
    """{campaign_id: {task_id: state}} for one run, joining map indexes to the found list."""
    with sqlite3.connect(airflow_db) as conn:
        (found,) = conn.execute(
            "SELECT value FROM xcom WHERE run_id = ? AND task_id = 'find_a1_campaigns' "
            "AND key = 'return_value'",
            (run_id,),
        ).fetchone()
        campaigns = json.loads(found)
        if isinstance(campaigns, str):
            campaigns = json.loads(campaigns)
        rows = conn.execute(
            "SELECT task_id, map_index, state FROM task_instance WHERE run_id = ? AND map_index >= 0",
            (run_id,),
        ).fetchall()
    result: dict[str, dict[str, str]] = {c["campaign_id"]: {} for c in campaigns}
    for task_id, map_index, state in rows:
        result[campaigns[map_index]["campaign_id"]][task_id.removeprefix("campaign.")] = state
    return result


UPLOAD_PATH = (
    "upload.ensure_box_folder",
    "upload.upload_assets",
    "upload.set_dam_status_a2",
    "upload.mark_handed_over",
)
EMAIL_PATH = ("record_missing_assets", "send_missing_assets_email")


def test_each_campaign_takes_only_its_own_path(handoff_env):
    env = handoff_env
    spring = env["otmm"].sample("Café Spring")
    autumn = env["otmm"].sample("Autumn")
    dag = load_dag()

    run = dag.test()

    assert run.state == "success"
    states = states_by_campaign(env["airflow_db"], run.run_id)
    assert set(states) == {spring.id, autumn.id, FAILED_ID}  # the A2 campaign is not found

    def path_states(campaign_id, names):
        return {states[campaign_id][n] for n in names}

    assert path_states(spring.id, UPLOAD_PATH) == {"success"}
    assert path_states(spring.id, (*EMAIL_PATH, "skip_campaign")) == {"skipped"}
    assert path_states(autumn.id, EMAIL_PATH) == {"success"}
    assert path_states(autumn.id, (*UPLOAD_PATH, "skip_campaign")) == {"skipped"}
    assert states[FAILED_ID]["skip_campaign"] == "success"
    assert path_states(FAILED_ID, (*UPLOAD_PATH, *EMAIL_PATH)) == {"skipped"}

    # Assets: every file in Box with the source's size and SHA-1, DAM in A2, state reset, logged.
    tree = env["box"].tree(verify=True)
    in_box = {f["name"]: (f["size"], f["sha1"]) for f in tree["files"]}
    for asset in spring.master_assets:
        assert in_box[asset.path.name] == (asset.size, asset.sha1)
    assert env["otmm"].campaign_json(spring.id)["status"] == "A2"
    db = env["db"]
    assert db.execute(
        "SELECT dam_status, a1_retry_count, a1_permanently_failed, box_folder_id IS NOT NULL "
        "FROM campaign_status WHERE campaign_id = %s",
        (spring.id,),
    ).fetchone() == ("A2", 0, False, True)
    methods = dict(
        db.execute("SELECT file_name, upload_method FROM upload_log WHERE campaign_id = %s", (spring.id,))
    )
    assert len(methods) == len(spring.master_assets)
    assert "chunked" in methods.values() and "direct" in methods.values()

    # Empty: attempt 1 counted and its email sent, once. Failed: untouched, no listing, no email.
    assert db.execute(
        "SELECT a1_retry_count, a1_permanently_failed FROM campaign_status WHERE campaign_id = %s",
        (autumn.id,),
    ).fetchone() == (1, False)
    subjects = [str(m["Subject"]) for m in read_messages(env["smtp"].out_dir)]
    assert subjects == [f"⚠️ No Assets Found (Attempt 1/3) - Campaign {autumn.name}"]
    assert db.execute(
        "SELECT a1_retry_count FROM campaign_status WHERE campaign_id = %s", (FAILED_ID,)
    ).fetchone() == (3,)
    assert not env["otmm"].requests_made("GET", f"/folders/{FAILED_ID}/children")


def test_three_runs_fail_the_empty_campaign_then_a_fourth_sends_nothing(handoff_env):
    env = handoff_env
    autumn = env["otmm"].sample("Autumn")
    dag = load_dag()
    subjects_per_run = []
    for _ in range(4):
        before = len(read_messages(env["smtp"].out_dir))
        assert dag.test().state == "success"
        subjects_per_run.append([str(m["Subject"]) for m in read_messages(env["smtp"].out_dir)[before:]])
    assert subjects_per_run == [
        [f"⚠️ No Assets Found (Attempt 1/3) - Campaign {autumn.name}"],
        [f"⚠️ No Assets Found (Attempt 2/3) - Campaign {autumn.name}"],
        [f"PERMANENTLY FAILED - Campaign {autumn.name} (No Assets After 3 Attempts)"],
        [],
    ]
    assert env["db"].execute(
        "SELECT a1_retry_count, a1_permanently_failed, a1_failure_reason "
        "FROM campaign_status WHERE campaign_id = %s",
        (autumn.id,),
    ).fetchone() == (3, True, "No master assets found")


def test_assets_that_appear_before_the_limit_are_uploaded_and_reset_the_state(handoff_env):
    env = handoff_env
    autumn = env["otmm"].sample("Autumn")
    dag = load_dag()
    assert dag.test().state == "success"
    (env["otmm"].campaigns_dir / autumn.id / "Master Assets" / "late.pdf").write_bytes(
        b"%PDF-1.4\n%late\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    )
    assert dag.test().state == "success"
    assert env["db"].execute(
        "SELECT dam_status, a1_retry_count, a1_last_retry_at, a1_permanently_failed, a1_failure_reason "
        "FROM campaign_status WHERE campaign_id = %s",
        (autumn.id,),
    ).fetchone() == ("A2", 0, None, False, None)
    assert env["otmm"].campaign_json(autumn.id)["status"] == "A2"


def test_a_campaign_moved_out_of_a1_is_no_longer_touched(handoff_env):
    env = handoff_env
    autumn = env["otmm"].sample("Autumn")
    dag = load_dag()
    assert dag.test().state == "success"
    meta_path = env["otmm"].campaigns_dir / autumn.id / "campaign.json"
    meta = json.loads(meta_path.read_text("utf-8"))
    meta["status"] = "A0"
    meta_path.write_text(json.dumps(meta, ensure_ascii=False), "utf-8")
    mails_before = len(read_messages(env["smtp"].out_dir))
    run = dag.test()
    assert run.state == "success"
    assert autumn.id not in states_by_campaign(env["airflow_db"], run.run_id)
    assert len(read_messages(env["smtp"].out_dir)) == mails_before
    assert env["db"].execute(
        "SELECT a1_retry_count FROM campaign_status WHERE campaign_id = %s", (autumn.id,)
    ).fetchone() == (1,)
