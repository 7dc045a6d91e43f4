"""Counting, resets and the operators' SQL against a real PostgreSQL server."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import psycopg
import pytest

from campaign_handoff import emails, handoff, resets, sql
from campaign_handoff.handoff import CampaignFacts
from campaign_handoff.retry_policy import Route, choose_route
from campaign_handoff.tracking import CampaignTracking

EMPTY = CampaignFacts("c-empty", "2026-017", "Winter 'Sale' ❄️ / outlet")


@pytest.fixture
def tracking(tracking_db) -> CampaignTracking:
    tracking = CampaignTracking()
    tracking.remember_seen([vars(EMPTY)], "A1")
    return tracking


def columns(db, campaign_id: str = EMPTY.campaign_id) -> tuple:
    return db.execute(
        "SELECT a1_retry_count, a1_last_retry_at IS NOT NULL, a1_permanently_failed, a1_failure_reason "
        "FROM campaign_status WHERE campaign_id = %s",
        (campaign_id,),
    ).fetchone()


def record(tracking, run_id: str, global_max: int = 3):
    return handoff.record_missing_assets(
        EMPTY, run_id, max_retries_setting=str(global_max), tracking=tracking
    )


def test_three_runs_count_three_attempts_and_the_third_is_final(tracking, db):
    assert record(tracking, "run-1")["attempt"] == 1
    assert record(tracking, "run-2") == {
        "attempt": 2,
        "max_attempts": 3,
        "is_final": False,
        "email_sent": False,
    }
    assert record(tracking, "run-3")["is_final"] is True
    assert columns(db) == (3, True, True, "No master assets found")
    assert record(tracking, "run-4") is None
    assert columns(db)[0] == 3


def test_a_retried_or_cleared_task_counts_its_run_once(tracking, db):
    first = record(tracking, "run-1")
    again = record(tracking, "run-1")
    assert first["attempt"] == again["attempt"] == 1
    assert columns(db)[0] == 1
    assert tracking.retry_state(EMPTY.campaign_id, "run-1").attempt_of_this_run == 1
    assert tracking.retry_state(EMPTY.campaign_id, "run-2").attempt_of_this_run is None


def test_the_last_attempt_rerun_in_the_same_run_still_reports_its_final_attempt(tracking):
    record(tracking, "run-1")
    record(tracking, "run-2")
    final = record(tracking, "run-3")
    assert record(tracking, "run-3") == final


def test_two_racing_executions_of_one_run_count_once(tracking, db):
    results, errors = [], []

    def attempt():
        try:
            results.append(record(tracking, "run-race"))
        except psycopg.errors.UniqueViolation as exc:  # the loser fails and Airflow retries it
            errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert columns(db)[0] == 1
    assert {r["attempt"] for r in results} == {1}
    assert len(results) + len(errors) == 6


def test_success_resets_all_four_columns(tracking, db):
    record(tracking, "run-1")
    record(tracking, "run-2")
    tracking.mark_handed_over(EMPTY.campaign_id, "box-folder-9", "A2")
    assert columns(db) == (0, False, False, None)
    assert db.execute("SELECT dam_status, box_folder_id FROM campaign_status").fetchone() == (
        "A2",
        "box-folder-9",
    )


@pytest.mark.parametrize(
    "reset_statement",
    [
        pytest.param(
            "UPDATE campaign_status SET a1_retry_count = 0, a1_last_retry_at = NULL, "
            "a1_permanently_failed = false, a1_failure_reason = NULL WHERE campaign_id = 'c-empty'",
            id="all-four-columns",
        ),
        pytest.param(
            "UPDATE campaign_status SET a1_retry_count = 0, a1_permanently_failed = false "
            "WHERE campaign_id = 'c-empty'",
            id="count-and-flag-only",
        ),
    ],
)
def test_an_operators_plain_sql_reset_makes_the_next_run_try_again(tracking, db, reset_statement):
    for run in ("run-1", "run-2", "run-3"):
        record(tracking, run)
    assert record(tracking, "run-4") is None
    db.execute(reset_statement)
    state = tracking.retry_state(EMPTY.campaign_id, "run-5")
    assert choose_route(state, has_master_assets=False, now=datetime.now(UTC)).route is Route.MISSING_ASSETS
    assert record(tracking, "run-5")["attempt"] == 1


def test_the_reset_sql_in_the_final_email_works_for_a_hostile_id(tracking_db, db):
    hostile = CampaignFacts("it's'); DROP TABLE campaign_status; --", None, "x")
    tracking = CampaignTracking()
    tracking.remember_seen([vars(hostile)], "A1")
    for run in ("r1", "r2", "r3"):
        handoff.record_missing_assets(hostile, run, max_retries_setting="3", tracking=tracking)
    db.execute(emails.reset_sql(hostile.campaign_id))
    assert columns(db, hostile.campaign_id) == (0, False, False, None)
    assert db.execute("SELECT count(*) FROM campaign_status").fetchone()[0] == 1


def test_per_campaign_limit_overrides_the_global_one(tracking, db):
    db.execute("UPDATE campaign_status SET a1_max_retries = 1 WHERE campaign_id = 'c-empty'")
    assert record(tracking, "run-1") == {
        "attempt": 1,
        "max_attempts": 1,
        "is_final": True,
        "email_sent": False,
    }


def test_email_sent_mark_stops_a_second_email_for_the_same_attempt(tracking):
    record(tracking, "run-1")
    tracking.mark_emails_sent_through(EMPTY.campaign_id, "run-1")
    assert record(tracking, "run-1")["email_sent"] is True


def test_ui_reset_runs_the_operators_files(tracking, db):
    for run in ("run-1", "run-2", "run-3"):
        record(tracking, run)
    assert resets.reset(resets.SCOPE_ONE, "c-empty", resets.COLUMNS_COUNT_AND_FLAG, tracking) == ["c-empty"]
    assert columns(db) == (0, True, False, "No master assets found")
    for run in ("run-4", "run-5", "run-6"):
        record(tracking, run)
    assert resets.reset(resets.SCOPE_ALL_FAILED, "", resets.COLUMNS_ALL, tracking) == ["c-empty"]
    assert columns(db) == (0, False, False, None)
    with pytest.raises(LookupError, match="No campaign with id"):
        resets.reset(resets.SCOPE_ONE, "nope", resets.COLUMNS_ALL, tracking)
    with pytest.raises(ValueError, match="needs a campaign_id"):
        resets.reset(resets.SCOPE_ONE, " ", resets.COLUMNS_ALL, tracking)


def test_operator_queries_answer_for_dashboards(tracking, db):
    tracking.remember_seen([{"campaign_id": "c-ok", "campaign_number": None, "campaign_name": "Fine"}], "A1")
    record(tracking, "run-1")
    record(tracking, "run-2")
    counts = {
        r["retry_stage"]: r["campaigns"] for r in tracking.run_query("operations/counts_by_attempt.sql", {})
    }
    assert counts == {"no issues": 1, "attempt 2": 1}
    near = tracking.run_query("operations/one_attempt_from_failing.sql", {"global_max": 3})
    assert [r["campaign_id"] for r in near] == ["c-empty"]
    status = tracking.run_query("operations/retry_status_of_campaign.sql", {"campaign_id": "c-empty"})
    assert status[0]["a1_retry_count"] == 2
    record(tracking, "run-3")
    assert [r["campaign_id"] for r in tracking.run_query("operations/list_failed.sql", {})] == ["c-empty"]


def test_sql_sensor_sees_a_permanently_failed_campaign(tracking, db):
    from airflow.providers.common.sql.sensors.sql import SqlSensor

    sensor = SqlSensor(
        task_id="watch", conn_id="campaign_db", sql=sql.load("operations/sensor_any_permanently_failed.sql")
    )
    assert not sensor.poke({})
    for run in ("run-1", "run-2", "run-3"):
        record(tracking, run)
    assert sensor.poke({})


def test_psql_variables_become_bind_parameters():
    text = sql.load("operations/one_attempt_from_failing.sql")
    assert "%(global_max)s::integer" in text
    assert ":'" not in text
