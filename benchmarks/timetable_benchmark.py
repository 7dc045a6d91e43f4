"""Time a year of next-run computations for the hand-off timetable, next to a built-in one.

The scheduler asks a timetable for the next run once per run, so the figure that matters is
the cost of one ``next_dagrun_info`` call. Each timetable is driven through that call for a
year, the way a catchup replay would, and Airflow's own ``CronTriggerTimetable`` on the same
3-minute cadence and zone is timed in the same process as a yardstick, with
``DeltaTriggerTimetable`` (every 3 minutes, no calendar at all) as a second one. The pure
helper of the hand-off timetable is timed too, to show what the Airflow shell around it adds.

Run from the repository root::

    .venv/bin/python benchmarks/timetable_benchmark.py [--days 365] [--timezone Europe/Rome]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The project's package lives in plugins/, which Airflow (and pytest) put on sys.path.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

INTERVAL = dt.timedelta(minutes=3)


def _drive(timetable: Any, start: Any, end: Any) -> int:
    """Chain ``next_dagrun_info`` from *start* to *end* with catchup on; return the run count."""
    from airflow.timetables.base import TimeRestriction

    restriction = TimeRestriction(earliest=start, latest=end, catchup=True)
    last, runs = None, 0
    while (
        info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
    ) is not None:
        last = info.data_interval
        runs += 1
    return runs


def _time(label: str, work: Callable[[], int]) -> None:
    started = time.perf_counter()
    runs = work()
    seconds = time.perf_counter() - started
    print(f"{label:<44} {runs:>8} {seconds:>9.3f} {seconds / runs * 1e6:>9.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="length of the period computed")
    parser.add_argument("--timezone", default="Europe/Rome", help="IANA zone of the timetables")
    args = parser.parse_args()

    import pendulum
    from airflow.timetables.trigger import CronTriggerTimetable, DeltaTriggerTimetable

    from campaign_handoff.timetable import OffHoursTimetable

    start = pendulum.datetime(2026, 1, 1, tz=args.timezone)
    end = start.add(days=args.days)

    def offhours() -> OffHoursTimetable:
        # A fresh instance for each pass, so no pass profits from another's day cache.
        return OffHoursTimetable(interval=INTERVAL, timezone=args.timezone)

    print(f"{args.days} days from {start.isoformat()} ({args.timezone}), Python {sys.version.split()[0]}")
    print(f"OffHoursTimetable: {offhours().summary}")
    print(f"{'timetable':<44} {'runs':>8} {'seconds':>9} {'µs/run':>9}")
    _time("OffHoursTimetable.next_dagrun_info", lambda: _drive(offhours(), start, end))
    _time(
        "OffHoursSchedule.iter_runs (no Airflow shell)",
        lambda: sum(1 for _ in offhours().schedule.iter_runs(start, end)),
    )
    _time(
        'CronTriggerTimetable("*/3 * * * *")',
        lambda: _drive(CronTriggerTimetable("*/3 * * * *", timezone=args.timezone), start, end),
    )
    _time("DeltaTriggerTimetable(3 min)", lambda: _drive(DeltaTriggerTimetable(INTERVAL), start, end))


if __name__ == "__main__":
    main()
