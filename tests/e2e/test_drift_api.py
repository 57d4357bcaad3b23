"""Baselines and drift end to end: prediction spans sent with the real OpenTelemetry SDK, a
training profile uploaded from a Parquet file through the API and through
`spanwise baseline upload`, and the drift report checked (statistics against scipy on the
same rows)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from drift_data import CUR_END, CUR_START, HOUR, MODEL, REF_START, VERSION, Row, rows, window
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from scipy import stats
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow
RANGE = {"version": VERSION, "start": CUR_START, "end": CUR_END}


@pytest.fixture(scope="module")
def sent(server: SpanwiseProcess) -> list[Row]:
    made = rows()
    provider = TracerProvider(resource=Resource.create({"service.name": "fraud-service"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_endpoint, insecure=True)))
    tracer = provider.get_tracer("e2e")
    for r in made:
        span = tracer.start_span("predict", start_time=r.start_ns)
        for key, value in r.attributes().items():
            span.set_attribute(key, value)
        span.end(end_time=r.start_ns + 5 * 10**6)
    provider.shutdown()
    assert server.wait_for(lambda: server.status()["predictions"] >= len(made)), server.log()
    return made


@pytest.fixture(scope="module")
def training_file(sent: list[Row], tmp_path_factory: pytest.TempPathFactory) -> Path:
    ref = window(sent, "ref")
    path = tmp_path_factory.mktemp("training") / "training.parquet"
    pq.write_table(pa.table({
        "amount": [r.amount for r in ref], "age": [r.age for r in ref], "country": [r.country for r in ref],
        "channel": [r.channel for r in ref], "prediction": [r.prediction for r in ref],
    }), path)
    return path


def _drift(server: SpanwiseProcess, **params: Any) -> dict[str, Any]:
    answer = server.query(f"/api/v1/models/{MODEL}/drift", **{**RANGE, **params})
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _features(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f["feature"]: f for f in report["features"] + report["predictions"]}


def _check_against_scipy(report: dict[str, Any], made: list[Row]) -> None:
    features = _features(report)
    ref, cur = window(made, "ref"), window(made, "cur")
    a, b = np.array([r.amount for r in ref]), np.array([r.amount for r in cur])
    ks = stats.ks_2samp(a, b)
    assert features["amount"]["methods"]["ks"]["statistic"] == pytest.approx(ks.statistic, rel=1e-9)
    assert features["amount"]["methods"]["wasserstein"]["value"] == pytest.approx(
        stats.wasserstein_distance(a, b) / np.std(a), rel=1e-9)
    age = stats.ks_2samp([r.age for r in ref], [r.age for r in cur])
    assert features["age"]["methods"]["ks"]["value"] == pytest.approx(age.pvalue, rel=1e-9)
    keys = sorted({r.country for r in made})
    table = [[sum(r.country == k for r in ref) for k in keys], [sum(r.country == k for r in cur) for k in keys]]
    assert features["country"]["methods"]["chi2"]["statistic"] == pytest.approx(
        stats.chi2_contingency(table).statistic, rel=1e-9)


def test_drift_against_the_preceding_window(server: SpanwiseProcess, sent: list[Row]) -> None:
    report = _drift(server)
    assert report["reference"]["kind"] == "preceding"
    assert sorted(report["drifted_features"]) == ["amount", "country"]
    features = _features(report)
    assert features["country"]["new_categories"] == ["br"] and features["@prediction"]["drifted"]
    assert report["label"]["drifted"]
    _check_against_scipy(report, sent)


def test_baseline_uploaded_through_the_api(server: SpanwiseProcess, sent: list[Row], training_file: Path) -> None:
    answer = httpx.post(
        f"{server.query_url}/api/v1/models/{MODEL}/baselines", params={"version": VERSION, "name": "api-upload"},
        content=training_file.read_bytes(), headers={"content-type": "application/vnd.apache.parquet"}, timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == len(sent) // 2 and answer.json()["kind"] == "profile"
    report = _drift(server, baseline="api-upload")
    assert report["reference"]["name"] == "api-upload" and sorted(report["drifted_features"]) == ["amount", "country"]
    _check_against_scipy(report, sent)


def test_baseline_uploaded_with_the_cli(server: SpanwiseProcess, sent: list[Row], training_file: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "spanwise.cli", "baseline", "upload", str(training_file), "--model", MODEL,
         "--version", VERSION, "--name", "cli-upload", "--url", server.query_url],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "cli-upload" in done.stdout
    names = [b["name"] for b in server.query(f"/api/v1/models/{MODEL}/baselines").json()["baselines"]]
    assert {"api-upload", "cli-upload"} <= set(names)
    report = _drift(server, baseline="cli-upload")
    assert sorted(report["drifted_features"]) == ["amount", "country"]
    # Without a baseline parameter, the version's newest baseline is the reference.
    assert _drift(server)["reference"]["name"] == "cli-upload"
    # Without a version too: every baseline belongs to v1, so v1's newest is still the reference.
    whole_model = server.query(f"/api/v1/models/{MODEL}/drift", start=CUR_START, end=CUR_END).json()
    assert whole_model["reference"]["name"] == "cli-upload"
    assert sorted(whole_model["drifted_features"]) == ["amount", "country"]


def test_too_few_current_values_are_not_flagged(server: SpanwiseProcess, sent: list[Row]) -> None:
    # The first 10 current rows (8 s apart): `amount` moved, but 10 values flag nothing.
    report = _drift(server, start=CUR_START, end=CUR_START + 79 * 10**9)
    assert report["current"]["rows"] == 10
    amount = _features(report)["amount"]
    assert amount["drifted"] is False and "too few values" in amount["note"]
    assert amount["methods"], "the statistics are still reported"
    assert report["drifted_features"] == []


def test_window_baseline_and_errors(server: SpanwiseProcess, sent: list[Row]) -> None:
    answer = httpx.post(f"{server.query_url}/api/v1/models/{MODEL}/baselines", json={
        "name": "launch", "version": VERSION, "kind": "window", "start": CUR_START - 3600 * 10**9, "end": CUR_START,
    }, timeout=30)
    assert answer.status_code == 200, answer.text
    assert sorted(_drift(server, baseline="launch")["drifted_features"]) == ["amount", "country"]
    rolling = httpx.post(f"{server.query_url}/api/v1/models/{MODEL}/baselines",
                         json={"name": "last-hour", "kind": "rolling", "lookback": "1h"}, timeout=30)
    assert rolling.status_code == 200 and rolling.json()["lookback_seconds"] == 3600
    assert _drift(server, baseline="last-hour")["reference"]["kind"] == "rolling"
    ref = window(sent, "ref")
    csv = "amount,country\n" + "".join(f"{r.amount},{r.country}\n" for r in ref)
    uploaded = httpx.post(f"{server.query_url}/api/v1/models/{MODEL}/baselines", params={"name": "csv"},
                          content=csv, headers={"content-type": "text/csv"}, timeout=30)
    assert uploaded.status_code == 200 and uploaded.json()["numeric"] == ["amount"], uploaded.text
    by_csv = _drift(server, baseline="csv")
    assert sorted(by_csv["drifted_features"]) == ["amount", "country"]
    assert server.query(f"/api/v1/models/{MODEL}/drift", **RANGE, baseline="nope").status_code == 404
    for twice in ("amount,amount\n1,2\n", "amount,ml.feature.amount\n1,2\n"):
        refused = httpx.post(f"{server.query_url}/api/v1/models/{MODEL}/baselines", params={"name": "twice"},
                             content=twice, headers={"content-type": "text/csv"}, timeout=30)
        assert refused.status_code == 400 and "more than one column names 'amount'" in refused.text, refused.text
    garbage = httpx.post(f"{server.query_url}/api/v1/models/{MODEL}/baselines", content=b"not parquet",
                         headers={"content-type": "application/vnd.apache.parquet"}, timeout=30)
    assert garbage.status_code == 400
    for body in ({"name": "x", "kind": "weekly"}, {"name": ["x"], "kind": "rolling", "lookback": "1h"}):
        bad = httpx.post(f"{server.query_url}/api/v1/models/{MODEL}/baselines", json=body, timeout=30)
        assert bad.status_code == 400, body
    spec = server.query("/api/v1/openapi.json").json()
    assert "/api/v1/models/{name}/drift" in spec["paths"] and "/api/v1/models/{name}/baselines" in spec["paths"]


def test_fixed_reference_window(server: SpanwiseProcess, sent: list[Row]) -> None:
    report = _drift(server, reference_start=REF_START, reference_end=CUR_START)
    assert report["reference"] == {"kind": "window", "start_unix_nano": REF_START, "end_unix_nano": CUR_START,
                                   "rows": len(sent) // 2}
    assert sorted(report["drifted_features"]) == ["amount", "country"] and report["note"] is None
    empty = _drift(server, reference_start=CUR_END + HOUR, reference_end=CUR_END + 2 * HOUR)
    assert empty["reference"]["rows"] == 0 and empty["drifted_features"] == []
    assert "reference has no predictions" in empty["note"]
    half = server.query(f"/api/v1/models/{MODEL}/drift", **RANGE, reference_start=REF_START)
    assert half.status_code == 400 and "reference_end" in half.json()["error"]["message"]


def test_rule_parameters(server: SpanwiseProcess, sent: list[Row]) -> None:
    default = _drift(server)
    amount = _features(default)["amount"]
    assert amount["method"] == "auto" and default["rule"]["alpha"] == 0.01 and default["drifted"]
    assert amount["methods"]["auto"]["p_value_adjusted"] < 0.01 and "alpha" in amount["reason"]
    # One method for every feature, with its own threshold: it decides alone (the Evidently rule).
    psi = _drift(server, method="psi", threshold="100")
    assert psi["drifted_features"] == [] and _features(psi)["amount"]["methods"]["psi"]["threshold"] == 100
    assert "fixed threshold" in _features(psi)["amount"]["reason"]
    # Per feature; a stricter alpha or a larger effect floor flags less.
    mixed = httpx.get(f"{server.query_url}/api/v1/models/{MODEL}/drift", timeout=30, params=[
        *RANGE.items(), ("feature_method", "amount:ks:1e-300"), ("feature_method", "country:chi2")]).json()
    assert _features(mixed)["amount"]["method"] == "ks" and sorted(mixed["drifted_features"]) == ["country"]
    assert _drift(server, min_effect="5")["drifted_features"] == []
    for bad in ({"method": "magic"}, {"alpha": "2"}, {"alpha": "x"}, {"feature_method": "amount"},
                {"threshold": "-1"}, {"min_effect": "nan"}, {"feature_method": "amount:psi:1e999"},
                {"reference_start": "-5", "reference_end": "5"}):
        answer = server.query(f"/api/v1/models/{MODEL}/drift", **{**RANGE, **bad})
        assert answer.status_code == 400, (bad, answer.text)
