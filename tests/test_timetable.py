"""Tests of the hand-off cadence, ``campaign_handoff.timetable``.

Instants are aware pendulum datetimes. Ordinary days are written in local time; instants on
clock-change days are written in UTC with the local reading in the comment, because a local
reading alone does not say which pass of a repeated hour is meant.
"""

from __future__ import annotations

import datetime as dt
import functools
import importlib.util
import json
import os
import pathlib
import subprocess
import sys
import zoneinfo
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import pendulum
import pytest
import time_machine
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from airflow.timetables.trigger import CronTriggerTimetable
from airflow.utils.types import DagRunType
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from campaign_handoff.timetable import OffHoursTimetable

REPO = pathlib.Path(__file__).resolve().parents[1]
PLUGINS_FOLDER = str(REPO / "plugins")
TIMETABLE_PATH = "campaign_handoff.timetable.OffHoursTimetable"

UTC = pendulum.UTC
ROME = pendulum.timezone("Europe/Rome")
NEW_YORK = pendulum.timezone("America/New_York")
LORD_HOWE = pendulum.timezone("Australia/Lord_Howe")
THREE_MINUTES = dt.timedelta(minutes=3)
ALL_WEEK = (0, 1, 2, 3, 4, 5, 6)

# An ordinary week in Rome (no clock change): Monday 30 Nov to Sunday 6 Dec 2026.
WEDNESDAY_1000 = pendulum.datetime(2026, 12, 2, 10, 0, tz=ROME)  # a Wednesday, on the grid
WEDNESDAY_100130 = pendulum.datetime(2026, 12, 2, 10, 1, 30, tz=ROME)  # between two grid points
WEDNESDAY_1003 = pendulum.datetime(2026, 12, 2, 10, 3, tz=ROME)
WEDNESDAY_1006 = pendulum.datetime(2026, 12, 2, 10, 6, tz=ROME)
THURSDAY_0901 = pendulum.datetime(2026, 12, 3, 9, 1, tz=ROME)  # a Thursday, off the grid
THURSDAY_0903 = pendulum.datetime(2026, 12, 3, 9, 3, tz=ROME)
THURSDAY_2157 = pendulum.datetime(2026, 12, 3, 21, 57, tz=ROME)
THURSDAY_2200 = pendulum.datetime(2026, 12, 3, 22, 0, tz=ROME)
FRIDAY_2151 = pendulum.datetime(2026, 12, 4, 21, 51, tz=ROME)  # a Friday evening
FRIDAY_2154 = pendulum.datetime(2026, 12, 4, 21, 54, tz=ROME)
FRIDAY_2157 = pendulum.datetime(2026, 12, 4, 21, 57, tz=ROME)  # last grid point before 22:00
FRIDAY_215830 = pendulum.datetime(2026, 12, 4, 21, 58, 30, tz=ROME)  # off the grid; next due 22:01:30
FRIDAY_2159 = pendulum.datetime(2026, 12, 4, 21, 59, tz=ROME)
FRIDAY_2200 = pendulum.datetime(2026, 12, 4, 22, 0, tz=ROME)  # last business run, first slot
FRIDAY_2230 = pendulum.datetime(2026, 12, 4, 22, 30, tz=ROME)
FRIDAY_2300 = pendulum.datetime(2026, 12, 4, 23, 0, tz=ROME)
SATURDAY_1010 = pendulum.datetime(2026, 12, 5, 10, 10, tz=ROME)  # a Saturday, between slots
SATURDAY_1030 = pendulum.datetime(2026, 12, 5, 10, 30, tz=ROME)
SATURDAY_1100 = pendulum.datetime(2026, 12, 5, 11, 0, tz=ROME)
SUNDAY_1200 = pendulum.datetime(2026, 12, 6, 12, 0, tz=ROME)  # a Sunday
SUNDAY_2330 = pendulum.datetime(2026, 12, 6, 23, 30, tz=ROME)
MONDAY_0000 = pendulum.datetime(2026, 12, 7, 0, 0, tz=ROME)  # the Monday after
MONDAY_0400 = pendulum.datetime(2026, 12, 7, 4, 0, tz=ROME)
MONDAY_0430 = pendulum.datetime(2026, 12, 7, 4, 30, tz=ROME)  # last night slot
MONDAY_0500 = pendulum.datetime(2026, 12, 7, 5, 0, tz=ROME)  # first grid point of the week
MONDAY_0503 = pendulum.datetime(2026, 12, 7, 5, 3, tz=ROME)
MONDAY_0506 = pendulum.datetime(2026, 12, 7, 5, 6, tz=ROME)
MONDAY_0900 = pendulum.datetime(2026, 12, 7, 9, 0, tz=ROME)
MONDAY_090130 = pendulum.datetime(2026, 12, 7, 9, 1, 30, tz=ROME)
MONDAY_0903 = pendulum.datetime(2026, 12, 7, 9, 3, tz=ROME)
WEEK_START = pendulum.datetime(2026, 11, 30, 0, 0, tz=ROME)  # Monday 00:00, start of that week
NEXT_WEEK_START = MONDAY_0000

# The same ordinary week, one local date per day (no zone here, so any zone can use them).
MONDAY_30_NOV = dt.date(2026, 11, 30)
TUESDAY_1_DEC = dt.date(2026, 12, 1)
WEDNESDAY_2_DEC = dt.date(2026, 12, 2)
THURSDAY_3_DEC = dt.date(2026, 12, 3)
FRIDAY_4_DEC = dt.date(2026, 12, 4)
SATURDAY_5_DEC = dt.date(2026, 12, 5)
SUNDAY_6_DEC = dt.date(2026, 12, 6)
MONDAY_7_DEC = dt.date(2026, 12, 7)
BUSINESS_DAYS_OF_THE_WEEK = (MONDAY_30_NOV, TUESDAY_1_DEC, WEDNESDAY_2_DEC, THURSDAY_3_DEC, FRIDAY_4_DEC)
WEEKEND_DAYS = (SATURDAY_5_DEC, SUNDAY_6_DEC)

# Europe/Rome 2026: 02:00 CET becomes 03:00 CEST on Sunday 29 March (01:00 UTC); 03:00 CEST
# becomes 02:00 CET on Sunday 25 October (01:00 UTC), so 02:00-02:59 is read twice.
ROME_SPRING_0100 = pendulum.datetime(2026, 3, 29, 0, 0, tz=UTC)  # 01:00 CET
ROME_SPRING_0130 = pendulum.datetime(2026, 3, 29, 0, 30, tz=UTC)  # 01:30 CET, last slot before
ROME_SPRING_0157 = pendulum.datetime(2026, 3, 29, 0, 57, tz=UTC)  # 01:57 CET
ROME_SPRING_0300 = pendulum.datetime(2026, 3, 29, 1, 0, tz=UTC)  # 03:00 CEST, just after the jump
ROME_SPRING_0330 = pendulum.datetime(2026, 3, 29, 1, 30, tz=UTC)  # 03:30 CEST
ROME_AUTUMN_0130 = pendulum.datetime(2026, 10, 24, 23, 30, tz=UTC)  # 01:30 CEST
ROME_AUTUMN_0200_FIRST = pendulum.datetime(2026, 10, 25, 0, 0, tz=UTC)  # 02:00 CEST, first pass
ROME_AUTUMN_0230_FIRST = pendulum.datetime(2026, 10, 25, 0, 30, tz=UTC)  # 02:30 CEST, first pass
ROME_AUTUMN_0254_FIRST = pendulum.datetime(2026, 10, 25, 0, 54, tz=UTC)  # 02:54 CEST
ROME_AUTUMN_0200_SECOND = pendulum.datetime(2026, 10, 25, 1, 0, tz=UTC)  # 02:00 CET, second pass
ROME_AUTUMN_0230_SECOND = pendulum.datetime(2026, 10, 25, 1, 30, tz=UTC)  # 02:30 CET, second pass
ROME_AUTUMN_0300 = pendulum.datetime(2026, 10, 25, 2, 0, tz=UTC)  # 03:00 CET

# America/New_York 2026: 02:00 EST becomes 03:00 EDT on Sunday 8 March (07:00 UTC); 02:00 EDT
# becomes 01:00 EST on Sunday 1 November (06:00 UTC), so 01:00-01:59 is read twice.
NEW_YORK_SPRING_0100 = pendulum.datetime(2026, 3, 8, 6, 0, tz=UTC)  # 01:00 EST
NEW_YORK_SPRING_0130 = pendulum.datetime(2026, 3, 8, 6, 30, tz=UTC)  # 01:30 EST
NEW_YORK_SPRING_0300 = pendulum.datetime(2026, 3, 8, 7, 0, tz=UTC)  # 03:00 EDT
NEW_YORK_SPRING_0330 = pendulum.datetime(2026, 3, 8, 7, 30, tz=UTC)  # 03:30 EDT
NEW_YORK_AUTUMN_0030 = pendulum.datetime(2026, 11, 1, 4, 30, tz=UTC)  # 00:30 EDT
NEW_YORK_AUTUMN_0100_FIRST = pendulum.datetime(2026, 11, 1, 5, 0, tz=UTC)  # 01:00 EDT, first pass
NEW_YORK_AUTUMN_0130_FIRST = pendulum.datetime(2026, 11, 1, 5, 30, tz=UTC)  # 01:30 EDT, first pass
NEW_YORK_AUTUMN_0100_SECOND = pendulum.datetime(2026, 11, 1, 6, 0, tz=UTC)  # 01:00 EST, second pass
NEW_YORK_AUTUMN_0130_SECOND = pendulum.datetime(2026, 11, 1, 6, 30, tz=UTC)  # 01:30 EST, second pass
NEW_YORK_AUTUMN_0200 = pendulum.datetime(2026, 11, 1, 7, 0, tz=UTC)  # 02:00 EST

# Australia/Lord_Howe shifts by 30 minutes. Sunday 5 April 2026: 02:00 (+11:00) becomes
# 01:30 (+10:30) at 15:00 UTC, so 01:30-01:59 is read twice. Sunday 4 October 2026: 02:00
# (+10:30) becomes 02:30 (+11:00) at 15:30 UTC, so 02:00-02:29 is never read.
LORD_HOWE_AUTUMN_0100 = pendulum.datetime(2026, 4, 4, 14, 0, tz=UTC)  # 01:00 +11:00
LORD_HOWE_AUTUMN_0130_FIRST = pendulum.datetime(2026, 4, 4, 14, 30, tz=UTC)  # 01:30 +11:00, first pass
LORD_HOWE_AUTUMN_0152 = pendulum.datetime(2026, 4, 4, 14, 52, tz=UTC)  # 01:52 +11:00
LORD_HOWE_AUTUMN_0130_SECOND = pendulum.datetime(2026, 4, 4, 15, 0, tz=UTC)  # 01:30 +10:30, second pass
LORD_HOWE_AUTUMN_0136_SECOND = pendulum.datetime(2026, 4, 4, 15, 6, tz=UTC)  # 01:36 +10:30, second pass
LORD_HOWE_AUTUMN_0200 = pendulum.datetime(2026, 4, 4, 15, 30, tz=UTC)  # 02:00 +10:30
LORD_HOWE_SPRING_0100 = pendulum.datetime(2026, 10, 3, 14, 30, tz=UTC)  # 01:00 +10:30
LORD_HOWE_SPRING_0130 = pendulum.datetime(2026, 10, 3, 15, 0, tz=UTC)  # 01:30 +10:30
LORD_HOWE_SPRING_0152 = pendulum.datetime(2026, 10, 3, 15, 22, tz=UTC)  # 01:52 +10:30
LORD_HOWE_SPRING_0230 = pendulum.datetime(2026, 10, 3, 15, 30, tz=UTC)  # 02:30 +11:00, just after
LORD_HOWE_SPRING_0232 = pendulum.datetime(2026, 10, 3, 15, 32, tz=UTC)  # 02:32 +11:00
LORD_HOWE_SPRING_0300 = pendulum.datetime(2026, 10, 3, 16, 0, tz=UTC)  # 03:00 +11:00

# Settings that put the 01:00-03:00 clock changes inside business hours, to see the grid cross them.
GRID_ALL_DAY = {"business_start": dt.time(0), "business_end": dt.time(23, 30), "business_days": ALL_WEEK}


def _at(day: dt.date, hour: int, minute: int = 0, zone: Any = ROME) -> pendulum.DateTime:
    """Return the instant reading *hour*:*minute* on *day* in *zone*, for readings that occur once."""
    return pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=zone)


def _timetable(timezone: Any = ROME, **kwargs: Any) -> OffHoursTimetable:
    return OffHoursTimetable(interval=kwargs.pop("interval", THREE_MINUTES), timezone=timezone.name, **kwargs)


def _runs(timetable: OffHoursTimetable, start: dt.datetime, end: dt.datetime) -> list[pendulum.DateTime]:
    return list(timetable.schedule.iter_runs(start, end))


def _chain(timetable: OffHoursTimetable, previous: dt.datetime, count: int) -> list[pendulum.DateTime]:
    runs = []
    for _ in range(count):
        previous = timetable.schedule.following_run(previous)
        runs.append(previous)
    return runs


def _steps(runs: list[pendulum.DateTime]) -> set[dt.timedelta]:
    # Pendulum's difference is an Interval, which does not hash like a timedelta.
    return {
        dt.timedelta(seconds=later.timestamp() - earlier.timestamp()) for earlier, later in pairwise(runs)
    }


# ---------------------------------------------------------------------------------------------
# The two windows and their edges.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        pytest.param(WEDNESDAY_1000, WEDNESDAY_1003, id="business-grid"),
        pytest.param(WEDNESDAY_100130, WEDNESDAY_1006, id="business-grid-from-off-grid-previous"),
        pytest.param(FRIDAY_2157, FRIDAY_2200, id="2157-then-2200-grid-point-ends-business-hours"),
        pytest.param(FRIDAY_2200, FRIDAY_2230, id="friday-2200-edge-slots-take-over"),
        pytest.param(FRIDAY_215830, FRIDAY_2230, id="2200-not-due-yet-so-next-slot"),
        pytest.param(THURSDAY_2157, THURSDAY_2200, id="weekday-evening-edge"),
        pytest.param(SATURDAY_1030, SATURDAY_1100, id="saturday-slots"),
        pytest.param(SUNDAY_1200, SUNDAY_1200.add(minutes=30), id="sunday-slots"),
        pytest.param(SUNDAY_2330, MONDAY_0000, id="sunday-night-into-monday-night-slot"),
        pytest.param(MONDAY_0430, MONDAY_0500, id="monday-0430-then-grid-resumes-at-0500"),
        pytest.param(MONDAY_0500, MONDAY_0503, id="monday-0500-then-0503"),
    ],
)
def test_following_run(previous: pendulum.DateTime, expected: pendulum.DateTime) -> None:
    assert _timetable().schedule.following_run(previous) == expected


@pytest.mark.parametrize(
    ("minutes", "previous", "expected"),
    [
        # Due at 11:00 exactly: a slot must come strictly after the due moment, so 11:30.
        pytest.param(
            30, SATURDAY_1030, SATURDAY_1100.add(minutes=30), id="30-min-slot-at-due-moment-skipped"
        ),
        pytest.param(15, SATURDAY_1030, SATURDAY_1100, id="15-min-next-slot"),
        # In business hours the grid point at the due moment is taken.
        pytest.param(30, WEDNESDAY_1000, WEDNESDAY_1000.add(minutes=30), id="30-min-grid-at-due-moment"),
    ],
)
def test_slots_come_strictly_after_the_due_moment(
    minutes: int, previous: pendulum.DateTime, expected: pendulum.DateTime
) -> None:
    timetable = _timetable(interval=dt.timedelta(minutes=minutes))
    assert timetable.schedule.following_run(previous) == expected


def test_2200_slot_when_the_grid_misses_2200() -> None:
    # A 45-minute grid has 21:45 and 22:30 but no 22:00; off-hours start at 22:00 itself.
    timetable = _timetable(interval=dt.timedelta(minutes=45))
    assert timetable.schedule.first_run_at_or_after(FRIDAY_2151) == FRIDAY_2200
    assert timetable.schedule.following_run(FRIDAY_2200) == FRIDAY_2300


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        pytest.param(
            FRIDAY_2151,
            [FRIDAY_2154, FRIDAY_2157, FRIDAY_2200, FRIDAY_2230, FRIDAY_2300],
            id="friday-evening",
        ),
        pytest.param(MONDAY_0400, [MONDAY_0430, MONDAY_0500, MONDAY_0503, MONDAY_0506], id="monday-morning"),
    ],
)
def test_chain_across_window_edges(previous: pendulum.DateTime, expected: list[pendulum.DateTime]) -> None:
    assert _chain(_timetable(), previous, len(expected)) == expected


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        # Per weekday 341 grid points (05:00-22:00, both ends), 10 night slots before 05:00 and
        # 22:30, 23:00, 23:30 (22:00 is already a grid point); 48 slots a weekend day.
        pytest.param(WEEK_START, NEXT_WEEK_START, 5 * 354 + 2 * 48, id="ordinary-week"),
        # Sunday 29 March has 23 hours, Sunday 25 October 25 hours.
        pytest.param(
            pendulum.datetime(2026, 3, 23, tz=ROME),
            pendulum.datetime(2026, 3, 30, tz=ROME),
            1866 - 2,
            id="spring",
        ),
        pytest.param(
            pendulum.datetime(2026, 10, 19, tz=ROME),
            pendulum.datetime(2026, 10, 26, tz=ROME),
            1866 + 2,
            id="autumn",
        ),
    ],
)
def test_runs_in_a_week(start: pendulum.DateTime, end: pendulum.DateTime, count: int) -> None:
    runs = _runs(_timetable(), start, end - dt.timedelta(microseconds=1))
    assert len(runs) == count
    assert len(set(runs)) == count


@pytest.mark.parametrize("day", [pytest.param(d, id=f"{d:%A}") for d in BUSINESS_DAYS_OF_THE_WEEK])
def test_business_day_edges(day: dt.date) -> None:
    timetable = _timetable()
    # 05:00: the night slots hand over to the grid, which starts at its first point.
    assert _chain(timetable, _at(day, 4), 4) == [_at(day, 4, 30), _at(day, 5), _at(day, 5, 3), _at(day, 5, 6)]
    # 22:00: the grid's last point, then the slots take over.
    assert _chain(timetable, _at(day, 21, 54), 4) == [
        _at(day, 21, 57),
        _at(day, 22),
        _at(day, 22, 30),
        _at(day, 23),
    ]


@pytest.mark.parametrize("day", [pytest.param(d, id=f"{d:%A}") for d in WEEKEND_DAYS])
def test_weekend_has_no_business_edges(day: dt.date) -> None:
    timetable = _timetable()
    assert _chain(timetable, _at(day, 4), 4) == [_at(day, 4, 30), _at(day, 5), _at(day, 5, 30), _at(day, 6)]
    assert _chain(timetable, _at(day, 21, 30), 2) == [_at(day, 22), _at(day, 22, 30)]


@pytest.mark.parametrize(
    ("evening", "morning"),
    [
        pytest.param(MONDAY_30_NOV, TUESDAY_1_DEC, id="monday-to-tuesday"),
        pytest.param(THURSDAY_3_DEC, FRIDAY_4_DEC, id="thursday-to-friday"),
        pytest.param(FRIDAY_4_DEC, SATURDAY_5_DEC, id="friday-to-saturday"),
        pytest.param(SATURDAY_5_DEC, SUNDAY_6_DEC, id="saturday-to-sunday"),
        pytest.param(SUNDAY_6_DEC, MONDAY_7_DEC, id="sunday-to-monday"),
    ],
)
def test_slots_carry_on_across_midnight(evening: dt.date, morning: dt.date) -> None:
    assert _chain(_timetable(), _at(evening, 23), 3) == [
        _at(evening, 23, 30),
        _at(morning, 0),
        _at(morning, 0, 30),
    ]


def _expected_week(zone: Any) -> list[pendulum.DateTime]:
    """The ordinary week's runs, restated from the rules as wall-clock minutes of each day."""
    slots = set(range(0, 24 * 60, 30))
    business = set(range(5 * 60, 22 * 60 + 1, 3))
    runs = []
    for day in (*BUSINESS_DAYS_OF_THE_WEEK, *WEEKEND_DAYS):
        if day in BUSINESS_DAYS_OF_THE_WEEK:
            minutes = business | {m for m in slots if m < 5 * 60 or m >= 22 * 60}
        else:
            minutes = slots
        runs.extend(_at(day, m // 60, m % 60, zone) for m in sorted(minutes))
    return runs


@pytest.mark.parametrize("zone", [pytest.param(z, id=z.name) for z in (ROME, NEW_YORK, LORD_HOWE)])
def test_every_run_of_an_ordinary_week(zone: Any) -> None:
    # Every edge of the week at once: each weekday's 05:00 and 22:00, Friday night into the
    # weekend, Sunday night into Monday. No clock changes that week in any of the zones.
    start, end = _at(MONDAY_30_NOV, 0, 0, zone), _at(MONDAY_7_DEC, 0, 0, zone)
    assert _runs(_timetable(zone), start, end - dt.timedelta(microseconds=1)) == _expected_week(zone)


def test_grid_that_misses_0500_resumes_at_its_first_point() -> None:
    # A 40-minute grid has 04:40 and 05:20 but no 05:00; 05:00 belongs to business hours, so
    # no slot is taken there and the first run of the morning is 05:20.
    timetable = _timetable(interval=dt.timedelta(minutes=40))
    assert _chain(timetable, MONDAY_0400, 2) == [MONDAY_0500.add(minutes=20), MONDAY_0500.add(minutes=60)]


# ---------------------------------------------------------------------------------------------
# Clock changes.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "start", "end", "expected"),
    [
        pytest.param(
            ROME,
            ROME_SPRING_0100,
            ROME_SPRING_0330,
            [ROME_SPRING_0100, ROME_SPRING_0130, ROME_SPRING_0300, ROME_SPRING_0330],
            id="rome-spring-nothing-in-skipped-hour",
        ),
        pytest.param(
            ROME,
            ROME_AUTUMN_0130,
            ROME_AUTUMN_0300,
            [
                ROME_AUTUMN_0130,
                ROME_AUTUMN_0200_FIRST,
                ROME_AUTUMN_0230_FIRST,
                ROME_AUTUMN_0200_SECOND,
                ROME_AUTUMN_0230_SECOND,
                ROME_AUTUMN_0300,
            ],
            id="rome-autumn-both-passes-of-repeated-hour",
        ),
        pytest.param(
            NEW_YORK,
            NEW_YORK_SPRING_0100,
            NEW_YORK_SPRING_0330,
            [NEW_YORK_SPRING_0100, NEW_YORK_SPRING_0130, NEW_YORK_SPRING_0300, NEW_YORK_SPRING_0330],
            id="new-york-spring-nothing-in-skipped-hour",
        ),
        pytest.param(
            NEW_YORK,
            NEW_YORK_AUTUMN_0030,
            NEW_YORK_AUTUMN_0200,
            [
                NEW_YORK_AUTUMN_0030,
                NEW_YORK_AUTUMN_0100_FIRST,
                NEW_YORK_AUTUMN_0130_FIRST,
                NEW_YORK_AUTUMN_0100_SECOND,
                NEW_YORK_AUTUMN_0130_SECOND,
                NEW_YORK_AUTUMN_0200,
            ],
            id="new-york-autumn-both-passes-of-repeated-hour",
        ),
        pytest.param(
            LORD_HOWE,
            LORD_HOWE_SPRING_0100,
            LORD_HOWE_SPRING_0300,
            [LORD_HOWE_SPRING_0100, LORD_HOWE_SPRING_0130, LORD_HOWE_SPRING_0230, LORD_HOWE_SPRING_0300],
            id="lord-howe-spring-half-hour-skipped",
        ),
        pytest.param(
            LORD_HOWE,
            LORD_HOWE_AUTUMN_0100,
            LORD_HOWE_AUTUMN_0200,
            [
                LORD_HOWE_AUTUMN_0100,
                LORD_HOWE_AUTUMN_0130_FIRST,
                LORD_HOWE_AUTUMN_0130_SECOND,
                LORD_HOWE_AUTUMN_0200,
            ],
            id="lord-howe-autumn-half-hour-repeated",
        ),
    ],
)
def test_slots_across_clock_changes(
    zone: Any, start: pendulum.DateTime, end: pendulum.DateTime, expected: list[pendulum.DateTime]
) -> None:
    # The changes fall on Sunday nights: off-hours, so slots only.
    runs = _runs(_timetable(zone), start, end)
    assert runs == expected
    # A slot is a reading :00 or :30 that the zone really shows; both passes keep 30 minutes apart.
    assert _steps(runs) == {dt.timedelta(minutes=30)}
    for run in runs:
        local = run.in_tz(zone)
        assert (local.minute, local.second) in {(0, 0), (30, 0)}
        assert local.in_tz(UTC) == run


@pytest.mark.parametrize(
    ("zone", "start", "end", "readings"),
    [
        pytest.param(ROME, ROME_SPRING_0100, ROME_SPRING_0330, 20 + 10 + 1, id="rome-spring"),
        pytest.param(ROME, ROME_AUTUMN_0130, ROME_AUTUMN_0300, 10 + 20 + 20 + 1, id="rome-autumn"),
        pytest.param(NEW_YORK, NEW_YORK_SPRING_0100, NEW_YORK_SPRING_0330, 20 + 10 + 1, id="new-york-spring"),
        pytest.param(
            NEW_YORK, NEW_YORK_AUTUMN_0030, NEW_YORK_AUTUMN_0200, 10 + 20 + 20 + 1, id="new-york-autumn"
        ),
        pytest.param(
            LORD_HOWE, LORD_HOWE_SPRING_0100, LORD_HOWE_SPRING_0300, 20 + 10 + 1, id="lord-howe-spring"
        ),
        pytest.param(
            LORD_HOWE, LORD_HOWE_AUTUMN_0100, LORD_HOWE_AUTUMN_0200, 10 + 10 + 10 + 1, id="lord-howe-autumn"
        ),
    ],
)
def test_three_minute_grid_across_clock_changes(
    zone: Any, start: pendulum.DateTime, end: pendulum.DateTime, readings: int
) -> None:
    # The grid is a set of wall-clock readings. Every shift here (60 or 30 minutes) is a
    # multiple of 3 minutes, so the runs stay exactly 3 real minutes apart: the skipped
    # readings are simply absent and the repeated ones run once per pass.
    runs = _runs(_timetable(zone, **GRID_ALL_DAY), start, end)
    assert len(runs) == readings
    assert _steps(runs) == {THREE_MINUTES}
    for run in runs:
        local = run.in_tz(zone)
        assert local.minute % 3 == 0
        assert local.second == 0


def test_rome_spring_grid_jumps_from_0157_to_0300() -> None:
    timetable = _timetable(ROME, **GRID_ALL_DAY)
    assert timetable.schedule.following_run(ROME_SPRING_0157) == ROME_SPRING_0300


def test_rome_autumn_grid_replays_the_hour() -> None:
    timetable = _timetable(ROME, **GRID_ALL_DAY)
    runs = _chain(timetable, ROME_AUTUMN_0254_FIRST, 3)
    # 02:57 CEST, then 02:00 CET (second pass), then 02:03 CET.
    assert [run.in_tz(ROME).strftime("%H:%M%z") for run in runs] == ["02:57+0200", "02:00+0100", "02:03+0100"]


@pytest.mark.parametrize(
    ("previous", "expected", "gap_minutes"),
    [
        # 01:52 +10:30 is due again at 02:00 +10:30, which reads 02:30 +11:00; the next grid
        # reading is 02:32, 10 real minutes after the previous run.
        pytest.param(LORD_HOWE_SPRING_0152, LORD_HOWE_SPRING_0232, 10, id="spring"),
        # 01:52 +11:00 is due again at 02:00 +11:00, which reads 01:30 +10:30; the next grid
        # reading is 01:36 (second pass), 14 real minutes after the previous run.
        pytest.param(LORD_HOWE_AUTUMN_0152, LORD_HOWE_AUTUMN_0136_SECOND, 14, id="autumn"),
    ],
)
def test_lord_howe_interval_that_does_not_divide_the_shift(
    previous: pendulum.DateTime, expected: pendulum.DateTime, gap_minutes: int
) -> None:
    # An 8-minute grid cannot line up with a 30-minute shift: the one gap at the change is
    # longer than the interval (never shorter), as the module docstring says.
    timetable = _timetable(LORD_HOWE, interval=dt.timedelta(minutes=8), **GRID_ALL_DAY)
    run = timetable.schedule.following_run(previous)
    assert run == expected
    assert run - previous == dt.timedelta(minutes=gap_minutes)


# ---------------------------------------------------------------------------------------------
# The Airflow face: restrictions, catchup, manual runs.
# ---------------------------------------------------------------------------------------------


def _next(
    timetable: OffHoursTimetable,
    previous: pendulum.DateTime | None,
    *,
    earliest: pendulum.DateTime | None = None,
    latest: pendulum.DateTime | None = None,
    catchup: bool = True,
) -> DagRunInfo | None:
    last = None if previous is None else DataInterval.exact(previous)
    return timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=TimeRestriction(earliest, latest, catchup)
    )


def _scheduled(timetable: Any, start: pendulum.DateTime, end: pendulum.DateTime) -> list[pendulum.DateTime]:
    """Chain ``next_dagrun_info`` from *start* to *end* with catchup on, as the scheduler does."""
    restriction = TimeRestriction(start, end, True)
    runs: list[pendulum.DateTime] = []
    last = None
    while info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction):
        runs.append(info.run_after)
        last = info.data_interval
    return runs


@pytest.mark.parametrize(
    ("previous", "earliest", "latest", "expected"),
    [
        pytest.param(None, THURSDAY_0901, None, THURSDAY_0903, id="first-run-at-or-after-earliest"),
        pytest.param(None, THURSDAY_0903, None, THURSDAY_0903, id="first-run-exactly-at-earliest"),
        pytest.param(None, SATURDAY_1010, None, SATURDAY_1030, id="first-run-off-hours"),
        pytest.param(None, SATURDAY_1030, None, SATURDAY_1030, id="first-run-exactly-on-slot"),
        pytest.param(WEDNESDAY_1000, THURSDAY_0901, None, THURSDAY_0903, id="earliest-moved-past-previous"),
        pytest.param(FRIDAY_2157, None, FRIDAY_2200, FRIDAY_2200, id="latest-is-inclusive"),
        pytest.param(FRIDAY_2157, None, FRIDAY_2159, None, id="nothing-past-latest"),
        pytest.param(None, SATURDAY_1010, SATURDAY_1010.add(minutes=19), None, id="first-run-past-latest"),
        pytest.param(None, None, None, None, id="nothing-to-count-from"),
    ],
)
def test_restriction(
    previous: pendulum.DateTime | None,
    earliest: pendulum.DateTime | None,
    latest: pendulum.DateTime | None,
    expected: pendulum.DateTime | None,
) -> None:
    info = _next(_timetable(), previous, earliest=earliest, latest=latest)
    if expected is None:
        assert info is None
        return
    assert info is not None
    assert info.run_after == expected
    # Runs are points: the data interval starts and ends where the run is due.
    assert info.data_interval == DataInterval(expected, expected)
    assert info.logical_date == expected
    assert info.run_after.tzinfo is not None


def test_catchup_on_replays_every_missed_run_in_order() -> None:
    # The scheduler stopped after Friday 21:57 and comes back on Monday 09:00.
    timetable = _timetable()
    replayed = []
    previous = FRIDAY_2157
    with time_machine.travel(MONDAY_0900, tick=False):
        while (info := _next(timetable, previous, earliest=WEEK_START)).run_after <= MONDAY_0900:
            replayed.append(info.run_after)
            previous = info.run_after
    assert replayed[:3] == [FRIDAY_2200, FRIDAY_2230, FRIDAY_2300]
    assert replayed == _runs(timetable, FRIDAY_2200, MONDAY_0900)
    # Friday 22:00-23:30, the weekend, Monday's night slots and 05:00-09:00 on the grid.
    assert len(replayed) == 4 + 2 * 48 + 10 + 81


def test_catchup_on_does_not_read_the_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    timetable = _timetable()
    answers = set()
    for clock in (WEDNESDAY_1000, MONDAY_0900, MONDAY_0900.add(years=3)):
        with time_machine.travel(clock, tick=False):
            answers.add(_next(timetable, FRIDAY_2157, earliest=WEEK_START))
            answers.add(_next(timetable, None, earliest=WEEK_START))
    assert answers == {DagRunInfo.exact(FRIDAY_2200), DagRunInfo.exact(WEEK_START)}

    def no_clock(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the catchup path read the clock")

    monkeypatch.setattr(pendulum, "now", no_clock)
    assert _next(timetable, FRIDAY_2157, earliest=WEEK_START) == DagRunInfo.exact(FRIDAY_2200)


@pytest.mark.parametrize(
    ("previous", "earliest", "now", "expected"),
    [
        pytest.param(FRIDAY_2157, WEEK_START, MONDAY_090130, MONDAY_0903, id="back-after-weekend-one-run"),
        pytest.param(FRIDAY_2157, WEEK_START, MONDAY_0903, MONDAY_0903, id="back-exactly-on-a-run"),
        pytest.param(FRIDAY_2157, WEEK_START, SATURDAY_1010, SATURDAY_1030, id="back-off-hours"),
        pytest.param(FRIDAY_2157, WEEK_START, FRIDAY_2159, FRIDAY_2200, id="not-late-keeps-cadence"),
        pytest.param(FRIDAY_2157, WEEK_START, FRIDAY_2157, FRIDAY_2200, id="never-twice-in-an-interval"),
        pytest.param(None, WEEK_START, MONDAY_090130, MONDAY_0903, id="first-run-start-date-in-past"),
        pytest.param(None, MONDAY_0500, SATURDAY_1010, MONDAY_0500, id="first-run-start-date-in-future"),
        pytest.param(None, None, SATURDAY_1010, SATURDAY_1030, id="first-run-without-start-date"),
    ],
)
def test_catchup_off(
    previous: pendulum.DateTime | None,
    earliest: pendulum.DateTime | None,
    now: pendulum.DateTime,
    expected: pendulum.DateTime,
) -> None:
    with time_machine.travel(now, tick=False):
        info = _next(_timetable(), previous, earliest=earliest, catchup=False)
    assert info == DagRunInfo.exact(expected)


@pytest.mark.parametrize(
    ("zone", "previous", "earliest", "latest", "expected"),
    [
        # From 01:45 CET the next slot reading, 02:00, does not exist on 29 March: 03:00 CEST.
        pytest.param(
            ROME,
            None,
            ROME_SPRING_0130.add(minutes=15),
            None,
            ROME_SPRING_0300,
            id="rome-earliest-before-jump",
        ),
        pytest.param(
            ROME,
            None,
            ROME_AUTUMN_0200_SECOND.add(minutes=10),
            None,
            ROME_AUTUMN_0230_SECOND,
            id="rome-earliest-in-second-pass",
        ),
        # 02:54 CEST comes before 02:00 CET: a bound is an instant, not a reading.
        pytest.param(
            ROME,
            ROME_AUTUMN_0230_FIRST,
            None,
            ROME_AUTUMN_0254_FIRST,
            None,
            id="rome-latest-between-the-passes",
        ),
        pytest.param(
            ROME,
            ROME_AUTUMN_0230_FIRST,
            None,
            ROME_AUTUMN_0200_SECOND,
            ROME_AUTUMN_0200_SECOND,
            id="rome-latest-on-second-pass",
        ),
        pytest.param(
            NEW_YORK,
            None,
            NEW_YORK_AUTUMN_0100_SECOND.add(minutes=1),
            NEW_YORK_AUTUMN_0200,
            NEW_YORK_AUTUMN_0130_SECOND,
            id="new-york-earliest-in-second-pass",
        ),
        pytest.param(
            NEW_YORK,
            NEW_YORK_SPRING_0130,
            None,
            NEW_YORK_SPRING_0300.subtract(microseconds=1),
            None,
            id="new-york-latest-just-before-jump",
        ),
        pytest.param(
            LORD_HOWE,
            None,
            LORD_HOWE_SPRING_0130.add(minutes=1),
            None,
            LORD_HOWE_SPRING_0230,
            id="lord-howe-earliest-before-skipped-half-hour",
        ),
    ],
)
def test_restriction_on_clock_change_nights(
    zone: Any,
    previous: pendulum.DateTime | None,
    earliest: pendulum.DateTime | None,
    latest: pendulum.DateTime | None,
    expected: pendulum.DateTime | None,
) -> None:
    info = _next(_timetable(zone), previous, earliest=earliest, latest=latest)
    assert info == (None if expected is None else DagRunInfo.exact(expected))


@pytest.mark.parametrize(
    ("zone", "previous", "now", "expected"),
    [
        # Down from 01:30 CEST through the first pass of the repeated hour: one run, in the second.
        pytest.param(
            ROME,
            ROME_AUTUMN_0130,
            ROME_AUTUMN_0200_SECOND.add(minutes=5),
            ROME_AUTUMN_0230_SECOND,
            id="rome-back-in-second-pass",
        ),
        pytest.param(
            ROME,
            ROME_SPRING_0100,
            ROME_SPRING_0300.add(minutes=1),
            ROME_SPRING_0330,
            id="rome-back-after-jump",
        ),
        pytest.param(
            NEW_YORK,
            NEW_YORK_SPRING_0100,
            NEW_YORK_SPRING_0300,
            NEW_YORK_SPRING_0300,
            id="new-york-back-exactly-at-0300",
        ),
        pytest.param(
            LORD_HOWE,
            LORD_HOWE_AUTUMN_0100,
            LORD_HOWE_AUTUMN_0130_SECOND.add(seconds=1),
            LORD_HOWE_AUTUMN_0200,
            id="lord-howe-back-in-second-pass",
        ),
    ],
)
def test_catchup_off_on_clock_change_nights(
    zone: Any, previous: pendulum.DateTime, now: pendulum.DateTime, expected: pendulum.DateTime
) -> None:
    with time_machine.travel(now, tick=False):
        info = _next(_timetable(zone), previous, earliest=WEEK_START.subtract(years=1), catchup=False)
    assert info == DagRunInfo.exact(expected)


def test_catchup_on_replays_both_passes_of_the_repeated_hour() -> None:
    timetable = _timetable()
    replayed, previous = [], ROME_AUTUMN_0130
    while info := _next(timetable, previous, earliest=WEEK_START.subtract(years=1), latest=ROME_AUTUMN_0300):
        replayed.append(info.run_after)
        previous = info.run_after
    assert replayed == [
        ROME_AUTUMN_0200_FIRST,
        ROME_AUTUMN_0230_FIRST,
        ROME_AUTUMN_0200_SECOND,
        ROME_AUTUMN_0230_SECOND,
        ROME_AUTUMN_0300,
    ]


def test_catchup_on_without_start_date_waits() -> None:
    # With nothing to count from and no licence to read the clock there is no first run.
    assert _next(_timetable(), None) is None


def test_next_dagrun_info_v2_uses_run_after_when_there_is_no_data_interval() -> None:
    timetable = _timetable()
    restriction = TimeRestriction(WEEK_START, None, True)
    with_interval = DagRunInfo.exact(FRIDAY_2157)
    without_interval = DagRunInfo(run_after=FRIDAY_2157, data_interval=None)
    for last in (with_interval, without_interval):
        info = timetable.next_dagrun_info_v2(last_dagrun_info=last, restriction=restriction)
        assert info == DagRunInfo.exact(FRIDAY_2200)


@pytest.mark.parametrize(
    "run_after",
    [
        pytest.param(ROME_AUTUMN_0230_FIRST, id="rome-repeated-hour-first-pass"),
        pytest.param(ROME_AUTUMN_0230_SECOND, id="rome-repeated-hour-second-pass"),
        pytest.param(pendulum.datetime(2026, 10, 25, 2, 30, tz=ROME, fold=0), id="rome-local-fold-0"),
        pytest.param(ROME_SPRING_0300.add(minutes=7), id="rome-just-after-spring-jump"),
        pytest.param(LORD_HOWE_AUTUMN_0130_SECOND.add(seconds=17), id="lord-howe-repeated-half-hour"),
        pytest.param(LORD_HOWE_SPRING_0230.add(minutes=1), id="lord-howe-just-after-spring-jump"),
        pytest.param(NEW_YORK_AUTUMN_0130_SECOND, id="new-york-repeated-hour-second-pass"),
        pytest.param(NEW_YORK_SPRING_0300.in_tz(NEW_YORK), id="new-york-local-0300-edt"),
        pytest.param(WEDNESDAY_100130, id="ordinary-day-off-grid"),
    ],
)
def test_manual_run_is_the_point_it_was_triggered_for(run_after: pendulum.DateTime) -> None:
    interval = _timetable().infer_manual_data_interval(run_after=run_after)
    assert interval == DataInterval(run_after, run_after)
    assert interval.start.tzinfo is not None
    assert isinstance(interval.start, pendulum.DateTime)


def test_manual_runs_in_both_passes_get_distinct_run_ids() -> None:
    timetable = _timetable()
    run_ids = set()
    for run_after in (ROME_AUTUMN_0230_FIRST, ROME_AUTUMN_0230_SECOND):
        run_ids.add(
            timetable.generate_run_id(
                run_type=DagRunType.MANUAL,
                run_after=run_after,
                data_interval=timetable.infer_manual_data_interval(run_after=run_after),
            )
        )
    assert len(run_ids) == 2


# ---------------------------------------------------------------------------------------------
# Disabled mode, wording, validation, serialization.
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        pytest.param(FRIDAY_2157, FRIDAY_2200, id="friday-evening"),
        pytest.param(FRIDAY_2200, FRIDAY_2200.add(minutes=3), id="past-2200-keeps-the-grid"),
        pytest.param(SATURDAY_1030, SATURDAY_1030.add(minutes=3), id="saturday"),
        pytest.param(MONDAY_0430, MONDAY_0430.add(minutes=3), id="monday-night"),
        pytest.param(ROME_AUTUMN_0254_FIRST.add(minutes=3), ROME_AUTUMN_0200_SECOND, id="autumn-replay"),
    ],
)
def test_disabled_is_a_plain_grid(previous: pendulum.DateTime, expected: pendulum.DateTime) -> None:
    assert _timetable(enabled=False).schedule.following_run(previous) == expected


def test_disabled_week_count() -> None:
    runs = _runs(_timetable(enabled=False), WEEK_START, NEXT_WEEK_START - dt.timedelta(microseconds=1))
    assert len(runs) == 7 * 480
    assert _steps(runs) == {THREE_MINUTES}


@pytest.mark.parametrize(
    ("timetable", "summary"),
    [
        pytest.param(
            _timetable(), "every 3 min 05:00–22:00 Mon–Fri, :00/:30 otherwise (Europe/Rome)", id="default"
        ),
        pytest.param(_timetable(enabled=False), "every 3 min (Europe/Rome)", id="disabled"),
        pytest.param(
            _timetable(
                NEW_YORK,
                interval=dt.timedelta(hours=1),
                business_days=(0, 2, 4),
                slot_minutes=(15,),
                business_start=dt.time(8, 30),
            ),
            "every 1 h 08:30–22:00 Mon,Wed,Fri, :15 otherwise (America/New_York)",
            id="custom",
        ),
    ],
)
def test_summary_and_description_name_the_zone(timetable: OffHoursTimetable, summary: str) -> None:
    assert timetable.summary == summary
    assert timetable.schedule.timezone in timetable.description
    assert timetable.description.endswith(".")


def test_description_reads_as_a_sentence() -> None:
    assert _timetable().description == (
        "Runs every 3 minutes from 05:00 to 22:00 on Mon–Fri, and at :00 and :30 past the hour at all "
        "other times. Times follow the Europe/Rome wall clock, clock changes included."
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"interval": dt.timedelta(0)}, "must be positive", id="zero-interval"),
        pytest.param({"interval": dt.timedelta(minutes=-3)}, "must be positive", id="negative-interval"),
        pytest.param({"interval": dt.timedelta(minutes=7)}, "divide a day", id="interval-not-dividing-a-day"),
        pytest.param(
            {"interval": dt.timedelta(seconds=1.5)}, "whole number of minutes", id="fractional-seconds"
        ),
        pytest.param({"interval": 180}, "timedelta", id="interval-not-a-timedelta"),
        pytest.param({"timezone": "Mars/Olympus_Mons"}, "not a known IANA zone", id="unknown-zone"),
        pytest.param({"timezone": "../etc/passwd"}, "not a known IANA zone", id="malformed-zone"),
        pytest.param({"timezone": ""}, "IANA zone name", id="empty-zone"),
        pytest.param({"timezone": ROME}, "IANA zone name", id="zone-object-not-name"),
        pytest.param({"business_start": dt.time(22)}, "earlier than business_end", id="empty-business-hours"),
        pytest.param({"business_end": dt.time(4)}, "earlier than business_end", id="inverted-business-hours"),
        pytest.param({"business_start": "05:00"}, "naive datetime.time", id="start-not-a-time"),
        pytest.param({"business_end": dt.time(22, tzinfo=dt.UTC)}, "naive", id="aware-end"),
        pytest.param({"business_days": (0, 7)}, "from 0 to 6", id="day-out-of-range"),
        pytest.param({"business_days": (4, 0)}, "sorted", id="days-unsorted"),
        pytest.param({"business_days": (True,)}, "integers", id="day-bool"),
        pytest.param({"slot_minutes": (0, 60)}, "from 0 to 59", id="slot-out-of-range"),
        pytest.param({"slot_minutes": (-1,)}, "from 0 to 59", id="slot-negative"),
        pytest.param({"slot_minutes": (30, 0)}, "sorted", id="slots-unsorted"),
        pytest.param({"slot_minutes": (0, 0)}, "without repeats", id="slots-repeated"),
        pytest.param({"slot_minutes": ()}, "at least one minute", id="no-slots"),
        pytest.param({"enabled": "yes"}, "True or False", id="enabled-not-bool"),
        pytest.param(
            {
                "interval": dt.timedelta(days=1),
                "business_days": ALL_WEEK,
                "business_start": dt.time(0, 1),
                "business_end": dt.time(23, 59),
                "slot_minutes": (30,),
            },
            "no run in a whole week",
            id="no-run-ever",
        ),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"interval": THREE_MINUTES, "timezone": "Europe/Rome", **kwargs}
    with pytest.raises(ValueError, match=message):
        OffHoursTimetable(**arguments)


def test_arguments_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        OffHoursTimetable(THREE_MINUTES, "Europe/Rome")  # type: ignore[misc]


def test_validate() -> None:
    timetable = _timetable()
    timetable.validate()
    timetable.schedule.slot_minutes = (75,)
    with pytest.raises(AirflowTimetableInvalid, match="slot_minutes"):
        timetable.validate()


NON_DEFAULT = _timetable(
    LORD_HOWE,
    interval=dt.timedelta(minutes=5),
    business_start=dt.time(6, 30),
    business_end=dt.time(20),
    business_days=(1, 2, 3, 4, 5),
    slot_minutes=(10, 40),
)


def test_serialize_keeps_every_setting() -> None:
    assert NON_DEFAULT.serialize() == {
        "interval_seconds": 300,
        "timezone": "Australia/Lord_Howe",
        "business_start": "06:30:00",
        "business_end": "20:00:00",
        "business_days": [1, 2, 3, 4, 5],
        "slot_minutes": [10, 40],
        "enabled": True,
    }
    assert _timetable(enabled=False).serialize()["enabled"] is False


@pytest.mark.parametrize(
    ("timetable", "around"),
    [
        pytest.param(NON_DEFAULT, LORD_HOWE_SPRING_0100, id="lord-howe-custom-spring"),
        pytest.param(_timetable(NEW_YORK), NEW_YORK_AUTUMN_0100_FIRST, id="new-york-default-autumn"),
        pytest.param(_timetable(enabled=False), ROME_AUTUMN_0200_FIRST, id="off"),
    ],
)
def test_serialize_round_trip_gives_the_same_runs(
    timetable: OffHoursTimetable, around: pendulum.DateTime
) -> None:
    copy = OffHoursTimetable.deserialize(json.loads(json.dumps(timetable.serialize())))
    assert isinstance(copy, OffHoursTimetable)
    assert copy == timetable
    assert copy.summary == timetable.summary
    assert copy.description == timetable.description
    # A week of next runs across a clock change, asked the way the scheduler asks.
    start, end = around.subtract(days=3), around.add(days=4)
    assert _scheduled(copy, start, end) == _scheduled(timetable, start, end)
    assert _scheduled(copy, start, end) == _runs(timetable, start, end)
    with time_machine.travel(around, tick=False):
        assert _next(copy, None, earliest=start, catchup=False) == _next(
            timetable, None, earliest=start, catchup=False
        )


# ---------------------------------------------------------------------------------------------
# DAG serialization through Airflow, with and without the plugin.
# ---------------------------------------------------------------------------------------------


def _forget_loaded_plugins() -> None:
    from airflow import plugins_manager

    for value in vars(plugins_manager).values():
        if callable(getattr(value, "cache_clear", None)):
            value.cache_clear()


@pytest.fixture
def plugins_folder(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Point Airflow's plugin loader at a folder; it scans it afresh on the next lookup."""
    from airflow import settings

    def use(folder: str) -> None:
        monkeypatch.setattr(settings, "PLUGINS_FOLDER", folder)
        _forget_loaded_plugins()

    yield use
    _forget_loaded_plugins()


class UnregisteredTimetable(OffHoursTimetable):
    """The same rules under an import path no plugin lists."""


def _probe_dag(timetable: OffHoursTimetable) -> Any:
    from airflow.providers.standard.operators.empty import EmptyOperator
    from airflow.sdk import DAG

    with DAG(
        dag_id="offhours_probe", schedule=timetable, start_date=WEEK_START.in_tz(UTC), catchup=True
    ) as dag:
        EmptyOperator(task_id="noop")
    return dag


def test_dag_serialization_round_trip_with_the_plugin(plugins_folder: Any) -> None:
    from airflow import plugins_manager
    from airflow.serialization.serialized_objects import DagSerialization

    plugins_folder(PLUGINS_FOLDER)
    assert plugins_manager.get_timetables_plugins()[TIMETABLE_PATH] is OffHoursTimetable

    timetable = _timetable(NEW_YORK, slot_minutes=(15, 45))
    encoded = json.loads(json.dumps(DagSerialization.to_dict(_probe_dag(timetable))))
    assert encoded["dag"]["timetable"] == {"__type": TIMETABLE_PATH, "__var": timetable.serialize()}

    serialized_dag = DagSerialization.from_dict(encoded)
    assert serialized_dag.timetable == timetable
    assert serialized_dag.timetable.summary == timetable.summary

    # The scheduler's own call, first run from the start date then chained.
    runs, info = [], None
    for _ in range(5):
        info = serialized_dag.next_dagrun_info(last_automated_run_info=info)
        assert info is not None
        runs.append(info.run_after)
    assert runs == list(timetable.schedule.iter_runs(WEEK_START, WEEK_START.add(hours=3)))[:5]
    # Monday 00:00 in Rome is Sunday 18:00 in New York: off-hours, so the 18:15 slot.
    assert runs[0] == WEEK_START.add(minutes=15)


def test_dag_serialization_needs_the_plugin(plugins_folder: Any, tmp_path: Any) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    plugins_folder(str(tmp_path))  # an empty folder: no plugin registers anything
    with pytest.raises(Exception, match="is not registered"):
        DagSerialization.to_dict(_probe_dag(_timetable()))


def test_unregistered_timetable_fails_even_with_the_plugin(plugins_folder: Any) -> None:
    from airflow.serialization.serialized_objects import DagSerialization

    plugins_folder(PLUGINS_FOLDER)
    DagSerialization.to_dict(_probe_dag(_timetable()))
    with pytest.raises(Exception, match=r"UnregisteredTimetable'? is not registered"):
        DagSerialization.to_dict(_probe_dag(UnregisteredTimetable(interval=THREE_MINUTES, timezone="UTC")))


# ---------------------------------------------------------------------------------------------
# The daily report: 19:00 on the local wall clock every day, whatever the zone.
# ---------------------------------------------------------------------------------------------

# Eight days from a Thursday, so each span holds a weekend and, where the zone has one, a
# clock change (the dates of each zone's change are in the constants above).
DAILY_REPORT_SPANS = [
    pytest.param("Europe/Rome", dt.date(2026, 3, 26), id="rome-spring"),
    pytest.param("Europe/Rome", dt.date(2026, 10, 22), id="rome-autumn"),
    pytest.param("America/New_York", dt.date(2026, 3, 5), id="new-york-spring"),
    pytest.param("America/New_York", dt.date(2026, 10, 29), id="new-york-autumn"),
    pytest.param("Australia/Lord_Howe", dt.date(2026, 4, 2), id="lord-howe-autumn"),
    pytest.param("Australia/Lord_Howe", dt.date(2026, 10, 1), id="lord-howe-spring"),
    pytest.param("Asia/Kolkata", dt.date(2026, 12, 3), id="kolkata-no-change"),
]


def _daily_runs(timetable: Any, zone_name: str, first_day: dt.date, days: int = 8) -> list[dt.datetime]:
    """Chain a built-in timetable from *first_day*'s local midnight; return the local readings."""
    zone = pendulum.timezone(zone_name)
    start = _at(first_day, 0, 0, zone)
    restriction = TimeRestriction(start, None, True)
    readings, last = [], None
    for _ in range(days):
        info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        assert info is not None
        readings.append(info.run_after.in_tz(zone))
        last = info.data_interval
    return readings


def _assert_1900_every_day(readings: list[dt.datetime], first_day: dt.date) -> None:
    assert [r.date() for r in readings] == [first_day + dt.timedelta(days=n) for n in range(len(readings))]
    assert {(r.hour, r.minute, r.second) for r in readings} == {(19, 0, 0)}
    assert {r.weekday() for r in readings} == set(range(7))  # the weekend included


@pytest.mark.parametrize(("zone_name", "first_day"), DAILY_REPORT_SPANS)
def test_cron_1900_stays_at_1900_local_across_clock_changes(zone_name: str, first_day: dt.date) -> None:
    # The very construction dags/daily_report.py uses, in several zones.
    timetable = CronTriggerTimetable("0 19 * * *", timezone=zone_name)
    _assert_1900_every_day(_daily_runs(timetable, zone_name, first_day), first_day)


def test_daily_report_dag_follows_handoff_timezone(monkeypatch: pytest.MonkeyPatch) -> None:
    # The DAG file reads config.TIMEZONE while it parses: load it with a non-default zone and
    # ask its serialized timetable, as the scheduler would, across New York's autumn change.
    from airflow.serialization.serialized_objects import DagSerialization

    from campaign_handoff import config

    monkeypatch.setattr(config, "TIMEZONE", "America/New_York")
    spec = importlib.util.spec_from_file_location(
        "daily_report_in_new_york", REPO / "dags" / "daily_report.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    timetable = DagSerialization.from_dict(DagSerialization.to_dict(module.dag)).timetable
    first_day = dt.date(2026, 10, 29)
    _assert_1900_every_day(_daily_runs(timetable, "America/New_York", first_day), first_day)


def test_handoff_timezone_comes_from_the_environment() -> None:
    # config reads HANDOFF_TIMEZONE once, at import: a fresh interpreter shows it.
    result = subprocess.run(
        [sys.executable, "-c", "from campaign_handoff import config; print(config.TIMEZONE)"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": PLUGINS_FOLDER, "HANDOFF_TIMEZONE": "America/New_York"},
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "America/New_York"


# ---------------------------------------------------------------------------------------------
# The benchmark still runs.
# ---------------------------------------------------------------------------------------------


def test_benchmark_prints_its_timings_next_to_a_built_in_timetable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A day instead of a year, to keep the suite fast; the figures themselves are not checked.
    spec = importlib.util.spec_from_file_location(
        "timetable_benchmark", REPO / "benchmarks" / "timetable_benchmark.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(
        sys, "argv", ["timetable_benchmark.py", "--days", "1", "--timezone", "America/New_York"]
    )
    module.main()
    rows = {line.split("  ")[0].strip(): line.split()[-3:] for line in capsys.readouterr().out.splitlines()}
    for label in ("OffHoursTimetable.next_dagrun_info", 'CronTriggerTimetable("*/3 * * * *")'):
        runs, seconds, per_run = rows[label]
        assert int(runs) > 0
        assert float(seconds) >= 0 and float(per_run) >= 0


# ---------------------------------------------------------------------------------------------
# Properties over random instants, zones and settings.
# ---------------------------------------------------------------------------------------------

PROPERTY_ZONES = ("Europe/Rome", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC")
# Divisors of 30 minutes: slots then lie on the grid and every shift (30 or 60 minutes) is a
# whole number of intervals, which is what makes the exact gap bounds below hold.
PROPERTY_INTERVAL_MINUTES = (1, 2, 3, 5, 6, 10, 15, 30)
PROPERTY_LAYOUTS = {
    "default": {},
    "grid-all-day": GRID_ALL_DAY,  # clock changes inside business hours
    "weekend-business": {"business_start": dt.time(8), "business_end": dt.time(20), "business_days": (5, 6)},
}
PROPERTY_SPAN = (
    dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    dt.datetime(2028, 1, 1, tzinfo=dt.UTC),
)
RUNS_PER_EXAMPLE = 30
SLOT_SPACING = dt.timedelta(minutes=30)


@functools.cache
def _clock_changes(zone_name: str) -> tuple[dt.datetime, ...]:
    """Return the instants in the property span where the zone's offset changes."""
    zone = zoneinfo.ZoneInfo(zone_name)
    changes, step = [], dt.timedelta(minutes=30)  # every change here falls on a whole half hour
    instant = PROPERTY_SPAN[0]
    offset = instant.astimezone(zone).utcoffset()
    while instant < PROPERTY_SPAN[1]:
        instant += step
        if (new := instant.astimezone(zone).utcoffset()) != offset:
            changes.append(instant)
            offset = new
    return tuple(changes)


@st.composite
def _cases(
    draw: st.DrawFn, intervals: tuple[int, ...] = PROPERTY_INTERVAL_MINUTES
) -> tuple[OffHoursTimetable, dt.datetime]:
    zone_name = draw(st.sampled_from(PROPERTY_ZONES))
    layout = draw(st.sampled_from(sorted(PROPERTY_LAYOUTS)))
    minutes = draw(st.sampled_from(intervals))
    timetable = OffHoursTimetable(
        interval=dt.timedelta(minutes=minutes), timezone=zone_name, **PROPERTY_LAYOUTS[layout]
    )
    jitter = dt.timedelta(microseconds=draw(st.integers(0, 999_999)))
    where = draw(st.sampled_from(("anywhere", "near-a-clock-change", "near-a-window-edge")))
    changes = _clock_changes(zone_name)
    if where == "near-a-clock-change" and changes:
        seconds = draw(st.integers(-6 * 3600, 6 * 3600))
        start = draw(st.sampled_from(changes)) + dt.timedelta(seconds=seconds)
    elif where == "near-a-window-edge":
        day = draw(st.dates(dt.date(2025, 1, 2), dt.date(2027, 12, 30)))
        edge = draw(
            st.sampled_from((dt.time(0), dt.time(5), dt.time(8), dt.time(20), dt.time(22), dt.time(23, 30)))
        )
        local = dt.datetime.combine(day, edge, tzinfo=zoneinfo.ZoneInfo(zone_name))
        start = local.astimezone(dt.UTC) + dt.timedelta(seconds=draw(st.integers(-7200, 7200)))
    else:
        seconds = draw(st.integers(0, int((PROPERTY_SPAN[1] - PROPERTY_SPAN[0]).total_seconds())))
        start = PROPERTY_SPAN[0] + dt.timedelta(seconds=seconds)
    return timetable, start + jitter


class _Oracle:
    """The rules restated on wall-clock readings, independent of the code under test."""

    def __init__(self, timetable: OffHoursTimetable) -> None:
        schedule = timetable.schedule
        self.zone = zoneinfo.ZoneInfo(schedule.timezone)
        self.interval = schedule.interval
        self.start, self.end = schedule.business_start, schedule.business_end
        self.days, self.slots = schedule.business_days, schedule.slot_minutes

    def reading(self, instant: dt.datetime) -> dt.datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    @staticmethod
    def plain(instant: dt.datetime) -> dt.datetime:
        """Return *instant* as a standard-library UTC datetime, so arithmetic stays stdlib."""
        utc = instant.astimezone(dt.UTC)
        fields = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond)
        return dt.datetime(*fields, tzinfo=dt.UTC)

    def in_business_hours(self, instant: dt.datetime) -> bool:
        local = self.reading(instant)
        return local.weekday() in self.days and self.start <= local.time() <= self.end

    def in_off_hours(self, instant: dt.datetime) -> bool:
        local = self.reading(instant)
        return local.weekday() not in self.days or not self.start <= local.time() < self.end

    def on_grid(self, instant: dt.datetime) -> bool:
        local = self.reading(instant)
        since_midnight = local - local.replace(hour=0, minute=0, second=0, microsecond=0)
        return since_midnight % self.interval == dt.timedelta(0)

    def on_slot(self, instant: dt.datetime) -> bool:
        local = self.reading(instant)
        return local.minute in self.slots and local.second == 0 and local.microsecond == 0

    def business_run(self, instant: dt.datetime) -> bool:
        return self.in_business_hours(instant) and self.on_grid(instant)

    def off_hours_run(self, instant: dt.datetime) -> bool:
        return self.in_off_hours(instant) and self.on_slot(instant)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases())
def test_properties(case: tuple[OffHoursTimetable, dt.datetime]) -> None:
    """
    Chain runs from a random instant and check them against the rules restated on readings.

    A gap is charged to the window of its due moment, the previous run + interval: the
    first moment the next run may happen. Due in business hours, the grid point is there
    and the gap is exactly one interval. Due in off-hours, the next slot is at most 30 minutes
    of readings away (and a skipped hour only shortens that in real time), so the gap is at
    most interval + 30 minutes. So at the window edges 21:57 -> 22:00 is a business gap (due
    at 22:00, the last reading of business hours) and 04:30 -> 05:00 an off-hours one (due at
    04:33); an edge is never measured from where the window changes.
    """
    timetable, seed = case
    oracle = _Oracle(timetable)
    interval = oracle.interval
    computed = [timetable.schedule.following_run(seed)]
    for _ in range(RUNS_PER_EXAMPLE):
        computed.append(timetable.schedule.following_run(computed[-1]))
    for run in computed:
        assert isinstance(run, pendulum.DateTime)
        assert run.tzinfo is not None
    runs = [oracle.plain(run) for run in computed]
    assert runs[0] >= seed + interval

    for run in runs:
        # Every run is a grid point in business hours or a slot in off-hours, on a whole minute.
        assert oracle.business_run(run) or oracle.off_hours_run(run), oracle.reading(run)

    for previous, run in pairwise(runs):
        due = previous + interval
        assert run >= due  # strictly increasing, and never sooner than one interval
        # Only a grid point may be exactly at the due moment; a slot must come after it.
        assert run > due or oracle.business_run(run), oracle.reading(run)
        if oracle.in_business_hours(due):
            assert run - previous == interval, (oracle.reading(previous), oracle.reading(run))
        else:
            assert run - previous <= interval + SLOT_SPACING, (oracle.reading(previous), oracle.reading(run))
        _assert_first_allowed(oracle, due, run)


def _assert_first_allowed(oracle: _Oracle, due: dt.datetime, run: dt.datetime) -> None:
    """Check no grid point at or after *due* and no slot after it comes before *run*."""
    # Every reading here is a whole minute in whole-minute zones, so minute steps see them all.
    instant = due
    while instant < run:
        assert not oracle.business_run(instant), oracle.reading(instant)
        assert instant == due or not oracle.off_hours_run(instant), oracle.reading(instant)
        instant += dt.timedelta(minutes=1)


# Whole-minute intervals that divide a day but not 30 minutes: the slots are off the grid, and
# a 30- or 60-minute shift need not be a whole number of intervals.
GENERAL_INTERVAL_MINUTES = (4, 8, 9, 12, 16, 20, 40, 45, 48, 60, 90, 120)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_cases(intervals=GENERAL_INTERVAL_MINUTES))
def test_properties_for_any_interval(case: tuple[OffHoursTimetable, dt.datetime]) -> None:
    """
    The same rules for intervals the exact bounds above do not cover, with gaps per kind of run.

    A business run due again inside business hours is followed one interval later, unless
    the clock changed in between (then later, never sooner). A run that is an off-hours slot
    comes at most 30 minutes of readings after its due moment, so at most interval + 30
    minutes after the previous run. The gap from the night into the morning grid is not
    bounded that way: the grid resumes at its first point, which for a grid that misses 05:00
    is later than 05:00.
    """
    timetable, seed = case
    oracle = _Oracle(timetable)
    interval = oracle.interval
    computed = [timetable.schedule.following_run(seed)]
    for _ in range(RUNS_PER_EXAMPLE // 2):
        computed.append(timetable.schedule.following_run(computed[-1]))
    runs = [oracle.plain(run) for run in computed]
    assert runs[0] >= seed + interval

    for run in runs:
        assert oracle.business_run(run) or oracle.off_hours_run(run), oracle.reading(run)

    for previous, run in pairwise(runs):
        due = previous + interval
        assert run >= due  # strictly increasing, and never sooner than one interval
        assert run > due or oracle.business_run(run), oracle.reading(run)
        # A business run due again within business hours, with no clock change on the way.
        same_offset = previous.astimezone(oracle.zone).utcoffset() == due.astimezone(oracle.zone).utcoffset()
        if oracle.business_run(previous) and oracle.in_business_hours(due) and same_offset:
            assert run - previous == interval, (oracle.reading(previous), oracle.reading(run))
        if oracle.off_hours_run(run):
            assert run - previous <= interval + SLOT_SPACING, (oracle.reading(previous), oracle.reading(run))
        _assert_first_allowed(oracle, due, run)


@settings(max_examples=60, deadline=None)
@given(_cases())
def test_first_run_at_or_after_is_an_allowed_instant(case: tuple[OffHoursTimetable, dt.datetime]) -> None:
    timetable, seed = case
    oracle = _Oracle(timetable)
    first = oracle.plain(timetable.schedule.first_run_at_or_after(seed))
    assert first >= seed
    assert oracle.business_run(first) or oracle.off_hours_run(first)
    instant = seed.replace(second=0, microsecond=0) + dt.timedelta(
        minutes=1 if seed.second or seed.microsecond else 0
    )
    while instant < first:
        assert not (oracle.business_run(instant) or oracle.off_hours_run(instant)), oracle.reading(instant)
        instant += dt.timedelta(minutes=1)


def test_a_pendulum_duration_is_a_valid_interval():
    """DAG files often write intervals with pendulum; it is a timedelta and must work as one."""
    from_pendulum = OffHoursTimetable(interval=pendulum.duration(minutes=3), timezone="Europe/Rome")
    plain = OffHoursTimetable(interval=dt.timedelta(minutes=3), timezone="Europe/Rome")
    assert from_pendulum.serialize() == plain.serialize()


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory"])
def test_host_dependent_zone_names_are_refused(zone):
    with pytest.raises(ValueError, match="not a known IANA zone name"):
        OffHoursTimetable(interval=dt.timedelta(minutes=3), timezone=zone)


def test_every_day_reads_as_such():
    every_day = OffHoursTimetable(
        interval=dt.timedelta(minutes=3), timezone="Europe/Rome", business_days=(0, 1, 2, 3, 4, 5, 6)
    )
    assert "every day" in every_day.summary
    assert "on every day" not in every_day.description
