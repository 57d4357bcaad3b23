"""Ground-truth feedback: parse a JSON or CSV body into records, then store the known ones.

A record names its prediction by `prediction_id`, or by `trace_id` + `span_id` of the
prediction span. `label` is a class name or a number (kept as text; `LabelValue` holds
the number for regression). `timestamp` (optional; when the label became true) is Unix
seconds or ISO 8601; it defaults to the time of receipt. For the same prediction the
latest timestamp wins (then the latest receipt).

Records whose prediction is unknown are NOT stored: they are listed in `unknown_ids`
(a prediction becomes known once its span is stored, a second or so after export), so
the sender can resend them. Nothing is dropped silently.
"""

from __future__ import annotations

import csv
import io
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson
import pyarrow as pa

from spanwise.errors import MalformedPayload
from spanwise.store.api import FeedbackWriter

MAX_FEEDBACK_RECORDS = 100_000
_FIELDS = ("prediction_id", "trace_id", "span_id", "label", "timestamp")


@dataclass(frozen=True)
class FeedbackRecord:
    """One label for one prediction (by id, or by trace and span id)."""

    label: str
    timestamp_ns: int
    prediction_id: str = ""
    trace_id: str = ""
    span_id: str = ""

    @property
    def key(self) -> str:
        """How the sender named the prediction (reported back for unknown ones)."""
        return self.prediction_id or f"{self.trace_id}:{self.span_id}"


@dataclass(frozen=True)
class FeedbackOutcome:
    """`accepted` records were stored; `updated` of them replace an earlier label of the
    same prediction (stored before, or earlier in the same request)."""

    accepted: int
    updated: int
    unknown_ids: list[str]


def parse_feedback(body: bytes, content_type: str, now_ns: int | None = None) -> list[FeedbackRecord]:
    """Records of a JSON array or a CSV file with a header; `MalformedPayload` names the
    first bad item (JSON: index from 0) or row (CSV: line number, header = line 1)."""
    now = now_ns if now_ns is not None else time.time_ns()
    if content_type == "text/csv":
        return _parse_csv(body, now)
    try:
        items = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"malformed JSON: {exc}") from None
    if not isinstance(items, list):
        raise MalformedPayload("expected a JSON array of feedback objects")
    _check_size(len(items))
    records = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise MalformedPayload(f"item {index}: expected an object")
        records.append(_record(item, now, f"item {index}"))
    return records


def _parse_csv(body: bytes, now: int) -> list[FeedbackRecord]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"CSV is not UTF-8: {exc}") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = reader.fieldnames or []
    if "label" not in header or not ("prediction_id" in header or {"trace_id", "span_id"} <= set(header)):
        raise MalformedPayload("line 1: CSV header needs label and prediction_id (or trace_id and span_id)")
    records = []
    try:
        for row in reader:
            if None in row or any(v is None for v in row.values()):
                raise MalformedPayload(f"line {reader.line_num}: expected {len(header)} fields")
            records.append(_record({k: v for k, v in row.items() if v != "" and k in _FIELDS}, now, f"line {reader.line_num}"))
            _check_size(len(records))
    except csv.Error as exc:
        raise MalformedPayload(f"line {reader.line_num}: {exc}") from None
    return records


def _check_size(count: int) -> None:
    if count > MAX_FEEDBACK_RECORDS:
        raise MalformedPayload(f"at most {MAX_FEEDBACK_RECORDS} feedback records per request")


def _record(item: dict[str, Any], now: int, where: str) -> FeedbackRecord:
    label = item.get("label")
    if isinstance(label, bool):
        label = "true" if label else "false"
    elif isinstance(label, float) and label.is_integer():
        label = str(int(label)) if abs(label) < 2**53 else repr(label)
    if not isinstance(label, (str, int, float)) or label == "":
        raise MalformedPayload(f"{where}: 'label' must be a non-empty string or a number")
    for key in ("prediction_id", "trace_id", "span_id"):
        if isinstance(item.get(key), (bool, dict, list, float)):
            raise MalformedPayload(f"{where}: '{key}' must be a string, got {item[key]!r}")
    ids = {k: str(item.get(k) or "") for k in ("prediction_id", "trace_id", "span_id")}
    if not ids["prediction_id"] and not (ids["trace_id"] and ids["span_id"]):
        raise MalformedPayload(f"{where}: give prediction_id, or trace_id and span_id")
    return FeedbackRecord(str(label), _timestamp(item.get("timestamp"), now, where), ids["prediction_id"],
                          ids["trace_id"].lower(), ids["span_id"].lower())


#: Stored timestamps are nanoseconds in an Int64: 1970 up to 2262-04-11.
MAX_TIMESTAMP_S = (2**63 - 1) // 10**9


def _timestamp(value: Any, now: int, where: str) -> int:
    """Unix seconds (number or numeric text) or ISO 8601 (UTC unless it says otherwise),
    within what the store can hold; anything else is the sender's error, not a 500."""
    if value is None or value == "":
        return now
    problem = (f"{where}: timestamp must be Unix seconds from 0 to {MAX_TIMESTAMP_S} (year 2262) "
               f"or ISO 8601 in that range, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise MalformedPayload(problem)
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise MalformedPayload(problem) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        seconds = parsed.timestamp()
    if not (math.isfinite(seconds) and 0 <= seconds <= MAX_TIMESTAMP_S):
        raise MalformedPayload(problem)
    return min(int(seconds * 10**9), 2**63 - 1)


def store_feedback(writer: FeedbackWriter, records: list[FeedbackRecord], now_ns: int | None = None) -> FeedbackOutcome:
    """Resolve ids, store the records of known predictions, report the rest."""
    spans = sorted({(r.trace_id, r.span_id) for r in records if not r.prediction_id})
    by_span = writer.prediction_ids_of_spans(spans)
    resolved = [(r, r.prediction_id or by_span.get((r.trace_id, r.span_id), "")) for r in records]
    known = writer.known_predictions(sorted({pid for _, pid in resolved if pid}))
    kept = [(r, pid) for r, pid in resolved if pid in known]
    unknown = list(dict.fromkeys(r.key for r, pid in resolved if pid not in known))
    seen = writer.labelled(sorted({pid for _, pid in kept}))
    updated = 0
    for _, pid in kept:
        updated += pid in seen
        seen.add(pid)
    received = now_ns if now_ns is not None else time.time_ns()
    writer.write_feedback(pa.table({
        "PredictionId": pa.array([pid for _, pid in kept], pa.string()),
        "Label": pa.array([r.label for r, _ in kept], pa.string()),
        "LabelValue": pa.array([_number(r.label) for r, _ in kept], pa.float64()),
        "Timestamp": pa.array([r.timestamp_ns for r, _ in kept], pa.timestamp("ns", tz="UTC")),
        # One nanosecond apart: of two labels with the same timestamp, the later record wins.
        "ReceivedAt": pa.array([received + i for i in range(len(kept))], pa.timestamp("ns", tz="UTC")),
    }))
    return FeedbackOutcome(len(kept), updated, unknown)


def _number(label: str) -> float | None:
    try:
        value = float(label)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
