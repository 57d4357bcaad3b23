"""Unbounded cardinality against a real `spanwise serve` with the default config: a
client sending thousands of distinct span names or feature names must not make
`/metrics` or the prediction export grow without bound, and nothing may be lost.
"""

from __future__ import annotations

import io
import os
import time
from typing import Iterator

import httpx
import pyarrow.parquet as pq
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from otlp_build import add_attributes
from prometheus_client.parser import text_string_to_metric_families
from server_process import SpanwiseProcess

from spanwise.core.metrics import DEFAULT_MAX_SERIES

pytestmark = pytest.mark.slow

PROTOBUF = {"Content-Type": "application/x-protobuf"}
CALLS = "traces_span_metrics_calls_total"
OVERFLOW = ("otel_metric_overflow", "true")
NAMES = 6000  # distinct span names, well past the default series limit
HOT = 40  # spans of one busy name, which must keep its own series


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("cardinality") / "data"))
    process.start()
    yield process
    assert process.stop() == 0


def spans_request(service: str, spans: list[tuple[str, int, dict[str, object]]]) -> bytes:
    """One OTLP request of (name, start ns, attributes) spans, 1 ms each."""
    body = ExportTraceServiceRequest()
    rs = body.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", service
    scope = rs.scope_spans.add()
    for name, start, attributes in spans:
        span = scope.spans.add()
        span.trace_id, span.span_id, span.name, span.kind = os.urandom(16), os.urandom(8), name, 2
        span.start_time_unix_nano, span.end_time_unix_nano = start, start + 10**6
        add_attributes(span, attributes)
    return body.SerializeToString()


def post(server: SpanwiseProcess, body: bytes) -> None:
    response = httpx.post(f"{server.http_url}/v1/traces", content=body, headers=PROTOBUF, timeout=60)
    assert response.status_code == 200, response.text


def calls(text: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The calls counter's samples by label set, parsed with the official parser."""
    return {
        tuple(sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text) for s in family.samples if s.name == CALLS
    }


def test_metrics_keep_a_bounded_number_of_series_and_every_count(server: SpanwiseProcess) -> None:
    now = time.time_ns()
    spans = [(f"random-{i}", now, {}) for i in range(NAMES)] + [("checkout", now, {})] * HOT
    post(server, spans_request("cardinality", spans))
    sent = NAMES + HOT
    server.wait_for(lambda: sum(calls(server.query("/metrics").text).values()) >= sent, timeout=60)

    started = time.monotonic()
    scrape = server.query("/metrics")
    elapsed = time.monotonic() - started
    series = calls(scrape.text)
    assert scrape.status_code == 200
    assert len(series) == DEFAULT_MAX_SERIES + 1, "at the limit, plus one overflow series"
    assert sum(series.values()) == sent, "the overflow series carries the rest: totals add up"
    (overflow,) = [value for labels, value in series.items() if OVERFLOW in labels]
    assert overflow == NAMES - (DEFAULT_MAX_SERIES - 1)
    hot = [v for labels, v in series.items() if ("span_name", "checkout") in labels]
    assert hot == [HOT], "the busiest series keeps its own labels"
    assert len(scrape.content) < 5_000_000 and elapsed < 5, (len(scrape.content), elapsed)


def test_series_without_recent_spans_are_not_exposed(server: SpanwiseProcess) -> None:
    two_hours_ago = time.time_ns() - 2 * 3600 * 10**9  # past the default staleness window (1 h)
    post(server, spans_request("stale-service", [("old", two_hours_ago, {})] * 100))  # busy enough to rank first
    post(server, spans_request("fresh-service", [("new", time.time_ns(), {})] * 100))
    fresh = server.wait_for(lambda: "fresh-service" in server.query("/metrics").text, timeout=60)
    assert fresh
    assert "stale-service" not in server.query("/metrics").text


PREDICTIONS = 300  # each with 5 feature names no other prediction has: 1,500 distinct names


def send_predictions(server: SpanwiseProcess) -> dict[str, dict[tuple[str, str], object]]:
    """Predictions of model `wide` (prediction id -> {(kind, key): value}), and one without any."""
    now = time.time_ns() - 10**9
    sent: dict[str, dict[tuple[str, str], object]] = {}
    spans = []
    for i in range(PREDICTIONS):
        entries: dict[tuple[str, str], object] = {("feature", f"f{i}_{j}"): float(i * 10 + j) for j in range(5)}
        entries[("feature", "color")] = "red" if i % 2 else "blue"
        entries[("score", "yes")] = i / PREDICTIONS
        sent[f"p{i}"] = entries
        attributes: dict[str, object] = {"ml.model.name": "wide", "ml.model.version": "v1", "ml.prediction.id": f"p{i}"}
        attributes.update({f"ml.feature.{key}": value for (kind, key), value in entries.items() if kind == "feature"})
        attributes["ml.prediction.proba.yes"] = entries[("score", "yes")]
        spans.append(("predict", now + i, attributes))
    sent["bare"] = {}
    spans.append(("predict", now + PREDICTIONS, {"ml.model.name": "wide", "ml.model.version": "v1", "ml.prediction.id": "bare",
                                           "ml.prediction.label": "ok"}))
    post(server, spans_request("wide-model", spans))
    return sent


def export(server: SpanwiseProcess, **params: str) -> httpx.Response:
    return server.query("/api/v1/models/wide/predictions", version="v1", **params)


def test_export_of_too_many_feature_names_is_refused_wide_and_complete_long(server: SpanwiseProcess) -> None:
    sent = send_predictions(server)
    server.wait_for(lambda: export(server, format="json", layout="long").status_code == 200
                    and len({r["prediction_id"] for r in export(server, format="json", layout="long").json()}) == len(sent),
                    timeout=60)

    wide = export(server, format="json")
    assert wide.status_code == 400 and "layout=long" in wide.json()["error"]["message"], wide.text[:300]
    assert "1502 distinct" in wide.json()["error"]["message"] and len(wide.content) < 1000

    rows = export(server, format="json", layout="long").json()
    got: dict[str, dict[tuple[str, str], object]] = {}
    for row in rows:
        entries = got.setdefault(row["prediction_id"], {})
        if row["key"] is not None:
            entries[(row["kind"], row["key"])] = row["value"] if row["value_text"] is None else row["value_text"]
    assert got == sent, "every prediction and every name, the bare prediction included"
    assert len(rows) == PREDICTIONS * 7 + 1
    assert {k for k in rows[0] if "." in k} == set(), "no per-name columns in the long layout"

    table = pq.read_table(io.BytesIO(export(server, layout="long").content))
    assert table.num_rows == len(rows) and table.column_names[-4:] == ["kind", "key", "value", "value_text"]
    assert export(server, format="csv", layout="long").text.count("\n") == len(rows) + 1
    assert export(server, layout="sideways").status_code == 400
