"""A real Airflow 3 on this machine: scheduler, dag-processor and api-server, LocalExecutor.

Used by the demo and by the end-to-end test. Its metadata database is a database of the
local PostgreSQL cluster; its home, logs and config live in a folder of its own. Runs are
triggered with the Airflow CLI and followed by reading the metadata database, so nothing
here depends on the UI's authentication.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local_stack.postgres import LocalPostgres, free_port

REPO = Path(__file__).resolve().parents[1]
AIRFLOW_BIN = Path(sys.executable).with_name("airflow")
TERMINAL_RUN_STATES = {"success", "failed"}


class AirflowLocalError(RuntimeError):
    """A component did not start or a run did not finish; the message points at the log."""


@dataclass
class LocalAirflow:
    home: Path
    postgres: LocalPostgres
    metadata_db: str = "airflow"
    extra_env: dict[str, str] = field(default_factory=dict)
    dags_folder: Path = REPO / "dags"
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.api_port = free_port()

    @property
    def env(self) -> dict[str, str]:
        api = f"http://127.0.0.1:{self.api_port}"
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(self.home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # Paused until asked: a scheduled DAG that is unpaused on its own (daily_report)
            # would run at once and mix its email into what the demo and tests count.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self._metadata_url(),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secret("jwt_secret"),
            "AIRFLOW__CORE__FERNET_KEY": self._fernet_key(),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(REPO / "plugins"), os.environ.get("PYTHONPATH")])
            ),
        }
        env.update(self.extra_env)
        return env

    def _metadata_url(self) -> str:
        pg = self.postgres
        return f"postgresql+psycopg://{pg.user}:{pg.password}@{pg.host}:{pg.port}/{self.metadata_db}"

    def _secret(self, name: str) -> str:
        """A random value kept in the home folder, so restarts of the components agree on it."""
        path = self.home / f".{name}"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text()

    def _fernet_key(self) -> str:
        path = self.home / ".fernet_key"
        if not path.exists():
            from cryptography.fernet import Fernet

            path.write_text(Fernet.generate_key().decode())
            path.chmod(0o600)
        return path.read_text()

    def cli(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [str(AIRFLOW_BIN), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AirflowLocalError(
                f"'airflow {' '.join(args[:3])}' failed (exit {result.returncode}):\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def migrate(self) -> None:
        self.cli("db", "migrate", timeout=600)

    def import_settings(
        self,
        connections: dict[str, dict[str, Any]],
        variables: dict[str, str],
        pools: dict[str, dict[str, Any]],
    ) -> None:
        """Load connections, Variables and pools into the metadata database with the CLI."""
        work = self.home / "settings-import"
        work.mkdir(exist_ok=True)
        files = {
            "connections": (work / "connections.json", connections),
            "variables": (work / "variables.json", variables),
            "pools": (work / "pools.json", pools),
        }
        try:
            for path, content in files.values():
                path.write_text(json.dumps(content))
                path.chmod(0o600)
            self.cli("connections", "import", "--overwrite", str(files["connections"][0]))
            self.cli(
                "variables", "import", "--action-on-existing-key", "overwrite", str(files["variables"][0])
            )
            self.cli("pools", "import", str(files["pools"][0]))
        finally:
            for path, _ in files.values():
                path.unlink(missing_ok=True)

    def start(self) -> None:
        logs = self.home / "component-logs"
        logs.mkdir(exist_ok=True)
        for name, args in {
            "api-server": ["api-server", "--host", "127.0.0.1", "--port", str(self.api_port)],
            "dag-processor": ["dag-processor"],
            "scheduler": ["scheduler"],
        }.items():
            out = (logs / f"{name}.log").open("ab")
            self.processes[name] = subprocess.Popen(
                [str(AIRFLOW_BIN), *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_for_api()

    def _wait_for_api(self, timeout: float = 120) -> None:
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.api_port}/api/v2/monitor/health", timeout=2
                ):
                    return
            except OSError:
                time.sleep(1)
        raise AirflowLocalError(
            f"The api-server did not answer in {timeout:.0f} s; see {self.home}/component-logs"
        )

    def _check_alive(self) -> None:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise AirflowLocalError(
                    f"Airflow's {name} exited with {process.returncode}; "
                    f"see {self.home}/component-logs/{name}.log"
                )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()

    # -- reading the metadata database -------------------------------------------------------

    def _query(self, query: str, params: tuple = ()) -> list[tuple]:
        import psycopg

        with psycopg.connect(self.postgres.url(self.metadata_db)) as conn:
            return conn.execute(query, params).fetchall()

    def wait_for_dag(self, dag_id: str, timeout: float = 180) -> None:
        """Wait until the dag-processor has serialized the DAG (and so its Timetable)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            if self._query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)):
                return
            time.sleep(1)
        errors = (
            self._query("SELECT filename, stacktrace FROM import_error")
            if self._has_table("import_error")
            else []
        )
        raise AirflowLocalError(f"DAG {dag_id} was not parsed in {timeout:.0f} s. Import errors: {errors}")

    def _has_table(self, name: str) -> bool:
        return bool(self._query("SELECT to_regclass(%s) IS NOT NULL", (name,))[0][0])

    def unpause(self, dag_id: str) -> None:
        self.cli("dags", "unpause", dag_id)

    def trigger(
        self, dag_id: str, run_id: str, conf: dict[str, Any] | None = None, logical_date: str | None = None
    ) -> None:
        args = ["dags", "trigger", dag_id, "--run-id", run_id]
        if logical_date is not None:
            args += ["--logical-date", logical_date]
        if conf is not None:
            args += ["--conf", json.dumps(conf)]
        self.cli(*args)

    def clear(self, dag_id: str, run_id: str, task_ids: list[str]) -> int:
        """Clear tasks of one run through the REST API, as the UI's Clear button does.

        The api-server runs with the simple auth manager's all-admins mode, local only.
        Returns how many task instances were cleared.
        """
        import urllib.request

        body = json.dumps(
            {
                "dag_run_id": run_id,
                "task_ids": task_ids,
                "dry_run": False,
                "only_failed": False,
                "reset_dag_runs": True,
            }
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.api_port}/api/v2/dags/{dag_id}/clearTaskInstances",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as reply:
            return int(json.load(reply)["total_entries"])

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 600) -> str:
        deadline = time.monotonic() + timeout
        state = None
        while time.monotonic() < deadline:
            self._check_alive()
            rows = self._query(
                "SELECT state FROM dag_run WHERE dag_id = %s AND run_id = %s", (dag_id, run_id)
            )
            state = rows[0][0] if rows else None
            if state in TERMINAL_RUN_STATES:
                return state
            time.sleep(1)
        raise AirflowLocalError(f"Run {run_id} of {dag_id} still {state} after {timeout:.0f} s")

    def task_states(self, dag_id: str, run_id: str) -> dict[tuple[str, int], str | None]:
        rows = self._query(
            "SELECT task_id, map_index, state FROM task_instance WHERE dag_id = %s AND run_id = %s",
            (dag_id, run_id),
        )
        return {(task_id, map_index): state for task_id, map_index, state in rows}

    def dag_row(self, dag_id: str) -> dict[str, Any]:
        """The scheduler's record of a DAG: its timetable as the UI shows it and its next run."""
        columns = ("is_paused", "timetable_type", "timetable_summary", "timetable_description", "next_dagrun")
        rows = self._query(f"SELECT {', '.join(columns)} FROM dag WHERE dag_id = %s", (dag_id,))
        return dict(zip(columns, rows[0], strict=True)) if rows else {}

    def try_numbers(self, dag_id: str, run_id: str, task_id: str) -> dict[int, int]:
        """How many times each map index of a task has been tried (a clear adds one)."""
        rows = self._query(
            "SELECT map_index, try_number FROM task_instance "
            "WHERE dag_id = %s AND run_id = %s AND task_id = %s",
            (dag_id, run_id, task_id),
        )
        return dict(rows)

    def xcom_values(self, dag_id: str, run_id: str, task_id: str) -> dict[int, Any]:
        """The XCom value each map index of a task pushed (for per-campaign assertions)."""
        rows = self._query(
            "SELECT map_index, value FROM xcom WHERE dag_id = %s AND run_id = %s AND task_id = %s "
            "AND key = 'return_value'",
            (dag_id, run_id, task_id),
        )
        return {map_index: value for map_index, value in rows}
