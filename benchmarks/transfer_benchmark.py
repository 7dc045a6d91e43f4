"""Stream one large master asset from the local OTMM server to the local Box server.

Prints the throughput of each leg and the peak of Python memory while it runs, to show
that memory stays flat whatever the file size (the target: peak well under 64 MiB for a
file of any size). Usage, from the repository root:

    PYTHONPATH=plugins:. .venv/bin/python benchmarks/transfer_benchmark.py [--size-mb 512]

Everything runs on 127.0.0.1 in this process; the file is written in 1 MiB blocks of
random bytes into a temporary folder and deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

from local_stack.box_server import start_box_server
from local_stack.otmm_server import start_otmm_server

USER, PASSWORD = "bench", "local-bench-only"
CLIENT_ID, CLIENT_SECRET = "bench-client", "local-bench-secret"


def write_asset(path: Path, size: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as handle:
        remaining = size
        while remaining:
            step = min(len(block), remaining)
            handle.write(block[:step])
            remaining -= step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mb", type=int, default=256)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024

    with tempfile.TemporaryDirectory(prefix="handoff-bench-") as scratch:
        root = Path(scratch)
        campaign = root / "campaigns" / "bench-1"
        (campaign / "Master Assets").mkdir(parents=True)
        (campaign / "campaign.json").write_text(
            json.dumps({"id": "bench-1", "number": "B-1", "name": "Benchmark", "status": "A1"})
        )
        write_asset(campaign / "Master Assets" / "big.bin", size)
        otmm = start_otmm_server(root / "campaigns", username=USER, password=PASSWORD)
        box = start_box_server(root / "box", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        os.environ["AIRFLOW_CONN_OTMM_DEFAULT"] = json.dumps(
            {
                "conn_type": "generic",
                "host": "127.0.0.1",
                "port": otmm.port,
                "schema": "http",
                "login": USER,
                "password": PASSWORD,
            }
        )
        os.environ["AIRFLOW_CONN_BOX_DEFAULT"] = json.dumps(
            {
                "conn_type": "generic",
                "login": CLIENT_ID,
                "password": CLIENT_SECRET,
                "extra": {
                    "subject_type": "enterprise",
                    "subject_id": "0",
                    "base_url": box.sdk_base_url,
                    "upload_url": box.sdk_upload_url,
                    "oauth2_url": box.sdk_oauth2_url,
                },
            }
        )
        from campaign_handoff.box_hook import BoxHook
        from campaign_handoff.otmm_hook import OtmmHook

        try:
            tracemalloc.start()
            with OtmmHook() as dam:
                (asset,) = dam.list_master_assets("bench-1")
                spool = root / "spool.bin"
                started = time.perf_counter()
                with spool.open("wb") as handle:
                    downloaded = dam.download(asset.id, handle)
                download_s = time.perf_counter() - started
            box_hook = BoxHook()
            folder = box_hook.ensure_folder("0", "Benchmark")
            started = time.perf_counter()
            uploaded = box_hook.upload_file(folder.id, asset.name, spool, downloaded.size, downloaded.sha1)
            upload_s = time.perf_counter() - started
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
        finally:
            box.stop()
            otmm.stop()

    mib = size / (1024 * 1024)
    print(f"file size            {mib:10.0f} MiB")
    print(f"download (OTMM)      {download_s:10.2f} s  {mib / download_s:8.1f} MiB/s")
    print(f"upload (Box {uploaded.method})".ljust(21) + f"{upload_s:10.2f} s  {mib / upload_s:8.1f} MiB/s")
    print(f"peak Python memory   {peak / (1024 * 1024):10.1f} MiB  (servers included; target < 64 MiB)")


if __name__ == "__main__":
    main()
