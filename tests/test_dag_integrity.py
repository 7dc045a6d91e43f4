"""Every DAG file parses, without I/O, and serializes the way the scheduler stores it."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
EXPECTED = {"a1_to_a2_box_upload", "daily_report", "reset_a1_retry_state"}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(REPO / "dags"))


def test_dags_import_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dag_ids) == EXPECTED


def test_dag_files_parse_without_network_or_database(monkeypatch):
    """Run the import in a fresh interpreter with sockets disabled: any I/O at parse time fails."""
    script = (
        "import socket\n"
        "def refuse(*a, **k):\n    raise RuntimeError('network used at parse time')\n"
        "socket.socket.connect = refuse\n"
        "import importlib.util, pathlib, sys\n"
        f"for path in sorted(pathlib.Path({str(REPO / 'dags')!r}).glob('*.py')):\n"
        "    spec = importlib.util.spec_from_file_location(path.stem, path)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO / "plugins")},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
    assert socket.socket.connect is not None


def test_each_dag_serializes_with_the_registered_timetable(dagbag):
    from airflow import plugins_manager
    from airflow.serialization.serialized_objects import DagSerialization

    from campaign_handoff.timetable import OffHoursTimetable

    registered = plugins_manager.get_timetables_plugins()
    assert registered.get("campaign_handoff.timetable.OffHoursTimetable") is OffHoursTimetable
    for dag_id in EXPECTED:
        data = DagSerialization.to_dict(dagbag.dags[dag_id])
        restored = DagSerialization.from_dict(data)
        assert restored.dag_id == dag_id
    handoff = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags["a1_to_a2_box_upload"]))
    assert type(handoff.timetable).__name__ == "OffHoursTimetable"


def test_handoff_shape(dagbag):
    dag = dagbag.dags["a1_to_a2_box_upload"]
    assert set(dag.task_ids) == {
        "find_a1_campaigns",
        "campaign.route_campaign",
        "campaign.skip_campaign",
        "campaign.upload.ensure_box_folder",
        "campaign.upload.upload_assets",
        "campaign.upload.set_dam_status_a2",
        "campaign.upload.mark_handed_over",
        "campaign.record_missing_assets",
        "campaign.send_missing_assets_email",
    }
    route = dag.get_task("campaign.route_campaign")
    assert route.downstream_task_ids == {
        "campaign.skip_campaign",
        "campaign.upload.ensure_box_folder",
        "campaign.record_missing_assets",
    }
    assert dag.max_active_runs == 1
    assert dag.doc_md and "Campaign hand-off" in dag.doc_md


def test_the_plugin_loader_imports_each_module_once_under_one_name():
    """Airflow imports every .py under plugins/ by bare name; the package must stay out of that."""
    package_modules = sorted(p.stem for p in (REPO / "plugins" / "campaign_handoff").glob("*.py"))
    script = textwrap.dedent(
        f"""
        import sys
        from airflow import plugins_manager
        import campaign_handoff.timetable as tt
        found = plugins_manager.get_timetables_plugins()
        registered = found["campaign_handoff.timetable.OffHoursTimetable"]
        bare = sorted(m for m in sys.modules if m in {package_modules!r} and m != "__init__")
        print(bare, registered is tt.OffHoursTimetable, "campaign_handoff_plugin" in sys.modules)
        """
    )
    import os

    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins")},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "[] True True"


def test_daily_report_runs_at_1900_local_every_day_weekends_included(dagbag):
    import pendulum
    from airflow.serialization.serialized_objects import DagSerialization
    from airflow.timetables.base import DataInterval, TimeRestriction

    from campaign_handoff import config

    timetable = DagSerialization.from_dict(DagSerialization.to_dict(dagbag.dags["daily_report"])).timetable
    friday_evening = pendulum.datetime(2026, 12, 4, 19, 0, tz=config.TIMEZONE)  # a Friday
    runs, last = [], DataInterval.exact(friday_evening)
    for _ in range(4):
        info = timetable.next_dagrun_info(
            last_automated_data_interval=last,
            restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
        )
        runs.append(info.run_after.in_timezone(config.TIMEZONE))
        last = info.data_interval
    assert [(r.day_of_week, r.hour, r.minute) for r in runs] == [
        (5, 19, 0),
        (6, 19, 0),
        (0, 19, 0),
        (1, 19, 0),
    ]


def test_every_variable_the_dags_read_has_one_default_and_a_readme_row():
    import re

    from campaign_handoff import config

    dag_text = "".join(p.read_text(encoding="utf-8") for p in (REPO / "dags").glob("*.py"))
    assert set(re.findall(r'config\.setting\("([a-z0-9_]+)"\)', dag_text)) == set(config.VARIABLE_DEFAULTS)
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for name, default in config.VARIABLE_DEFAULTS.items():
        assert f"| `{name}` | {f'`{default}`' if default else 'empty'} |" in readme, name
