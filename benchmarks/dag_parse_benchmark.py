"""How long each DAG file takes to parse once Airflow is imported (target: well under 1 s).

The dag-processor re-parses every file often; the files only wire tasks together, so the
figure is what their imports and DAG construction cost. Usage, from the repository root:

    PYTHONPATH=plugins .venv/bin/python benchmarks/dag_parse_benchmark.py
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
from pathlib import Path

import airflow.sdk  # noqa: F401 - imported once beforehand, as in the dag-processor

DAGS = Path(__file__).resolve().parents[1] / "dags"
ROUNDS = 20


def parse_seconds(path: Path) -> list[float]:
    times = []
    for number in range(ROUNDS):
        spec = importlib.util.spec_from_file_location(f"{path.stem}_{number}", path)
        module = importlib.util.module_from_spec(spec)
        started = time.perf_counter()
        spec.loader.exec_module(module)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    print(f"{'DAG file':32} {'first':>9} {'median':>9} {'max':>9}")
    for path in sorted(DAGS.glob("*.py")):
        times = parse_seconds(path)
        print(
            f"{path.name:32} {times[0] * 1000:7.1f}ms {statistics.median(times) * 1000:7.1f}ms "
            f"{max(times) * 1000:7.1f}ms"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
