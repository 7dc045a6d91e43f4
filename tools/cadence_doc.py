"""Show the hand-off cadence to people: a table of example runs and a picture of one week.

Both come from ``OffHoursTimetable(interval=3 min, timezone="Europe/Rome")`` asked through
``next_dagrun_info``, the call the scheduler makes, so they show what Airflow will do rather
than what someone thinks it does. The table lists the runs around each boundary (weekday
evening, Friday night into Saturday, Sunday night into Monday morning, and the two
clock-change nights of 2026); the picture counts the runs of each local hour of an ordinary
week.

Run from the repository root::

    .venv/bin/python tools/cadence_doc.py                 # print the table, render the picture
    .venv/bin/python tools/cadence_doc.py --write-readme  # and rewrite README's cadence section
    .venv/bin/python tools/cadence_doc.py --check         # exit 1 if either is out of date

Only the text between ``<!-- cadence:start -->`` and ``<!-- cadence:end -->`` in README.md
is ever rewritten. ``--check`` writes nothing; ``tests/test_cadence_doc.py`` runs it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import textwrap
import zoneinfo
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pendulum
from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parents[1]
# The project's package lives in plugins/, which Airflow (and pytest) put on sys.path.
sys.path.insert(0, str(REPO / "plugins"))

from airflow.timetables.base import TimeRestriction  # noqa: E402

from campaign_handoff.timetable import OffHoursTimetable  # noqa: E402

README = REPO / "README.md"
PICTURE = REPO / "docs" / "cadence-week.png"
PICTURE_LINK = "docs/cadence-week.png"
START_MARKER = "<!-- cadence:start -->"
END_MARKER = "<!-- cadence:end -->"

INTERVAL = dt.timedelta(minutes=3)
TIMEZONE = "Europe/Rome"
ZONE = zoneinfo.ZoneInfo(TIMEZONE)
# An ordinary week (no clock change): Monday 30 November to Sunday 6 December 2026.
WEEK_START = dt.date(2026, 11, 30)
# How far before a span the chain starts, so its first row knows the run before it.
LEAD = dt.timedelta(hours=2)


def _local(day: dt.date, hour: int, minute: int = 0) -> pendulum.DateTime:
    """Return the instant reading *hour*:*minute* on *day* in Rome; only unambiguous readings here."""
    return pendulum.datetime(day.year, day.month, day.day, hour, minute, tz=TIMEZONE)


@dataclass(frozen=True)
class Boundary:
    """One group of rows of the table: what it shows, and the runs from *start* to *end*."""

    label: str
    start: pendulum.DateTime
    end: pendulum.DateTime


WEDNESDAY = dt.date(2026, 12, 2)
FRIDAY, SATURDAY = dt.date(2026, 12, 4), dt.date(2026, 12, 5)
SUNDAY, MONDAY = dt.date(2026, 12, 6), dt.date(2026, 12, 7)
SPRING_FORWARD = dt.date(2026, 3, 29)  # 02:00 CET becomes 03:00 CEST
FALL_BACK = dt.date(2026, 10, 25)  # 03:00 CEST becomes 02:00 CET: 02:00-02:59 is read twice

BOUNDARIES = (
    Boundary("Weekday evening", _local(WEDNESDAY, 21, 51), _local(WEDNESDAY, 22, 30)),
    Boundary("Friday night into Saturday", _local(FRIDAY, 23), _local(SATURDAY, 0, 30)),
    Boundary("Saturday morning: slots only", _local(SATURDAY, 4, 30), _local(SATURDAY, 5, 30)),
    Boundary("Sunday night into Monday", _local(SUNDAY, 23, 30), _local(MONDAY, 0, 30)),
    Boundary("Monday morning", _local(MONDAY, 4, 30), _local(MONDAY, 5, 6)),
    Boundary("Clocks go forward", _local(SPRING_FORWARD, 1), _local(SPRING_FORWARD, 3, 30)),
    Boundary("Clocks go back", _local(FALL_BACK, 1, 30), _local(FALL_BACK, 3)),
)


def make_timetable() -> OffHoursTimetable:
    return OffHoursTimetable(interval=INTERVAL, timezone=TIMEZONE)


def scheduled_runs(
    timetable: OffHoursTimetable, start: dt.datetime, end: dt.datetime
) -> Iterator[pendulum.DateTime]:
    """Yield the runs from *start* to *end* (both inclusive) as the scheduler chains them."""
    restriction = TimeRestriction(earliest=start, latest=end, catchup=True)
    last = None
    while info := timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction):
        yield info.run_after
        last = info.data_interval


# -- the table ---------------------------------------------------------------------------------


def _reading(instant: dt.datetime) -> dt.datetime:
    return instant.astimezone(ZONE)


def _offset(local: dt.datetime) -> str:
    minutes = int(local.utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _is_repeated(local: dt.datetime) -> bool:
    """Tell whether the zone shows this (existing) wall-clock reading twice, once per pass."""
    naive = local.replace(tzinfo=None)
    return ZONE.utcoffset(naive.replace(fold=0)) != ZONE.utcoffset(naive.replace(fold=1))


def _duration(delta: dt.timedelta) -> str:
    minutes = int(delta.total_seconds()) // 60
    hours, rest = divmod(minutes, 60)
    if hours and rest:
        return f"{hours} h {rest} min"
    return f"{hours} h" if hours else f"{minutes} min"


def _skipped_readings(previous: dt.datetime, run: dt.datetime) -> str:
    """Name the wall-clock readings a forward change between two runs skips, e.g. 02:00-02:59."""
    old, new = _reading(previous).utcoffset(), _reading(run).utcoffset()
    assert old is not None and new is not None
    # The first minute with the new offset, read on the old clock, is the first skipped reading.
    instant = dt.datetime.fromtimestamp(previous.timestamp(), dt.UTC)
    while _reading(instant).utcoffset() == old:
        instant += dt.timedelta(minutes=1)
    first = (instant + old).replace(tzinfo=None)
    last = first + (new - old) - dt.timedelta(minutes=1)
    return f"{first:%H:%M}-{last:%H:%M}"


def _note(previous: dt.datetime, run: dt.datetime, following: dt.datetime) -> str:
    """Say what happens at *run*, judged from the runs either side of it."""
    local = _reading(run)
    if local.utcoffset() > _reading(previous).utcoffset():  # type: ignore[operator]
        return f"clocks go forward: {_skipped_readings(previous, run)} never shows, so no run there"
    if _is_repeated(local):
        return "repeated hour, second pass" if local.fold else "repeated hour, first pass"
    before, after = run - previous, following - run
    if before == INTERVAL < after:
        return "business hours end: slots take over"
    if before > INTERVAL == after:
        return "business hours begin: the grid starts"
    return ""


def table_rows(timetable: OffHoursTimetable) -> list[tuple[str, ...]]:
    """Return the table's rows: boundary, local day, local run time, UTC, gap, note."""
    rows: list[tuple[str, ...]] = []
    for boundary in BOUNDARIES:
        # A run either side of the span, so every row knows its neighbours.
        runs = list(scheduled_runs(timetable, boundary.start - LEAD, boundary.end + LEAD))
        label, day_shown = boundary.label, ""
        for index, run in enumerate(runs):
            if not boundary.start <= run <= boundary.end:
                continue
            assert 0 < index < len(runs) - 1, "LEAD must reach a run on each side of the span"
            previous, following = runs[index - 1], runs[index + 1]
            local = _reading(run)
            day = f"{local:%a} {local.day} {local:%b %Y}"
            rows.append(
                (
                    label,
                    "" if day == day_shown else day,
                    f"{local:%H:%M} ({_offset(local)})",
                    f"{run.in_tz('UTC'):%a %H:%M}",
                    _duration(run - previous),
                    _note(previous, run, following),
                )
            )
            label, day_shown = "", day
    return rows


def markdown_table(timetable: OffHoursTimetable) -> str:
    header = ("Boundary", "Local day", f"Run ({TIMEZONE})", "UTC", "After previous", "Note")
    lines = [_row(header), _row(tuple("---" for _ in header))]
    lines.extend(_row(row) for row in table_rows(timetable))
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def readme_section(timetable: OffHoursTimetable) -> str:
    """Return the text that belongs between the README's cadence markers."""
    explanation = (
        "The hand-off runs on `OffHoursTimetable`, every 3 minutes from 05:00 to 22:00 on "
        "weekdays and at :00 and :30 past the hour at all other times, by the wall clock of "
        "`HANDOFF_TIMEZONE` (by default Europe/Rome, the zone shown here). A run never follows "
        "the previous one by less than 3 minutes: at 22:00 the half-hour slots take over, and "
        "at 05:00 on a weekday the 3-minute grid starts again. On the night the clocks go "
        "forward the missing hour gets no run; on the night they go back, the hour that "
        "happens twice gets its slots twice. The table and the picture are drawn from the "
        "timetable itself by `tools/cadence_doc.py --write-readme`, and a test fails when they "
        "no longer match it."
    )
    picture = f"![One week of runs]({PICTURE_LINK})"
    # Wrapped like the rest of the README's prose.
    return f"\n{textwrap.fill(explanation, width=92)}\n\n{markdown_table(timetable)}\n\n{picture}\n"


def _split_readme(text: str) -> tuple[str, str, str]:
    """Split README text into what precedes the section, the section, and what follows it."""
    if text.count(START_MARKER) != 1 or text.count(END_MARKER) != 1:
        raise ValueError(f"README must hold {START_MARKER} and {END_MARKER} exactly once each")
    head, rest = text.split(START_MARKER)
    section, tail = rest.split(END_MARKER)
    return head + START_MARKER, section, END_MARKER + tail


# -- the picture -------------------------------------------------------------------------------

WIDTH = 1000
LEFT, TOP = 96, 96
CELL_W, CELL_H = 34, 44
TOTAL_W = WIDTH - LEFT - 24 * CELL_W - 16
BACKGROUND = (255, 255, 255)
INK = (33, 37, 41)
MUTED = (108, 117, 125)
GRID_LINE = (222, 226, 230)
LOW, HIGH = (232, 241, 250), (23, 70, 122)  # fewest and most runs in an hour


def week_counts(timetable: OffHoursTimetable) -> list[list[int]]:
    """Return runs per local hour, one row of 24 per day of the ordinary week."""
    start = _local(WEEK_START, 0)
    end = _local(WEEK_START + dt.timedelta(days=7), 0) - dt.timedelta(microseconds=1)
    counts = Counter(
        ((local := _reading(run)).date(), local.hour) for run in scheduled_runs(timetable, start, end)
    )
    days = [WEEK_START + dt.timedelta(days=n) for n in range(7)]
    return [[counts[day, hour] for hour in range(24)] for day in days]


def _shade(count: int, most: int) -> tuple[int, int, int]:
    if count == 0:
        return BACKGROUND
    share = count / most
    red, green, blue = (round(low + (high - low) * share) for low, high in zip(LOW, HIGH, strict=True))
    return red, green, blue


def _centered(
    draw: ImageDraw.ImageDraw,
    box: tuple[float, float, float, float],
    text: str,
    font: ImageFont.FreeTypeFont,
    fill: tuple[int, int, int],
) -> None:
    left, top, right, bottom = box
    draw.text(((left + right) / 2, (top + bottom) / 2), text, font=font, fill=fill, anchor="mm")


def render_week(timetable: OffHoursTimetable) -> Image.Image:
    """Draw the week as a 7 x 24 grid of hours shaded by their number of runs."""
    counts = week_counts(timetable)
    most = max(max(row) for row in counts)
    distinct = sorted({c for row in counts for c in row})
    height = TOP + 7 * CELL_H + 84
    image = Image.new("RGB", (WIDTH, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    title_font = ImageFont.load_default(size=22)
    font = ImageFont.load_default(size=14)
    small = ImageFont.load_default(size=12)
    interval_minutes = int(INTERVAL.total_seconds()) // 60

    # Title and what the picture counts.
    draw.text(
        (LEFT, 14),
        f"One week of runs  ·  {TIMEZONE}  ·  every {interval_minutes} min",
        font=title_font,
        fill=INK,
    )
    first, last = WEEK_START, WEEK_START + dt.timedelta(days=6)
    draw.text(
        (LEFT, 44),
        f"Runs in each local hour, {first:%a} {first.day} {first:%b} to {last:%a} {last.day} {last:%b %Y}"
        # The bundled font has no en dash.
        f"  ·  {timetable.summary.replace('–', '-')}",
        font=small,
        fill=MUTED,
    )

    # Hour labels over the columns, the day total's heading on the right.
    for hour in range(24):
        x = LEFT + hour * CELL_W
        _centered(draw, (x, TOP - 24, x + CELL_W, TOP - 4), f"{hour:02d}", small, MUTED)
    total_left = LEFT + 24 * CELL_W + 8
    _centered(draw, (total_left, TOP - 24, total_left + TOTAL_W, TOP - 4), "total", small, MUTED)

    # One row per day: label, 24 shaded cells with their counts, the day's total.
    for row, day_counts in enumerate(counts):
        day = WEEK_START + dt.timedelta(days=row)
        y = TOP + row * CELL_H
        draw.text(
            (LEFT - 12, y + CELL_H / 2), f"{day:%a} {day.day} {day:%b}", font=font, fill=INK, anchor="rm"
        )
        for hour, count in enumerate(day_counts):
            x = LEFT + hour * CELL_W
            fill = _shade(count, most)
            draw.rectangle((x, y, x + CELL_W - 1, y + CELL_H - 1), fill=fill, outline=GRID_LINE)
            text_fill = BACKGROUND if count / most > 0.5 else INK
            _centered(draw, (x, y, x + CELL_W, y + CELL_H), str(count), font, text_fill)
        _centered(draw, (total_left, y, total_left + TOTAL_W, y + CELL_H), str(sum(day_counts)), font, INK)

    # Legend: one swatch per number of runs that occurs.
    y = TOP + 7 * CELL_H + 22
    draw.text((LEFT, y + 9), "runs in the hour:", font=small, fill=MUTED, anchor="lm")
    x = LEFT + 112
    for count in distinct:
        draw.rectangle((x, y, x + 18, y + 18), fill=_shade(count, most), outline=GRID_LINE)
        draw.text((x + 24, y + 9), str(count), font=small, fill=INK, anchor="lm")
        x += 64
    draw.text(
        (LEFT, y + 40),
        "Hour 22 holds 2 runs on weekdays too: 22:00, the last run of the grid, and the 22:30 slot.",
        font=small,
        fill=MUTED,
    )
    return image


def _same_picture(path: Path, image: Image.Image) -> bool:
    if not path.exists():
        return False
    with Image.open(path) as stored:
        return stored.size == image.size and stored.convert("RGB").tobytes() == image.tobytes()


# -- command line ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--write-readme", action="store_true", help="rewrite README's cadence section")
    mode.add_argument("--check", action="store_true", help="exit 1 if README or the picture is out of date")
    parser.add_argument("--readme", type=Path, default=README, help=argparse.SUPPRESS)
    parser.add_argument("--picture", type=Path, default=PICTURE, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    timetable = make_timetable()
    section = readme_section(timetable)
    image = render_week(timetable)

    if args.check:
        problems = []
        try:
            _, current, _ = _split_readme(args.readme.read_bytes().decode("utf-8"))
        except ValueError as exc:
            problems.append(f"{args.readme.name}: {exc}")
        else:
            if current != section:
                problems.append(f"{args.readme.name}: the cadence section is out of date")
        if not _same_picture(args.picture, image):
            problems.append(f"{args.picture.name}: the picture is missing or out of date")
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print("Run: .venv/bin/python tools/cadence_doc.py --write-readme", file=sys.stderr)
        return 1 if problems else 0

    print(markdown_table(timetable))
    args.picture.parent.mkdir(parents=True, exist_ok=True)
    image.save(args.picture, format="PNG", optimize=True)
    print(f"\nwrote {args.picture}")
    if args.write_readme:
        # Read the file again right before writing: only the marked section changes.
        head, _, tail = _split_readme(args.readme.read_bytes().decode("utf-8"))
        args.readme.write_bytes((head + section + tail).encode("utf-8"))
        print(f"wrote the cadence section of {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
