"""Read the project's SQL files from ``include/sql``.

Operators run the files under ``operations/`` in psql with ``psql -v name=value``, so they
name their values ``:'name'``. Code runs the same files with bind parameters: :func:`load`
turns each ``:'name'`` into ``%(name)s``, so one file serves both and values are never
spliced into SQL text.
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

SQL_DIR = Path(os.environ.get("HANDOFF_SQL_DIR", Path(__file__).resolve().parents[2] / "include" / "sql"))

_PSQL_VARIABLE = re.compile(r"(?<!:):'([A-Za-z_][A-Za-z0-9_]*)'")


@cache
def load(relative_path: str) -> str:
    """Return the SQL text of ``include/sql/<relative_path>`` with bind-parameter placeholders."""
    path = SQL_DIR / relative_path
    if not path.is_file():
        raise FileNotFoundError(
            f"SQL file {path} is missing. The project's include/sql folder must ship with the DAGs "
            "(set HANDOFF_SQL_DIR if it lives elsewhere)."
        )
    return _PSQL_VARIABLE.sub(r"%(\1)s", path.read_text(encoding="utf-8"))
