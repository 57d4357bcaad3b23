"""Parsers of request bodies and query strings under hostile input: OTLP/JSON (traces,
logs, metrics), feedback (JSON and CSV), baseline uploads (CSV and Parquet), and query
parameters. Only `SpanwiseError`s may escape: anything else would be a 500."""

from __future__ import annotations

import io
import json
import random
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from otlp_fuzz import logs_requests, metrics_requests, mutate, trace_requests

from spanwise.analyze.drift import profile_of_table, read_table
from spanwise.analyze.feedback import parse_feedback
from spanwise.errors import InvalidQuery, SpanwiseError
from spanwise.receive.decode import decode_export_requests
from spanwise.receive.logs_decode import decode_logs_requests
from spanwise.receive.metrics_decode import decode_metrics_requests
from spanwise.receive.otlp_json import json_to_protobuf, logs_json_to_protobuf, whole_json_to_protobuf
from spanwise.serve import params
from spanwise.store.profiles import Profile

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20), st.sampled_from(["", "\x00", "zz", "0" * 40, "-1", "1e999", "NaN", "ff" * 8]),
)
json_values = st.recursive(json_scalars, lambda c: st.one_of(st.lists(c, max_size=4),
                                                           st.dictionaries(st.text(max_size=12), c, max_size=4)),
                           max_leaves=15)


def _hexify(node: Any) -> Any:
    """protobuf's JSON has base64 ids; OTLP/JSON has hex: turn them back as a sender would."""
    if isinstance(node, dict):
        return {k: (_b64_to_hex(v) if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str) else _hexify(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_hexify(v) for v in node]
    return node


def _b64_to_hex(value: str) -> str:
    import base64
    return base64.b64decode(value).hex()


def _damage(node: Any, rng: random.Random, replacement: Any) -> Any:
    """Replace one random node of a JSON tree by `replacement` (a wrong type, usually)."""
    if isinstance(node, dict) and node and rng.random() < 0.8:
        key = rng.choice(list(node))
        return {**node, key: _damage(node[key], rng, replacement)}
    if isinstance(node, list) and node and rng.random() < 0.8:
        index = rng.randrange(len(node))
        return [*node[:index], _damage(node[index], rng, replacement), *node[index + 1 :]]
    return replacement


def _to_json(message: Any, rng: random.Random, replacement: Any) -> bytes:
    document = _hexify(json_format.MessageToDict(message))
    return _dumps(_damage(document, rng, replacement))


def _dumps(document: Any) -> bytes:
    """JSON as a sender may write it: integers beyond 64 bits, NaN, lone surrogates."""
    return json.dumps(document).encode("utf-8", "surrogatepass")


def _call(parse: Any, body: bytes, decode: Any) -> None:
    """Parse, then decode what parsed (as the receivers do); only SpanwiseError may escape."""
    try:
        decode([parse(body).protobuf])
    except SpanwiseError:
        pass


def _metrics_json(body: bytes) -> Any:
    return whole_json_to_protobuf(body, ExportMetricsServiceRequest())


def _decode_metrics(bodies: list[bytes]) -> None:
    decode_metrics_requests(bodies)


@given(trace_requests(), st.integers(0, 2**32), json_values)
def test_trace_json(request: Any, seed: int, replacement: Any) -> None:
    _call(json_to_protobuf, _to_json(request, random.Random(seed), replacement), decode_export_requests)


@given(logs_requests(), st.integers(0, 2**32), json_values)
def test_logs_json(request: Any, seed: int, replacement: Any) -> None:
    _call(logs_json_to_protobuf, _to_json(request, random.Random(seed), replacement), decode_logs_requests)


@settings(max_examples=100)
@given(metrics_requests(), st.integers(0, 2**32), json_values)
def test_metrics_json(request: Any, seed: int, replacement: Any) -> None:
    _call(_metrics_json, _to_json(request, random.Random(seed), replacement), _decode_metrics)


@settings(max_examples=300)
@given(json_values, st.integers(0, 2**32))
def test_arbitrary_json_and_mutated_text(document: Any, seed: int) -> None:
    body = _dumps(document)
    for candidate in (body, mutate(body, random.Random(seed)), _dumps({"resourceSpans": document,
                                                                      "resourceLogs": document,
                                                                      "resourceMetrics": document})):
        _call(json_to_protobuf, candidate, decode_export_requests)
        _call(logs_json_to_protobuf, candidate, decode_logs_requests)
        _call(_metrics_json, candidate, _decode_metrics)


# --------------------------------------------------------------------------- feedback

feedback_items = st.one_of(
    json_values,
    st.fixed_dictionaries({}, optional={k: json_values for k in ("prediction_id", "trace_id", "span_id",
                                                                 "label", "timestamp")}),
)


@settings(max_examples=300)
@given(st.one_of(st.lists(feedback_items, max_size=5).map(_dumps), st.binary(max_size=100)))
def test_feedback_json(body: bytes) -> None:
    try:
        parse_feedback(body, "application/json", now_ns=0)
    except SpanwiseError:
        pass


csv_cells = st.one_of(st.text(max_size=12), st.sampled_from(["", "1e999", "-1", "nan", "2026-01-01T00:00:00Z",
                                                             "9" * 30, '"', "a,b", "\x00", "\r\n"]))


@settings(max_examples=300)
@given(st.lists(st.lists(csv_cells, max_size=6), max_size=6), st.sampled_from([
    ["prediction_id", "label", "timestamp"], ["trace_id", "span_id", "label"], ["label"], []]))
def test_feedback_csv(rows: list[list[str]], header: list[str]) -> None:
    text = "\n".join(",".join(row) for row in [header, *rows])
    for body in (text.encode("utf-8", "surrogatepass"), text.encode("utf-16")):
        try:
            parse_feedback(body, "text/csv", now_ns=0)
        except SpanwiseError:
            pass


# --------------------------------------------------------------------------- baselines

columns = st.dictionaries(
    st.text(min_size=1, max_size=10),
    st.one_of(st.lists(st.floats(), min_size=3, max_size=3), st.lists(st.integers(-(2**63), 2**63 - 1), min_size=3, max_size=3),
              st.lists(st.one_of(st.none(), st.text(max_size=5)), min_size=3, max_size=3)),
    min_size=1, max_size=4,
)


def _upload(body: bytes, file_format: str) -> None:
    """Upload path of a training baseline; a profile that is made survives the store's JSON
    round trip (store/clickhouse/drift.py writes json.dumps(profile.to_json()))."""
    try:
        profile = profile_of_table(read_table(body, file_format))
    except SpanwiseError:
        return
    stored = json.dumps(profile.to_json())
    assert json.dumps(Profile.from_json(json.loads(stored)).to_json()) == stored


@pytest.mark.parametrize("body", [b"a\x80,b\n1,2\n", b"a,b\nx,\x80\n"], ids=["header", "cell"])
def test_non_utf8_csv_baseline(body: bytes) -> None:
    """Found by this suite: pyarrow's CSV reader keeps a non-UTF-8 header or cell, and
    profiling raised UnicodeDecodeError / ArrowInvalid (a 500 for a bad upload)."""
    with pytest.raises(InvalidQuery, match="cannot read the csv file"):
        profile_of_table(read_table(body, "csv"))


def _corrupt_parquet(seed: int) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.table({"a\u00e9": [1, -1, 0], "b": [0.0, 1.0, 2.0], "c": ["x", None, "y"]}), sink)
    return mutate(sink.getvalue(), random.Random(seed))


@pytest.mark.parametrize("seed", [528, 563, 14557], ids=["non-utf8-name", "int-over-64-bits", "bad-dictionary-index"])
def test_corrupt_parquet_baseline(seed: int) -> None:
    """Found by this suite: a corrupt Parquet file also raised UnicodeDecodeError (a
    non-UTF-8 column name), ArrowNotImplementedError ("Integers with more than 64 bits") or
    ArrowIndexError (dictionary indices out of bounds): a 500. Now a 400."""
    with pytest.raises(InvalidQuery, match="cannot read the parquet file"):
        profile_of_table(read_table(_corrupt_parquet(seed), "parquet"))


@settings(max_examples=100)
@given(columns, st.integers(0, 2**32))
def test_baseline_parquet(table: dict[str, list[Any]], seed: int) -> None:
    sink = io.BytesIO()
    pq.write_table(pa.table(table), sink)
    _upload(sink.getvalue(), "parquet")
    _upload(mutate(sink.getvalue(), random.Random(seed)), "parquet")


@settings(max_examples=200)
@given(st.lists(st.lists(csv_cells, max_size=5), max_size=5), st.integers(0, 2**32))
def test_baseline_csv(rows: list[list[str]], seed: int) -> None:
    body = "\n".join(",".join(row) for row in [["a", "b", "label"], *rows]).encode("utf-8", "surrogatepass")
    _upload(body, "csv")
    _upload(mutate(body, random.Random(seed)), "csv")


# --------------------------------------------------------------------------- query parameters

query_text = st.one_of(
    st.text(max_size=30),
    st.from_regex(r"[0-9.]{1,400}(ns|us|ms|s|m|h|d)([0-9]{0,5}(ms|s))?", fullmatch=True),
    st.sampled_from(["", "1e999", "-0", "9" * 400, "0x10", "1_000", "٣", "inf", "nan", "1h30m", ".5s", "5."]),
)


@settings(max_examples=400)
@given(query_text, st.lists(query_text, max_size=3), st.dictionaries(st.sampled_from(["start", "end", "lookback"]), query_text))
def test_query_parameters(text: str, tags: list[str], range_params: dict[str, str]) -> None:
    for parse in (lambda: params.parse_duration_ns(text, "lookback"), lambda: params.parse_int(text, "n"),
                  lambda: params.parse_limit(text), lambda: params.parse_float(text, "x"),
                  lambda: params.parse_tags(text, tags), lambda: params.time_range(range_params)):
        try:
            parse()
        except SpanwiseError:
            pass
