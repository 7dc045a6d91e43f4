"""Apply the plain-SQL migrations of ``include/sql/migrations`` in order, each exactly once.

Each file runs in its own transaction together with its row in ``schema_migrations``, under
an advisory lock, so two deploys racing each other cannot apply a file twice. A file that
was changed after it was applied is refused: migrations are append-only.

Run it with ``python -m campaign_handoff.migrations`` (connection ``campaign_db``).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

from campaign_handoff.config import CAMPAIGN_DB_CONN_ID
from campaign_handoff.sql import SQL_DIR

log = logging.getLogger(__name__)

MIGRATIONS_DIR = SQL_DIR / "migrations"
#: Any constant unique to this project; held for the whole run.
_LOCK_KEY = 4_207_113_001


class MigrationError(RuntimeError):
    """A migration could not be applied; the message says which and what to do."""


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    path: Path

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Migrations sorted by their numeric prefix (``001_create_x.sql`` is version ``001``)."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        version, _, rest = path.stem.partition("_")
        if not version.isdigit() or not rest:
            raise MigrationError(f"{path.name}: migration files are named NNN_description.sql")
        found.append(Migration(version=version, name=path.stem, path=path))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"Two migration files share a version number in {directory}")
    return found


def apply_pending(conn, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply what is not yet applied on a psycopg connection; return the names applied."""
    conn.autocommit = True
    conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    text PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
    try:
        applied = {row[0]: row[1] for row in conn.execute("SELECT version, checksum FROM schema_migrations")}
        done = []
        for migration in discover(directory):
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} changed after it was applied. Restore the applied "
                        "text and put the change in a new, higher-numbered migration."
                    )
                continue
            log.info("Applying migration %s", migration.name)
            with conn.transaction():
                conn.execute(migration.path.read_text(encoding="utf-8"))
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                    (migration.version, migration.name, migration.checksum),
                )
            done.append(migration.name)
        return done
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


def pending(conn, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Names of migrations not applied yet (read-only; used to fail a run early and clearly)."""
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    applied = set()
    if exists:
        applied = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
    return [m.name for m in discover(directory) if m.version not in applied]


def main(argv: list[str] | None = None) -> int:
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    parser = argparse.ArgumentParser(description="Apply the tracking database migrations.")
    parser.add_argument("--conn-id", default=CAMPAIGN_DB_CONN_ID)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with PostgresHook(postgres_conn_id=args.conn_id).get_conn() as conn:
        done = apply_pending(conn)
    print(f"applied {len(done)} migration(s): {', '.join(done) or 'none pending'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
