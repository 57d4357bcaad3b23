"""Evidently 0.7's DataDriftPreset on Parquet files, run by `bench/drift --evidently` inside
its own venv (bench/.venv-evidently), so Evidently never enters Spanwise's environment.

usage: evidently_drift.py JOB.json  ->  prints one JSON line per run

The job is {"reference": path, "currents": [path, ...], "numeric": [...], "categorical":
[...]}; for each current file it prints {"current": path, "rows": n, "seconds": s,
"peak_python_bytes": tracemalloc peak, "drifted": [columns]} (reading the files is not
timed; the reference is read once). Not a test: numbers only.
"""
from __future__ import annotations

import json
import resource
import sys
import time
import tracemalloc

import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset


def drifted_columns(snapshot: object, columns: list[str]) -> list[str]:
    """Columns whose ValueDrift passed its own threshold (Evidently's per-column verdict)."""
    found = []
    for metric in snapshot.dict()["metrics"]:  # type: ignore[attr-defined]
        config = metric["config"]
        if not config.get("type", "").endswith("ValueDrift") or config.get("column") not in columns:
            continue
        value, threshold, method = float(metric["value"]), float(config["threshold"]), config["method"]
        p_value = "p_value" in method.lower() or method.lower().endswith("test") or "p-value" in method.lower()
        if (value < threshold) if p_value else (value >= threshold):
            found.append(config["column"])
    return found


def main() -> int:
    job = json.loads(open(sys.argv[1]).read())
    definition = DataDefinition(numerical_columns=job["numeric"], categorical_columns=job["categorical"])
    reference = pd.read_parquet(job["reference"])
    for path in job["currents"]:
        current = pd.read_parquet(path)
        tracemalloc.start()
        started = time.perf_counter()
        snapshot = Report([DataDriftPreset()]).run(Dataset.from_pandas(current, data_definition=definition),
                                                   Dataset.from_pandas(reference, data_definition=definition))
        seconds = time.perf_counter() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        print(json.dumps({"current": path, "rows": len(current), "seconds": seconds, "peak_python_bytes": peak,
                          "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                          "drifted": drifted_columns(snapshot, job["numeric"] + job["categorical"]),
                          "methods": sorted({m["config"].get("method", "") for m in snapshot.dict()["metrics"]
                                             if "method" in m["config"]})}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
