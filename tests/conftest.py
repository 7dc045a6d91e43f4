"""Shared fixtures: a real PostgreSQL cluster, the SMTP sink, and a private Airflow home.

The Airflow home and its SQLite metadata database (used by ``dag.test()`` tests) are set
before anything imports Airflow, so no test can touch a user's real ``~/airflow``.
Connections reach hooks as ``AIRFLOW_CONN_*`` variables, the way a plain pytest process
reads them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.otmm_fixtures", "tests.box_fixtures")

REPO = Path(__file__).resolve().parents[1]
_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="handoff-test-airflow-"))
os.environ.update(
    {
        "AIRFLOW_HOME": str(_AIRFLOW_HOME),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME}/airflow.db",
        "HANDOFF_SCHEDULE_MODE": "timetable",
    }
)

from local_stack import postgres  # noqa: E402
from local_stack.smtp_sink import SmtpSink, start_smtp_sink  # noqa: E402


@pytest.fixture(scope="session")
def pg() -> Iterator[postgres.LocalPostgres]:
    """One PostgreSQL cluster for the whole session, on a free port of 127.0.0.1."""
    server = postgres.start(REPO / ".local" / "test-pg")
    yield server
    postgres.stop(REPO / ".local" / "test-pg")


def conn_json(**fields) -> str:
    return json.dumps(fields)


@pytest.fixture
def tracking_db(pg: postgres.LocalPostgres, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh, migrated tracking database behind connection ``campaign_db``; yields its URL."""
    import psycopg

    from campaign_handoff.migrations import apply_pending

    name = f"t_{uuid.uuid4().hex[:12]}"
    postgres.create_database(pg, name)
    with psycopg.connect(pg.url(name)) as conn:
        apply_pending(conn)
    monkeypatch.setenv("AIRFLOW_CONN_CAMPAIGN_DB", pg.airflow_conn_json(name))
    yield pg.url(name)
    postgres.drop_database(pg, name)


@pytest.fixture
def db(tracking_db: str) -> Iterator:
    """An autocommit psycopg connection to the tracking database, for arranging and asserting."""
    import psycopg

    with psycopg.connect(tracking_db, autocommit=True) as conn:
        yield conn


@pytest.fixture
def smtp_sink(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    """A real SMTP server behind connection ``smtp_default``; messages land as .eml files."""
    sink = start_smtp_sink(tmp_path / "mail")
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        conn_json(
            conn_type="smtp",
            host="127.0.0.1",
            port=sink.port,
            extra={"from_email": "handoff@example.com", "disable_ssl": True, "disable_tls": True},
        ),
    )
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The SQLite metadata database of this session's Airflow home, migrated once."""
    subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )
    return _AIRFLOW_HOME / "airflow.db"
