"""Concept drift and export end to end: prediction spans sent with the real OpenTelemetry
SDK, labels posted to /api/v1/feedback, the concept-drift API finding the injected label
flip in its segment, then `spanwise export` (a subprocess talking to the server's API)
writing Parquet that equals the Python client's DataFrame, and the JSON and CSV exports
agreeing with it (times as ISO 8601 text)."""

from __future__ import annotations

import csv
import datetime
import io
import os
import subprocess
import sys
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from concept_data import CURRENT_END, CURRENT_START, REFERENCE_START, expected, send
from server_process import SpanwiseProcess

from spanwise.client import SpanwiseClient

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def sent(server: SpanwiseProcess) -> list[dict[str, Any]]:
    return send(server)


def test_concept_drift_api(server: SpanwiseProcess, sent: list[dict[str, Any]]) -> None:
    body = server.query("/api/v1/models/fraud/concept-drift", start=CURRENT_START, end=CURRENT_END).json()
    assert body["reference"] == {"start": CURRENT_START - (CURRENT_END - CURRENT_START), "end": CURRENT_START}
    assert body["concept_drift"] and body["overall"]["drift"]
    assert [(s["feature"], s["value"]) for s in body["segments"] if s["drift"]] == [("region", "south")]
    assert body["overall"]["p_value"] == pytest.approx(expected(sent, "fraud")["p_value"], rel=1e-9)
    steady = server.query("/api/v1/models/steady/concept-drift", start=CURRENT_START, end=CURRENT_END,
                          reference_start=REFERENCE_START, reference_end=CURRENT_START).json()
    assert not steady["concept_drift"] and steady["segments_tested"] == 3
    eta = server.query("/api/v1/models/eta/concept-drift", start=CURRENT_START, end=CURRENT_END, task="regression").json()
    assert eta["overall"]["drift"]
    assert eta["overall"]["statistic"] == pytest.approx(expected(sent, "eta")["statistic"], rel=1e-9)
    assert server.query("/api/v1/models/fraud/concept-drift", task="ranking").status_code == 400
    for bad in ({"start": "-5"}, {"end": "-5"}, {"format": "xml"}):  # before 1970 is no time the store holds
        assert server.query("/api/v1/models/fraud/predictions", **bad).status_code == 400, bad
    early = server.query("/api/v1/models/fraud/concept-drift", reference_start=-5, reference_end=5)
    assert early.status_code == 400 and "reference_start" in early.text
    assert server.query("/api/v1/models/nobody/concept-drift").status_code == 404
    paths = server.query("/api/v1/openapi.json").json()["paths"]
    assert "get" in paths["/api/v1/models/{name}/concept-drift"] and "get" in paths["/api/v1/models/{name}/predictions"]


def test_cli_export_equals_client_dataframe(server: SpanwiseProcess, sent: list[dict[str, Any]], tmp_path: Any) -> None:
    out = os.path.join(tmp_path, "fraud.parquet")
    result = subprocess.run(
        [sys.executable, "-m", "spanwise.cli", "export", "fraud", "--version", "v1", "--start", str(REFERENCE_START),
         "--end", str(CURRENT_END), "-o", out, "--url", server.query_url],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out)
    mine = {p["id"]: p for p in sent if p["model"] == "fraud"}
    assert table.num_rows == len(mine) and f"{len(mine)} predictions" in result.stdout
    assert {r["prediction_id"]: r["label"] for r in table.to_pylist()} == {k: p["actual"] for k, p in mine.items()}
    assert {"timestamp", "trace_id", "span_id", "feature.amount", "feature.region", "score.yes", "attribution.amount", "confidence",
            "label_timestamp"} <= set(table.column_names)
    frame = SpanwiseClient(server.query_url).predictions("fraud", version="v1", start=REFERENCE_START, end=CURRENT_END)
    assert frame.equals(table.to_pandas())
    csv = server.query("/api/v1/models/fraud/predictions", format="csv", limit=10)
    assert csv.headers["x-spanwise-truncated"] == "true" and len(csv.text.strip().splitlines()) == 11
    missing = subprocess.run([sys.executable, "-m", "spanwise.cli", "export", "nobody", "-o", out, "--url", server.query_url],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "404" in missing.stderr


def _iso(ns: int | None) -> str | None:
    if ns is None:
        return None
    seconds = datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc)
    return f"{seconds:%Y-%m-%dT%H:%M:%S}.{ns % 10**9:09d}Z"


def test_json_export_writes_times_as_iso_8601(server: SpanwiseProcess, sent: list[dict[str, Any]]) -> None:
    """Regression: `format=json` answered 500 (pandas Timestamps are not JSON)."""
    window = {"version": "v1", "start": REFERENCE_START, "end": CURRENT_END}
    answer = server.query("/api/v1/models/fraud/predictions", format="json", **window)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    rows = answer.json()
    table = pq.read_table(io.BytesIO(server.query("/api/v1/models/fraud/predictions", **window).content))
    assert [r["prediction_id"] for r in rows] == table.column("prediction_id").to_pylist()
    for column in ("timestamp", "label_timestamp"):
        nanos = table.column(column).cast(pa.int64()).to_pylist()
        assert [r[column] for r in rows] == [_iso(ns) for ns in nanos]
    assert any(r["label_timestamp"] for r in rows)
    assert rows[0]["label"] == table.column("label")[0].as_py()
    assert rows[0]["feature.amount"] == table.column("feature.amount")[0].as_py()
    text = server.query("/api/v1/models/fraud/predictions", format="csv", **window).text
    assert [line["timestamp"] for line in csv.DictReader(io.StringIO(text))] == [r["timestamp"] for r in rows]
