"""Run the hand-off four times through a real local Airflow and print what happened.

``make demo`` calls this. It starts the local stack (PostgreSQL, SMTP sink, OTMM and Box
servers, sample campaigns), applies the migrations, loads ``airflow_settings.yaml`` into
Airflow, starts the scheduler, dag-processor and api-server, triggers
``a1_to_a2_box_upload`` four times, prints a report per campaign and stops everything.
It exits non-zero when the outcome is not the expected one, naming what differed.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

from local_stack import postgres  # noqa: E402
from local_stack.airflow_local import LocalAirflow  # noqa: E402
from local_stack.samples import sha1_of  # noqa: E402
from local_stack.stack import LocalStack  # noqa: E402

DAG_ID = "a1_to_a2_box_upload"
RUNS = 4
STATE_COLUMNS = "a1_retry_count, a1_last_retry_at, a1_permanently_failed, a1_failure_reason"


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as reply:
        return json.load(reply)


def dam_campaigns(stack: LocalStack) -> dict[str, dict[str, Any]]:
    """Campaigns as the DAM server holds them, keyed by id."""
    listing = _get_json(f"{stack.otmm.base_url}/__admin/campaigns")
    items = listing["campaigns"] if isinstance(listing, dict) else listing
    return {str(c["id"]): c for c in items}


def source_files(stack: LocalStack) -> dict[str, dict[str, tuple[int, str]]]:
    """Per campaign id: file name -> (size, sha1) of the sample files in Master Assets."""
    result: dict[str, dict[str, tuple[int, str]]] = {}
    for campaign_json in sorted(stack.campaigns_dir.glob("*/campaign.json")):
        meta = json.loads(campaign_json.read_text(encoding="utf-8"))
        assets = campaign_json.parent / "Master Assets"
        result[str(meta["id"])] = (
            {f.name: (f.stat().st_size, sha1_of(f)) for f in sorted(assets.iterdir()) if f.is_file()}
            if assets.is_dir()
            else {}
        )
    return result


def retry_states(stack: LocalStack) -> dict[str, tuple]:
    with stack.tracking_connection() as conn:
        rows = conn.execute(f"SELECT campaign_id, {STATE_COLUMNS} FROM campaign_status").fetchall()
    return {row[0]: row[1:] for row in rows}


def box_tree(stack: LocalStack) -> Any:
    return _get_json(f"{stack.box.base_url}/__admin/tree")


def main() -> int:
    root = REPO / ".local" / "demo"
    problems: list[str] = []
    print("Starting the local stack (PostgreSQL, SMTP, OTMM, Box) ...", flush=True)
    with LocalStack(root=root) as stack:
        stack.start()
        print(f"  applied migrations: {', '.join(stack.apply_migrations()) or 'none pending'}")
        postgres.drop_database(stack.pg, "airflow")
        postgres.create_database(stack.pg, "airflow")
        airflow = LocalAirflow(
            home=root / "airflow", postgres=stack.pg, extra_env={"HANDOFF_SCHEDULE_MODE": "manual"}
        )
        print("Preparing Airflow (db migrate, airflow_settings.yaml) ...", flush=True)
        airflow.migrate()
        settings = stack.settings
        airflow.import_settings(settings.for_cli_import(), settings.variables, settings.pools)
        before = dam_campaigns(stack)
        sources = source_files(stack)
        print("Starting the scheduler, dag-processor and api-server ...", flush=True)
        airflow.start()
        try:
            airflow.wait_for_dag(DAG_ID)
            airflow.unpause(DAG_ID)
            runs = []
            seen_mail = 0
            for number in range(1, RUNS + 1):
                run_id = f"demo_run_{number}_{int(time.time())}"
                started = time.monotonic()
                airflow.trigger(DAG_ID, run_id)
                state = airflow.wait_for_run(DAG_ID, run_id)
                mails = stack.emails()
                runs.append(
                    {
                        "run": number,
                        "run_id": run_id,
                        "state": state,
                        "seconds": time.monotonic() - started,
                        "retry_state": retry_states(stack),
                        "emails": [str(m["Subject"]) for m in mails[seen_mail:]],
                    }
                )
                seen_mail = len(mails)
                print(f"  run {number}: {state} in {runs[-1]['seconds']:.0f} s", flush=True)
            after = dam_campaigns(stack)
            tree = box_tree(stack)
            print("Running daily_report once (airflow dags test) ...", flush=True)
            airflow.cli("dags", "test", "daily_report")
            report_mails = stack.emails()[seen_mail:]
        finally:
            airflow.stop()
    problems += print_report(before, after, sources, runs, tree)
    problems += print_daily_report(report_mails)
    if problems:
        print("\nNOT AS EXPECTED:")
        for problem in problems:
            print(f"  - {problem}")
        return 1
    print("\nEverything as expected. All services stopped.")
    return 0


def _box_entries_of(tree: Any, folder_name_part: str) -> list[dict[str, Any]]:
    """Files of the Box tree whose path contains ``folder_name_part`` (the campaign's name)."""
    return [e for e in tree.get("files", []) if folder_name_part in e.get("path", "")]


def print_report(before, after, sources, runs, tree) -> list[str]:
    problems = []
    print("\n=== Hand-off report ===")
    for run in runs:
        if run["state"] != "success":
            problems.append(f"run {run['run']} ended {run['state']}")
    for campaign_id, campaign in sorted(before.items()):
        name = campaign.get("name")
        print(f"\nCampaign {campaign_id}: {name}")
        print(f"  DAM status: {campaign.get('status')} -> {after.get(campaign_id, {}).get('status')}")
        entries = _box_entries_of(tree, name or "\0")
        box_files = {e["name"]: (int(e["size"]), e["sha1"]) for e in entries}
        if sources.get(campaign_id) and campaign.get("status") == "A1":
            folders = sorted({e["path"].rsplit("/", 1)[0] for e in entries})
            print(f"  Box folder: {', '.join(folders) or 'none'}")
            print("  Box files (size, SHA-1, matches source):")
            for file_name, (size, sha1) in sources[campaign_id].items():
                got = box_files.get(file_name)
                ok = got == (size, sha1)
                print(f"    {file_name}: {size} bytes, {sha1}  {'OK' if ok else 'MISMATCH ' + str(got)}")
                if not ok:
                    problems.append(
                        f"campaign {campaign_id}: {file_name} in Box is {got}, source {(size, sha1)}"
                    )
        for run in runs:
            state = run["retry_state"].get(campaign_id)
            shown = (
                "not tracked (never in A1)"
                if state is None
                else f"count={state[0]} last_retry_at={state[1] and state[1].isoformat(timespec='seconds')} "
                f"permanently_failed={state[2]} reason={state[3]}"
            )
            print(f"  after run {run['run']}: {shown}")
            for subject in run["emails"]:
                if name and name in subject:
                    print(f"    email: {subject}")
    print("\nEmails per run:")
    for run in runs:
        print(f"  run {run['run']} ({run['run_id']}): {len(run['emails'])} email(s)")
        for subject in run["emails"]:
            print(f"    {subject}")
    problems += expected_email_pattern(runs)
    return problems


def print_daily_report(mails) -> list[str]:
    print("\n=== Daily report (as emailed) ===")
    if len(mails) != 1:
        return [f"daily_report sent {len(mails)} emails, expected 1"]
    print(f"Subject: {mails[0]['Subject']}")
    print(mails[0].get_body(("plain",)).get_content())
    return []


def expected_email_pattern(runs) -> list[str]:
    """Attempt 1 and 2 on runs 1 and 2, the final one on run 3, nothing on run 4."""
    wanted = [["Attempt 1/3"], ["Attempt 2/3"], ["PERMANENTLY FAILED"], []]
    problems = []
    for run, expected in zip(runs, wanted, strict=False):
        got = run["emails"]
        if len(got) != len(expected) or not all(e in s for e, s in zip(expected, got, strict=False)):
            problems.append(
                f"run {run['run']} sent {got}, expected one email containing {expected or 'nothing'}"
            )
    return problems


if __name__ == "__main__":
    sys.exit(main())
