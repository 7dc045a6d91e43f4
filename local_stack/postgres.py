"""A throw-away PostgreSQL cluster in a folder of the repository, for the demo and the tests.

The server binaries come from ``PATH`` (or ``PG_BIN_DIR``). PostgreSQL refuses to run as
root, so when this runs as root (CI, this machine) every server command runs as the
``postgres`` system user through ``runuser``; on a developer's laptop it runs as the user.
The cluster listens on 127.0.0.1 only, with password (scram) authentication over TCP.
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "handoff"
#: Local-only placeholder; the same one stands in ``airflow_settings.yaml``.
LOCAL_PASSWORD = "local-only-placeholder"
SERVICE_USER = "postgres"

INSTALL_HINT = (
    "PostgreSQL server binaries (initdb, pg_ctl, postgres) were not found on PATH. Install them "
    "(Debian/Ubuntu: 'apt-get install postgresql', then add /usr/lib/postgresql/<version>/bin to "
    "PATH; macOS: 'brew install postgresql@15') or set PG_BIN_DIR to the folder holding them."
)


class PostgresSetupError(RuntimeError):
    """The local cluster could not be created or started; the message says what to do."""


@dataclass(frozen=True)
class LocalPostgres:
    data_dir: Path
    port: int
    host: str = "127.0.0.1"
    user: str = SUPERUSER
    password: str = LOCAL_PASSWORD

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def airflow_conn_json(self, database: str) -> str:
        """The connection as ``AIRFLOW_CONN_*`` JSON, for processes started by the stack."""
        import json

        return json.dumps(
            {
                "conn_type": "postgres",
                "host": self.host,
                "port": self.port,
                "login": self.user,
                "password": self.password,
                "schema": database,
            }
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _binary(name: str) -> str:
    bin_dir = os.environ.get("PG_BIN_DIR")
    found = str(Path(bin_dir) / name) if bin_dir else shutil.which(name)
    if not found or not Path(found).exists():
        for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
            return str(candidate)
        raise PostgresSetupError(INSTALL_HINT)
    return found


def _as_service_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError as exc:
        raise PostgresSetupError(
            "Running as root, and PostgreSQL refuses to run as root, but there is no "
            f"'{SERVICE_USER}' system user to run it as. Create one ('useradd -r {SERVICE_USER}') "
            "or run as an ordinary user."
        ) from exc
    return ["runuser", "-u", SERVICE_USER, "--", *cmd]


def _hand_to_service_user(path: Path) -> None:
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SERVICE_USER)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _run(cmd: list[str], what: str) -> None:
    result = subprocess.run(_as_service_user(cmd), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PostgresSetupError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-2000:]}")


def ensure_cluster(data_dir: Path) -> None:
    """Create the cluster once; a folder that already holds one is kept as it is."""
    if (data_dir / "PG_VERSION").exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    _hand_to_service_user(data_dir)
    data_dir.chmod(0o700)
    with tempfile.NamedTemporaryFile("w", dir=data_dir.parent, delete=False) as pwfile:
        pwfile.write(LOCAL_PASSWORD)
    pw_path = Path(pwfile.name)
    _hand_to_service_user(pw_path)
    try:
        _run(
            [
                _binary("initdb"),
                "--pgdata",
                str(data_dir),
                "--username",
                SUPERUSER,
                "--pwfile",
                str(pw_path),
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--encoding=UTF8",
                "--no-locale",
            ],
            "initdb",
        )
    finally:
        pw_path.unlink(missing_ok=True)


def usable_data_dir(preferred: Path) -> Path:
    """Return ``preferred``, or a folder under the temp dir if the service user cannot reach it.

    As root, the cluster runs as ``postgres``, which cannot enter a checkout kept under a
    private home folder (``/root`` is mode 700); the cluster then lives in the temp folder.
    """
    preferred = preferred.resolve()
    if os.geteuid() != 0:
        return preferred
    probe = preferred.parent
    while not probe.exists():
        probe = probe.parent
    check = subprocess.run(_as_service_user(["test", "-x", str(probe)]), capture_output=True, check=False)
    if check.returncode == 0:
        return preferred
    import hashlib

    tag = hashlib.sha1(str(preferred).encode()).hexdigest()[:10]
    return Path(tempfile.gettempdir()) / f"campaign-handoff-pg-{tag}" / preferred.name


def start(data_dir: Path, port: int | None = None) -> LocalPostgres:
    """Start the cluster on 127.0.0.1 (a free port unless given) and wait until it accepts."""
    data_dir = usable_data_dir(data_dir)
    ensure_cluster(data_dir)
    port = port or free_port()
    socket_dir = data_dir / "sockets"
    socket_dir.mkdir(exist_ok=True)
    _hand_to_service_user(socket_dir)
    log_file = data_dir / "server.log"
    _run(
        [
            _binary("pg_ctl"),
            "--pgdata",
            str(data_dir),
            "--log",
            str(log_file),
            "--wait",
            "--timeout",
            "60",
            "-o",
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={socket_dir} "
            "-c max_connections=200 -c fsync=off",
            "start",
        ],
        "pg_ctl start",
    )
    server = LocalPostgres(data_dir=data_dir, port=port)
    _wait_accepting(server)
    (data_dir / "port").write_text(str(port))
    return server


def _wait_accepting(server: LocalPostgres, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((server.host, server.port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise PostgresSetupError(f"PostgreSQL did not accept connections on port {server.port}; see its log.")


def stop(data_dir: Path) -> None:
    """Stop the cluster if it runs; the data folder stays for the next start."""
    data_dir = usable_data_dir(data_dir)
    if not (data_dir / "postmaster.pid").exists():
        return
    _run([_binary("pg_ctl"), "--pgdata", str(data_dir), "--mode", "fast", "--wait", "stop"], "pg_ctl stop")


def discard(data_dir: Path) -> None:
    """Stop the cluster and delete its data, wherever :func:`usable_data_dir` put it."""
    stop(data_dir)
    actual = usable_data_dir(data_dir)
    shutil.rmtree(actual, ignore_errors=True)
    if actual != data_dir.resolve() and actual.parent.name.startswith("campaign-handoff-pg-"):
        shutil.rmtree(actual.parent, ignore_errors=True)


def create_database(server: LocalPostgres, name: str) -> None:
    """Create ``name`` unless it exists (CREATE DATABASE cannot run in a transaction)."""
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(server: LocalPostgres, name: str) -> None:
    import psycopg

    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            server = start(args.data_dir, args.port)
            print(server.port)
        else:
            stop(args.data_dir)
    except PostgresSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
