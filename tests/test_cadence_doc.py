"""The README's cadence section and docs/cadence-week.png match the timetable they describe."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from tools import cadence_doc

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def copies(tmp_path: Path) -> tuple[Path, Path]:
    """Copies of README.md and the picture, for the tests that change them."""
    readme, picture = tmp_path / "README.md", tmp_path / "cadence-week.png"
    shutil.copyfile(cadence_doc.README, readme)
    shutil.copyfile(cadence_doc.PICTURE, picture)
    return readme, picture


def _check(readme: Path, picture: Path) -> int:
    return cadence_doc.main(["--check", "--readme", str(readme), "--picture", str(picture)])


def test_readme_and_picture_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    # If this fails, run: .venv/bin/python tools/cadence_doc.py --write-readme
    assert cadence_doc.main(["--check"]) == 0, capsys.readouterr().err


def test_check_notices_an_edited_section(copies: tuple[Path, Path]) -> None:
    readme, picture = copies
    readme.write_text(readme.read_text().replace("| 22:00 (+01:00) |", "| 22:03 (+01:00) |", 1))
    assert _check(readme, picture) == 1


def test_check_notices_a_changed_or_missing_picture(copies: tuple[Path, Path]) -> None:
    readme, picture = copies
    with Image.open(picture) as image:
        changed = image.convert("RGB")
    changed.putpixel((0, 0), (0, 0, 0))
    changed.save(picture)
    assert _check(readme, picture) == 1
    picture.unlink()
    assert _check(readme, picture) == 1


def test_write_readme_touches_only_the_marked_section(copies: tuple[Path, Path]) -> None:
    readme, picture = copies
    head, _, tail = readme.read_text().partition(cadence_doc.START_MARKER)
    _, _, tail = tail.partition(cadence_doc.END_MARKER)
    stale = f"{head}{cadence_doc.START_MARKER}\nold words\n{cadence_doc.END_MARKER}{tail}"
    readme.write_text(stale)
    assert _check(readme, picture) == 1

    assert cadence_doc.main(["--write-readme", "--readme", str(readme), "--picture", str(picture)]) == 0
    written = readme.read_text()
    assert written.startswith(head + cadence_doc.START_MARKER)
    assert written.endswith(cadence_doc.END_MARKER + tail)
    assert "old words" not in written
    assert _check(readme, picture) == 0


def _group(rows: list[tuple[str, ...]], label: str) -> list[tuple[str, ...]]:
    start = next(i for i, row in enumerate(rows) if row[0] == label)
    end = next((i for i in range(start + 1, len(rows)) if rows[i][0]), len(rows))
    return rows[start:end]


def test_table_shows_both_passes_and_no_skipped_hour() -> None:
    rows = cadence_doc.table_rows(cadence_doc.make_timetable())
    forward = [row[2] for row in _group(rows, "Clocks go forward")]
    assert forward == ["01:00 (+01:00)", "01:30 (+01:00)", "03:00 (+02:00)", "03:30 (+02:00)"]
    back = [row[2] for row in _group(rows, "Clocks go back")]
    assert back == [
        "01:30 (+02:00)",
        "02:00 (+02:00)",
        "02:30 (+02:00)",
        "02:00 (+01:00)",
        "02:30 (+01:00)",
        "03:00 (+01:00)",
    ]


def test_week_counts_show_business_hours_and_weekend() -> None:
    counts = cadence_doc.week_counts(cadence_doc.make_timetable())
    weekday = [2] * 5 + [20] * 17 + [2, 2]  # 05:00-21:59 on the grid; 22:00 and 22:30 in hour 22
    assert counts == [weekday] * 5 + [[2] * 24] * 2
