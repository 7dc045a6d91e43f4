"""Migrations against a real PostgreSQL server: in order, each once, recorded, append-only."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import psycopg
import pytest

from campaign_handoff.migrations import MIGRATIONS_DIR, MigrationError, apply_pending, discover, pending
from local_stack import postgres


@pytest.fixture
def empty_db(pg):
    name = f"m_{uuid.uuid4().hex[:10]}"
    postgres.create_database(pg, name)
    with psycopg.connect(pg.url(name)) as conn:
        yield conn
    postgres.drop_database(pg, name)


def test_files_are_numbered_and_003_adds_retry_tracking():
    names = [m.name for m in discover()]
    assert names[:3] == ["001_create_campaign_status", "002_create_upload_log", "003_add_a1_retry_tracking"]
    assert names == sorted(names)


def test_applies_each_once_in_order_and_records_it(empty_db):
    first = apply_pending(empty_db)
    assert first == [m.name for m in discover()]
    assert apply_pending(empty_db) == []
    recorded = [row[0] for row in empty_db.execute("SELECT name FROM schema_migrations ORDER BY version")]
    assert recorded == first
    assert pending(empty_db) == []
    columns = {
        row[0]: row[1]
        for row in empty_db.execute(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_name = 'campaign_status'"
        )
    }
    assert columns["a1_retry_count"] == "integer"
    assert columns["a1_last_retry_at"] == "timestamp with time zone"
    assert columns["a1_permanently_failed"] == "boolean"
    assert columns["a1_failure_reason"] == "text"


def test_only_new_files_apply_later(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    folder.mkdir()
    for migration in discover()[:2]:
        shutil.copy(migration.path, folder)
    assert apply_pending(empty_db, folder) == ["001_create_campaign_status", "002_create_upload_log"]
    for migration in discover()[2:]:
        shutil.copy(migration.path, folder)
    assert apply_pending(empty_db, folder) == [m.name for m in discover()[2:]]


def test_a_changed_applied_file_is_refused(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    apply_pending(empty_db, folder)
    target = folder / "001_create_campaign_status.sql"
    target.write_text(target.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_pending(empty_db, folder)


def test_a_failing_file_leaves_nothing_half_applied(empty_db, tmp_path: Path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "999_broken.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.errors.UndefinedFunction):
        apply_pending(empty_db, folder)
    assert empty_db.execute("SELECT to_regclass('half')").fetchone()[0] is None
    assert pending(empty_db, folder) == ["999_broken"]
