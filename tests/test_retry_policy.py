"""The routing and limit rules, without Airflow or a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from campaign_handoff.retry_policy import (
    RetryState,
    Route,
    attempt_limit,
    choose_route,
    parse_backoff,
    parse_max_retries,
)

NOW = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("state", "has_assets", "route"),
    [
        pytest.param(RetryState(), True, Route.UPLOAD, id="assets-present"),
        pytest.param(RetryState(), False, Route.MISSING_ASSETS, id="empty-first-time"),
        pytest.param(RetryState(retry_count=2), True, Route.UPLOAD, id="assets-appear-before-the-limit"),
        pytest.param(
            RetryState(retry_count=3, permanently_failed=True), None, Route.SKIP_FAILED, id="failed"
        ),
        pytest.param(
            RetryState(retry_count=1, attempt_of_this_run=1), None, Route.MISSING_ASSETS, id="rerun"
        ),
    ],
)
def test_routes(state, has_assets, route):
    assert choose_route(state, has_master_assets=has_assets, now=NOW).route is route


def test_a_failed_campaign_needs_no_listing_but_others_do():
    with pytest.raises(ValueError, match="listing is needed"):
        choose_route(RetryState(), has_master_assets=None, now=NOW)


def test_backoff_waits_from_last_retry_then_allows_the_attempt():
    backoff = parse_backoff("3, 10, 30")
    state = RetryState(retry_count=2, last_retry_at=NOW - timedelta(minutes=9))
    assert choose_route(state, has_master_assets=False, now=NOW, backoff=backoff).route is Route.WAIT_BACKOFF
    later = NOW + timedelta(minutes=1)
    assert (
        choose_route(state, has_master_assets=False, now=later, backoff=backoff).route is Route.MISSING_ASSETS
    )
    # Assets that appear during a wait are uploaded at once.
    assert choose_route(state, has_master_assets=True, now=NOW, backoff=backoff).route is Route.UPLOAD


def test_the_last_backoff_entry_repeats():
    state = RetryState(retry_count=5, last_retry_at=NOW - timedelta(minutes=29))
    assert choose_route(state, has_master_assets=False, now=NOW, backoff=parse_backoff("3,30")).route is (
        Route.WAIT_BACKOFF
    )


@pytest.mark.parametrize("raw", ["zero", "0", "-1", "2.5"])
def test_bad_max_retries_is_refused_clearly(raw):
    with pytest.raises(ValueError, match="a1_max_retries"):
        parse_max_retries(raw)


def test_settings_defaults_reproduce_the_original():
    assert parse_max_retries("") == 3
    assert parse_backoff("") == ()
    assert attempt_limit(RetryState(), 3) == 3
    assert attempt_limit(RetryState(max_retries=5), 3) == 5


def test_bad_backoff_is_refused_clearly():
    with pytest.raises(ValueError, match="comma-separated minutes"):
        parse_backoff("3m,10m")


@pytest.mark.parametrize(
    ("exception", "action"),
    [
        pytest.param("campaign_handoff.tracking.SchemaNotReady", "fail", id="missing-migration"),
        pytest.param("campaign_handoff.otmm_hook.OtmmAuthError", "fail", id="wrong-dam-password"),
        pytest.param("builtins.ValueError", "fail", id="bad-setting"),
        pytest.param("builtins.ConnectionError", "default", id="network-blip-keeps-retries"),
        pytest.param(
            "campaign_handoff.otmm_hook.OtmmUnavailableError", "default", id="dam-503-keeps-retries"
        ),
    ],
)
def test_task_retry_policy_fails_fast_only_where_a_retry_cannot_help(exception, action):
    from airflow.sdk.module_loading import import_string

    from campaign_handoff.retries import HANDOFF_RETRY_POLICY

    cls = import_string(exception)
    instance = cls.__new__(cls)
    decision = HANDOFF_RETRY_POLICY.evaluate(instance, try_number=1, max_tries=3)
    assert decision.action.value == action
