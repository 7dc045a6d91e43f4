"""The hand-off's cadence: a tight grid in business hours, a few fixed slots otherwise.

During business hours (05:00 to 22:00, Monday to Friday by default) the DAG runs on a grid of
``interval`` counted from local midnight; the rest of the week it runs only at a few slot
minutes of each hour (``:00`` and ``:30`` by default). Campaigns keep flowing at night and at
weekends, without the cost of the daytime cadence.

How the rules read, and the clock-change decisions behind them:

* Everything is computed on UTC instants. The zone only turns a local calendar date and a
  wall-clock reading into the instants that carry that reading.
* The grid is a set of wall-clock readings, ``00:00 + k * interval`` on every local date (the
  interval must divide a day, so the grid is the same every day). A reading that a spring
  change skips has no run; a reading that an autumn change repeats has two runs, one per pass.
  A day whose midnight is skipped still counts its grid from the reading 00:00.
* For an interval that divides the clock shift (any divisor of 30 minutes, hence 3 minutes,
  for the 30-minute changes of Australia/Lord_Howe as well as for one-hour changes) the runs
  stay exactly ``interval`` apart across a change. For one that does not (8 minutes on
  Lord_Howe, say), the first run after the change is the first grid reading at or after the
  previous run + ``interval``, so that one gap is longer than ``interval``, never shorter.
* Slots are the instants whose local reading is ``HH:MM:00`` with ``MM`` a slot minute: both
  passes of a repeated hour have them, a skipped hour has none. No run is ever placed at a
  reading that does not exist locally.
* Which window an instant is in depends on its wall-clock reading and local weekday only, so
  both passes of a repeated hour are in the same window. Business hours include their end:
  the grid point at 22:00 is the day's last business run. Off-hours start at that same
  reading, so a 22:00 slot is a run even when the grid does not hit 22:00.
* A run is due ``interval`` after the previous one. The next run is the earlier of the first
  business grid point at or after that moment and the first off-hours slot strictly after it.

:class:`OffHoursSchedule` holds the rules and is pure (no clock, no Airflow);
:class:`OffHoursTimetable` is the thin Airflow face over it.
"""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pendulum
from airflow.exceptions import AirflowTimetableInvalid
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum import DateTime

_UTC = dt.UTC
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_ONE_US = dt.timedelta(microseconds=1)
_US_PER_SECOND = 1_000_000
_US_PER_DAY = 86_400 * _US_PER_SECOND
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

# Days of runs kept per schedule. Queries walk forward day by day, so a small cache holds
# the working set; it is emptied when full rather than evicted entry by entry, which keeps
# it correct without a lock if two threads share the timetable.
_DAY_CACHE_SIZE = 64

# A configuration that yields no run within a week is rejected up front, so this bound is
# only reached by a zone that skips the few readings such a schedule has; it keeps the search
# finite rather than looping forever.
_MAX_SEARCH_DAYS = 800


def _to_us(instant: dt.datetime, what: str) -> int:
    """Turn an aware datetime into microseconds since the epoch, exactly (no float rounding)."""
    offset = instant.utcoffset()
    if offset is None:
        raise ValueError(f"{what} must be timezone-aware, got naive {instant!r}")
    # The wall-clock fields minus the offset; no astimezone(), which pendulum makes slow.
    seconds = (instant.toordinal() - _EPOCH_ORDINAL) * 86_400 + instant.hour * 3600 + instant.minute * 60
    return (seconds + instant.second) * _US_PER_SECOND + instant.microsecond - offset // _ONE_US


def _from_us(us: int) -> DateTime:
    """Turn microseconds since the epoch into the aware pendulum UTC datetime Airflow expects."""
    d = _EPOCH + dt.timedelta(microseconds=us)
    return DateTime(d.year, d.month, d.day, d.hour, d.minute, d.second, d.microsecond, tzinfo=pendulum.UTC)


def _time_us(value: dt.time) -> int:
    """Return a wall-clock reading as microseconds after midnight."""
    return ((value.hour * 60 + value.minute) * 60 + value.second) * _US_PER_SECOND + value.microsecond


def _clock(value: dt.time) -> str:
    """Format a reading as HH:MM, keeping seconds only when they matter."""
    return value.strftime("%H:%M:%S" if value.second or value.microsecond else "%H:%M")


def _strictly_increasing_ints(name: str, values: Iterable[Any], low: int, high: int) -> tuple[int, ...]:
    """Check that *values* are ints in [low, high] given in increasing order, each once."""
    items = tuple(values)
    for value in items:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{name} must hold integers from {low} to {high}, got {value!r}")
    if list(items) != sorted(set(items)):
        raise ValueError(f"{name} must be sorted and without repeats, got {list(items)!r}")
    return items


def _load_zone(name: Any) -> zoneinfo.ZoneInfo:
    """Load an IANA zone by name, turning every way it can fail into one clear ValueError."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"timezone must be an IANA zone name such as 'Europe/Rome', got {name!r}")
    if name not in _iana_zone_names():
        # 'localtime', 'posixrules' and the like load too, but mean different things per host.
        raise ValueError(f"timezone {name!r} is not a known IANA zone name such as 'Europe/Rome'")
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValueError(f"timezone {name!r} is not a known IANA zone") from exc


_HOST_SPECIFIC_ZONES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def _iana_zone_names() -> frozenset[str]:
    return frozenset(
        name
        for name in zoneinfo.available_timezones()
        if name not in _HOST_SPECIFIC_ZONES and not name.startswith(("posix/", "right/"))
    )


class OffHoursSchedule:
    """
    The cadence rules, computed without a clock and without Airflow.

    Every method takes and returns aware datetimes (results are pendulum UTC datetimes);
    internally instants are integer microseconds since the epoch, so comparisons are exact.

    :param interval: Spacing of the business-hours grid and the minimum wait between runs.
        Must be a whole number of seconds that divides a day.
    :param timezone: IANA name of the zone whose wall clock the rules follow.
    :param business_start: First reading of business hours.
    :param business_end: Last reading of business hours (inclusive).
    :param business_days: Weekdays with business hours, Monday being 0, in increasing order.
    :param slot_minutes: Minutes past each off-hours hour that carry a run, in increasing order.
    :param enabled: If False, ignore the windows and run on the plain grid all week.
    """

    def __init__(
        self,
        *,
        interval: dt.timedelta,
        timezone: str,
        business_start: dt.time = dt.time(5),
        business_end: dt.time = dt.time(22),
        business_days: Sequence[int] = (0, 1, 2, 3, 4),
        slot_minutes: Sequence[int] = (0, 30),
        enabled: bool = True,
    ) -> None:
        # Argument checks: a wrong schedule must fail when the DAG file parses.
        if not isinstance(interval, dt.timedelta):
            raise ValueError(f"interval must be a datetime.timedelta, got {interval!r}")
        # A plain timedelta of the same length: pendulum's Duration (a subclass) breaks on //.
        plain = dt.timedelta(days=interval.days, seconds=interval.seconds, microseconds=interval.microseconds)
        interval_us = plain // _ONE_US
        if interval_us <= 0:
            raise ValueError(f"interval must be positive, got {interval!r}")
        if interval_us % (60 * _US_PER_SECOND):
            raise ValueError(
                f"interval must be a whole number of minutes (the grid and the slots are minutes of "
                f"the clock), got {interval!r}"
            )
        if _US_PER_DAY % interval_us:
            raise ValueError(
                f"interval must divide a day evenly (e.g. 1, 2, 3, 5, 10, 15, 30 or 60 minutes) so the "
                f"grid counted from midnight is the same every day, got {interval!r}"
            )
        zone = _load_zone(timezone)
        for name, value in (("business_start", business_start), ("business_end", business_end)):
            if not isinstance(value, dt.time) or value.tzinfo is not None:
                raise ValueError(f"{name} must be a naive datetime.time (a local reading), got {value!r}")
        if business_start >= business_end:
            raise ValueError(
                f"business_start must be earlier than business_end within one day, got "
                f"{business_start.isoformat()} and {business_end.isoformat()}"
            )
        days = _strictly_increasing_ints("business_days", business_days, 0, 6)
        slots = _strictly_increasing_ints("slot_minutes", slot_minutes, 0, 59)
        if not slots:
            raise ValueError("slot_minutes must name at least one minute")
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled must be True or False, got {enabled!r}")

        self.interval = dt.timedelta(microseconds=interval_us)
        self.timezone = timezone
        self.business_start = business_start
        self.business_end = business_end
        self.business_days = days
        self.slot_minutes = slots
        self.enabled = enabled
        self._zone = zone
        self._interval_us = interval_us

        # Readings of one day, as microseconds after midnight. Business hours include their
        # end; off-hours run from that same reading to the start of business hours.
        start_us, end_us = _time_us(business_start), _time_us(business_end)
        self._grid_all = tuple(range(0, _US_PER_DAY, interval_us))
        self._grid_business = tuple(w for w in self._grid_all if start_us <= w <= end_us)
        self._slots_all = tuple((h * 60 + m) * 60 * _US_PER_SECOND for h in range(24) for m in slots)
        self._slots_off_hours = tuple(w for w in self._slots_all if w < start_us or w >= end_us)
        self._days: dict[int, tuple[list[int], list[int]]] = {}

        if enabled and not self._has_a_weekly_run():
            raise ValueError(
                "these settings leave no run in a whole week: no grid point falls in business "
                "hours and no slot minute falls in off-hours"
            )

    def _has_a_weekly_run(self) -> bool:
        """Tell whether the wall-clock pattern has at least one run reading in a week."""
        on_business_days = bool(self._grid_business or self._slots_off_hours)
        return (bool(self.business_days) and on_business_days) or len(self.business_days) < 7

    # -- settings --------------------------------------------------------------------------

    def settings(self) -> dict[str, Any]:
        """Return the constructor arguments, JSON-ready, so a copy can be rebuilt from them."""
        return {
            "interval_seconds": self._interval_us // _US_PER_SECOND,
            "timezone": self.timezone,
            "business_start": self.business_start.isoformat(),
            "business_end": self.business_end.isoformat(),
            "business_days": list(self.business_days),
            "slot_minutes": list(self.slot_minutes),
            "enabled": self.enabled,
        }

    @classmethod
    def from_settings(cls, data: dict[str, Any]) -> OffHoursSchedule:
        """Rebuild a schedule from :meth:`settings` output."""
        return cls(
            interval=dt.timedelta(seconds=data["interval_seconds"]),
            timezone=data["timezone"],
            business_start=dt.time.fromisoformat(data["business_start"]),
            business_end=dt.time.fromisoformat(data["business_end"]),
            business_days=tuple(data["business_days"]),
            slot_minutes=tuple(data["slot_minutes"]),
            enabled=data["enabled"],
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OffHoursSchedule):
            return NotImplemented
        return self.settings() == other.settings()

    def __hash__(self) -> int:
        return hash(tuple(repr(v) for v in self.settings().values()))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"

    # -- wording ---------------------------------------------------------------------------

    def _interval_text(self, *, short: bool) -> str:
        seconds = self._interval_us // _US_PER_SECOND
        for size, unit_short, unit_long in ((3600, "h", "hour"), (60, "min", "minute"), (1, "s", "second")):
            if seconds % size == 0:
                count = seconds // size
                if short:
                    return f"every {count} {unit_short}"
                return f"every {unit_long}" if count == 1 else f"every {count} {unit_long}s"
        raise AssertionError("unreachable: the interval is a whole number of seconds")

    def _days_text(self) -> str:
        days = self.business_days
        if len(days) == 7:
            return "every day"
        if len(days) > 2 and days[-1] - days[0] == len(days) - 1:
            return f"{_DAY_NAMES[days[0]]}–{_DAY_NAMES[days[-1]]}"
        return ",".join(_DAY_NAMES[d] for d in days)

    def summary(self) -> str:
        """Return the one-line form the UI shows in the schedule column."""
        step = self._interval_text(short=True)
        slots = "/".join(f":{m:02d}" for m in self.slot_minutes)
        if not self.enabled:
            return f"{step} ({self.timezone})"
        if not self.business_days:
            return f"{slots} ({self.timezone})"
        hours = f"{_clock(self.business_start)}–{_clock(self.business_end)}"
        return f"{step} {hours} {self._days_text()}, {slots} otherwise ({self.timezone})"

    def description(self) -> str:
        """Return the sentence the UI shows when someone asks what the schedule means."""
        step = self._interval_text(short=False)
        minutes = [f":{m:02d}" for m in self.slot_minutes]
        slots = minutes[0] if len(minutes) == 1 else f"{', '.join(minutes[:-1])} and {minutes[-1]}"
        if not self.enabled:
            return (
                f"Runs {step} from local midnight, every day; the off-hours slots are switched "
                f"off. Times follow the {self.timezone} wall clock."
            )
        if not self.business_days:
            return f"Runs at {slots} past every hour. Times follow the {self.timezone} wall clock."
        days = self._days_text()
        when = days if days == "every day" else f"on {days}"
        return (
            f"Runs {step} from {_clock(self.business_start)} to {_clock(self.business_end)} {when}, "
            f"and at {slots} past the hour at all other times. Times follow the {self.timezone} "
            "wall clock, clock changes included."
        )

    # -- runs ------------------------------------------------------------------------------

    def following_run(self, previous: dt.datetime) -> DateTime:
        """Return the run that comes after *previous*: no sooner than one interval later."""
        return _from_us(self._following_us(_to_us(previous, "previous")))

    def first_run_at_or_after(self, instant: dt.datetime) -> DateTime:
        """Return the first instant at or after *instant* that the rules allow a run at."""
        return _from_us(self._search(_to_us(instant, "instant"), strict_slots=False))

    def next_run_after(
        self,
        previous: dt.datetime | None,
        *,
        earliest: dt.datetime | None = None,
        latest: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> DateTime | None:
        """
        Return the next run given what has run and what bounds it; None if there is none.

        Each given bound is one constraint: due after *previous*, not before *earliest*, not
        before *now*. The run is the first instant that meets them all, which is the latest of
        the first instants meeting each one alone. Passing *now* is how the caller skips
        missed runs (catchup off); leaving it out replays every run in order. With neither
        *previous*, *earliest* nor *now* there is nothing to count from, so no run.

        :param previous: The last scheduled run, or None before the first one.
        :param earliest: No run before this instant (the DAG's start date).
        :param latest: No run after this instant (the DAG's end date); None past it.
        :param now: The current time, when missed runs are to be skipped.
        """
        run = None if previous is None else self._following_us(_to_us(previous, "previous"))
        for name, bound in (("earliest", earliest), ("now", now)):
            if bound is None:
                continue
            bound_us = _to_us(bound, name)
            # Runs meeting any one constraint are all runs from some instant on, so a run that
            # already meets this bound is kept, and otherwise the first one that does wins.
            if run is None or run < bound_us:
                run = self._search(bound_us, strict_slots=False)
        if run is None or (latest is not None and run > _to_us(latest, "latest")):
            return None
        return _from_us(run)

    def iter_runs(self, start: dt.datetime, end: dt.datetime) -> Iterator[DateTime]:
        """Yield every run from *start* to *end*, both inclusive, as a scheduler would chain them."""
        end_us = _to_us(end, "end")
        run = self._search(_to_us(start, "start"), strict_slots=False)
        while run <= end_us:
            yield _from_us(run)
            run = self._following_us(run)

    # -- search on microseconds ------------------------------------------------------------

    def _following_us(self, previous_us: int) -> int:
        return self._search(previous_us + self._interval_us, strict_slots=True)

    def _search(self, bound_us: int, *, strict_slots: bool) -> int:
        """
        Return the first grid point at or after *bound_us* or slot past it, whichever is first.

        Slots are taken at or after the bound when *strict_slots* is False. Runs are grouped
        by the local date of their reading; an autumn change across midnight can put a
        reading of the previous date after *bound_us*, and an instant of the next date before
        one of this date, so the search starts a day early and looks one date past the first
        date with a hit.
        """
        first_ordinal = self._local_ordinal(bound_us) - 1
        best: int | None = None
        hit_ordinal = 0
        for ordinal in range(first_ordinal, first_ordinal + _MAX_SEARCH_DAYS):
            if best is not None and ordinal > hit_ordinal + 1:
                return best
            grid, slots = self._day(ordinal)
            i = bisect.bisect_left(grid, bound_us)
            j = bisect.bisect_right(slots, bound_us) if strict_slots else bisect.bisect_left(slots, bound_us)
            for found in (grid[i] if i < len(grid) else None, slots[j] if j < len(slots) else None):
                if found is not None and (best is None or found < best):
                    if best is None:
                        hit_ordinal = ordinal
                    best = found
        if best is not None:
            return best
        raise RuntimeError(f"no run found within {_MAX_SEARCH_DAYS} days of {_from_us(bound_us)}")

    def _local_ordinal(self, us: int) -> int:
        return (_EPOCH + dt.timedelta(microseconds=us)).astimezone(self._zone).toordinal()

    def _day(self, ordinal: int) -> tuple[list[int], list[int]]:
        """Return the sorted business grid instants and off-hours slot instants of one local date."""
        try:
            return self._days[ordinal]
        except KeyError:
            pass
        date = dt.date.fromordinal(ordinal)
        if not self.enabled:
            grid, slots = self._grid_all, ()
        elif date.weekday() in self.business_days:
            grid, slots = self._grid_business, self._slots_off_hours
        else:
            grid, slots = (), self._slots_all
        day = (self._instants(date, grid), self._instants(date, slots))
        if len(self._days) >= _DAY_CACHE_SIZE:
            self._days.clear()
        self._days[ordinal] = day
        return day

    def _instants(self, date: dt.date, readings: Sequence[int]) -> list[int]:
        """
        Map readings of *date* to the instants that show them, sorted.

        The zone's offset for ``fold=0`` is the one before a transition and for ``fold=1``
        the one after (PEP 495). Equal offsets: the reading occurs once. Otherwise the two
        candidate instants tell a repeated reading (in order: both are real) from a skipped
        one (reversed: neither is).
        """
        zone = self._zone
        midnight = dt.datetime.combine(date, dt.time())
        local_midnight_us = (date.toordinal() - _EPOCH_ORDINAL) * _US_PER_DAY
        out: list[int] = []
        for reading in readings:
            naive = midnight + dt.timedelta(microseconds=reading)
            before = zone.utcoffset(naive)
            after = zone.utcoffset(naive.replace(fold=1))
            local_us = local_midnight_us + reading
            first = local_us - before // _ONE_US
            if before == after:
                out.append(first)
                continue
            second = local_us - after // _ONE_US
            if first < second:
                out.extend((first, second))
        out.sort()
        return out


class OffHoursTimetable(Timetable):
    """
    Run on a grid of ``interval`` in business hours and at slot minutes the rest of the week.

    Runs are points in time: each run's data interval starts and ends at its ``run_after``.
    See the module docstring for the rules, clock changes included; the arguments are those
    of :class:`OffHoursSchedule`, which does the arithmetic.
    """

    def __init__(
        self,
        *,
        interval: dt.timedelta,
        timezone: str,
        business_start: dt.time = dt.time(5),
        business_end: dt.time = dt.time(22),
        business_days: Sequence[int] = (0, 1, 2, 3, 4),
        slot_minutes: Sequence[int] = (0, 30),
        enabled: bool = True,
    ) -> None:
        self.schedule = OffHoursSchedule(
            interval=interval,
            timezone=timezone,
            business_start=business_start,
            business_end=business_end,
            business_days=business_days,
            slot_minutes=slot_minutes,
            enabled=enabled,
        )
        self.description = self.schedule.description()

    @property
    def summary(self) -> str:
        return self.schedule.summary()

    def serialize(self) -> dict[str, Any]:
        return self.schedule.settings()

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls._from_schedule(OffHoursSchedule.from_settings(data))

    @classmethod
    def _from_schedule(cls, schedule: OffHoursSchedule) -> OffHoursTimetable:
        timetable = cls.__new__(cls)
        timetable.schedule = schedule
        timetable.description = schedule.description()
        return timetable

    def validate(self) -> None:
        """Re-check the settings, so an instance altered after construction is still caught."""
        try:
            OffHoursSchedule.from_settings(self.schedule.settings())
        except (ValueError, KeyError, TypeError) as exc:
            raise AirflowTimetableInvalid(str(exc)) from exc

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, OffHoursTimetable):
            return NotImplemented
        return self.schedule == other.schedule

    def __hash__(self) -> int:
        return hash(self.schedule)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.schedule!r})"

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """Give a manual run the point it was triggered for, whatever the cadence says."""
        return DataInterval.exact(pendulum.instance(run_after))

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
    ) -> DagRunInfo | None:
        previous = last_automated_data_interval.end if last_automated_data_interval else None
        return self._next_info(previous, restriction)

    def next_dagrun_info_v2(
        self, *, last_dagrun_info: DagRunInfo | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        # The base class passes only the data interval on; a run without one would then look
        # like no run at all and the schedule would start over. Its run_after is the same
        # point, so fall back to it.
        previous = None
        if last_dagrun_info is not None:
            interval = last_dagrun_info.data_interval
            previous = interval.end if interval is not None else last_dagrun_info.run_after
        return self._next_info(previous, restriction)

    def _next_info(self, previous: DateTime | None, restriction: TimeRestriction) -> DagRunInfo | None:
        # Only a DAG that skips missed runs needs to know the time.
        now = None if restriction.catchup else pendulum.now(pendulum.UTC)
        run = self.schedule.next_run_after(
            previous, earliest=restriction.earliest, latest=restriction.latest, now=now
        )
        return None if run is None else DagRunInfo.exact(run)
