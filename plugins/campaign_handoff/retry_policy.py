"""The decisions of the hand-off, as plain functions: which way a campaign goes, and why.

Nothing here talks to a database, a DAM or Box, so every rule is tested without Airflow.
The counting itself happens in SQL (``queries/record_missing_assets_attempt.sql``), where it
is atomic; these functions only read the state that SQL keeps.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class Route(enum.StrEnum):
    """The three ways out of the branch, plus waiting out a backoff."""

    SKIP_FAILED = "skip_failed"
    UPLOAD = "upload"
    MISSING_ASSETS = "missing_assets"
    WAIT_BACKOFF = "wait_backoff"


@dataclass(frozen=True)
class RetryState:
    """A campaign's retry columns as the hand-off reads them at the start of its branch."""

    retry_count: int = 0
    last_retry_at: datetime | None = None
    permanently_failed: bool = False
    failure_reason: str | None = None
    max_retries: int | None = None
    #: Set when this DAG run already counted an attempt (a task retry or a clear).
    attempt_of_this_run: int | None = None
    #: An attempt's email has not gone out yet (relay down, no recipients set).
    email_owed: bool = False

    @property
    def counted_this_run(self) -> bool:
        """This DAG run's attempt still stands (a reset since then puts the count below it)."""
        return self.attempt_of_this_run is not None and self.retry_count >= self.attempt_of_this_run


@dataclass(frozen=True)
class Decision:
    route: Route
    reason: str


def parse_max_retries(raw: str | int | None, default: int = 3) -> int:
    """Read the global attempt limit; refuse anything that is not a whole number of at least 1."""
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        raise ValueError(f"a1_max_retries must be a whole number of at least 1, got {raw!r}") from None
    if value < 1:
        raise ValueError(f"a1_max_retries must be at least 1, got {value}")
    return value


def parse_backoff(raw: str | None) -> tuple[timedelta, ...]:
    """Read a backoff schedule such as ``"3, 10, 30"`` (minutes); empty means no wait."""
    if raw is None or not raw.strip():
        return ()
    waits = []
    for part in raw.split(","):
        try:
            minutes = float(part.strip())
        except ValueError:
            minutes = float("nan")
        if not 0 <= minutes <= 7 * 24 * 60:  # NaN fails this too
            raise ValueError(
                "a1_retry_backoff_minutes must be comma-separated minutes from 0 to 10080 (a week), "
                f"like '3,10,30'; got {raw!r}"
            )
        waits.append(timedelta(minutes=minutes))
    return tuple(waits)


def attempt_limit(state: RetryState, global_max: int) -> int:
    """The campaign's own limit when it has one, else the global one."""
    return state.max_retries if state.max_retries is not None else global_max


def next_attempt_allowed_at(state: RetryState, backoff: tuple[timedelta, ...]) -> datetime | None:
    """When the next attempt may be counted, or None when it may be counted now.

    The wait after attempt ``n`` is the ``n``-th entry of the schedule, the last entry
    repeating; it runs from ``a1_last_retry_at``.
    """
    if not backoff or state.retry_count < 1 or state.last_retry_at is None:
        return None
    wait = backoff[min(state.retry_count, len(backoff)) - 1]
    return state.last_retry_at + wait


def choose_route(
    state: RetryState,
    *,
    has_master_assets: bool | None,
    now: datetime,
    backoff: tuple[timedelta, ...] = (),
) -> Decision:
    """Pick the campaign's way through this run.

    ``has_master_assets`` is None when the DAM was not asked, which is only allowed for a
    permanently failed campaign: those are skipped without a DAM listing.
    """
    if state.counted_this_run:
        # A retry or clear of a run that already counted: finish that attempt (its email, if
        # it has not gone out), never count another one. After a reset the count is below
        # it, and the old run is decided afresh.
        return Decision(
            Route.MISSING_ASSETS, f"attempt {state.attempt_of_this_run} already counted by this run"
        )
    if state.permanently_failed:
        if state.email_owed:
            # Still no DAM listing and no counting: only the email that never went out.
            return Decision(Route.MISSING_ASSETS, "permanently failed, and its last email is still owed")
        return Decision(Route.SKIP_FAILED, state.failure_reason or "permanently failed")
    if has_master_assets is None:
        raise ValueError("the Master Assets listing is needed for a campaign that is not failed")
    if has_master_assets:
        return Decision(Route.UPLOAD, "master assets present")
    allowed_at = next_attempt_allowed_at(state, backoff)
    if allowed_at is not None and now < allowed_at:
        if state.email_owed:
            return Decision(Route.MISSING_ASSETS, "waiting out the backoff, but an attempt's email is owed")
        return Decision(Route.WAIT_BACKOFF, f"next attempt allowed at {allowed_at.isoformat()}")
    return Decision(Route.MISSING_ASSETS, "Master Assets folder is empty")
