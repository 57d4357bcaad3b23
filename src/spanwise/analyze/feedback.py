"""Ground-truth feedback: parse a JSON or CSV body into records, then store the known ones.

A record names its prediction by `prediction_id`, or by `trace_id` + `span_id` of the
prediction span. `label` is a class name or a number (kept as text; `LabelValue` holds
the number for regression). `timestamp` (optional; when the label became true) is Unix
seconds or ISO 8601; it defaults to the time of receipt. For the same prediction the
latest timestamp wins (then the latest receipt).

A label whose prediction is not stored yet (its span is a flush away, or the client sent
labels before spans) is kept in the store's pending table and joined when the prediction
arrives (`PendingFeedbackResolver`, every second), whatever the order or a restart in
between; labels still unmatched after `models.feedback_expiry_s` are dropped and counted.
A timestamp more than `FUTURE_SKEW_NS` ahead of the server's clock is set to the time of
receipt (a label from the future would win over every later correction), and reported.
"""

from __future__ import annotations

import csv
import io
import math
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Protocol

import orjson
import pyarrow as pa

from spanwise.errors import MalformedPayload
from spanwise.periodic import PeriodicWorker
from spanwise.store.protocols import FeedbackWriter
from spanwise.request_context import acting, current, for_project
from spanwise.store.protocols import PendingFeedbackStore

MAX_FEEDBACK_RECORDS = 100_000
#: Clock skew tolerated in a label's timestamp before it is set to the time of receipt.
FUTURE_SKEW_NS = 5 * 60 * 10**9
MAX_LISTED = 100
#: Waiting labels the resolver reads per tick.
RESOLVE_BATCH = 50_000
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
    """`accepted` records were taken: stored, or `pending` until their prediction is stored
    (`pending_ids` names the first `MAX_LISTED`); `updated` predictions now have a
    different label than before; `clamped` timestamps lay in the future."""

    accepted: int
    updated: int
    pending: int = 0
    pending_ids: list[str] = field(default_factory=list)
    clamped: int = 0


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


class FeedbackStore(FeedbackWriter, PendingFeedbackStore, Protocol):
    """What feedback needs of the store."""


def store_feedback(store: FeedbackStore, records: list[FeedbackRecord], now_ns: int | None = None) -> FeedbackOutcome:
    """Store labels of known predictions, keep the others pending; count real changes."""
    received = now_ns if now_ns is not None else time.time_ns()
    clamped = [replace(r, timestamp_ns=received) if r.timestamp_ns > received + FUTURE_SKEW_NS else r for r in records]
    resolved = _resolve(store, clamped)
    kept = [(r, pid) for r, pid in resolved if pid]
    waiting = [r for r, pid in resolved if not pid]
    updated = _changed(store.latest_labels(sorted({pid for _, pid in kept})), kept)
    store.write_feedback(_feedback_rows(kept, [received + i for i in range(len(kept))]))
    store.write_pending_feedback(_pending_rows(waiting, received + len(kept)))
    return FeedbackOutcome(
        len(records), updated, len(waiting), list(dict.fromkeys(r.key for r in waiting))[:MAX_LISTED],
        sum(a is not b for a, b in zip(records, clamped)),
    )


def _resolve(store: FeedbackWriter, records: list[FeedbackRecord]) -> list[tuple[FeedbackRecord, str]]:
    """Each record with its stored prediction's id, or '' when that prediction is not stored yet."""
    spans = sorted({(r.trace_id, r.span_id) for r in records if not r.prediction_id})
    by_span = store.prediction_ids_of_spans(spans)
    named = [(r, r.prediction_id or by_span.get((r.trace_id, r.span_id), "")) for r in records]
    known = store.known_predictions(sorted({pid for _, pid in named if pid}))
    return [(r, pid if pid in known else "") for r, pid in named]


def _changed(before: dict[str, tuple[str, int]], kept: list[tuple[FeedbackRecord, str]]) -> int:
    """Predictions whose winning label (latest timestamp; on a tie the later record) differs
    from the one they had."""
    winning = dict(before)
    for record, pid in kept:
        current = winning.get(pid)
        if current is None or record.timestamp_ns >= current[1]:
            winning[pid] = (record.label, record.timestamp_ns)
    return sum(pid in before and winning[pid][0] != before[pid][0] for pid in winning)


def _feedback_rows(pairs: list[tuple[FeedbackRecord, str]], received: list[int]) -> pa.Table:
    # Received one nanosecond apart: of two labels with the same timestamp, the later record wins.
    return pa.table({
        "PredictionId": pa.array([pid for _, pid in pairs], pa.string()),
        "Label": pa.array([r.label for r, _ in pairs], pa.string()),
        "LabelValue": pa.array([_number(r.label) for r, _ in pairs], pa.float64()),
        "Timestamp": pa.array([r.timestamp_ns for r, _ in pairs], pa.timestamp("ns", tz="UTC")),
        "ReceivedAt": pa.array(received, pa.timestamp("ns", tz="UTC")),
    })


def _pending_rows(records: list[FeedbackRecord], first_received: int) -> pa.Table:
    rows = _feedback_rows([(r, r.prediction_id) for r in records], [first_received + i for i in range(len(records))])
    return rows.add_column(1, "TraceId", pa.array([r.trace_id for r in records], pa.string())).add_column(
        2, "SpanId", pa.array([r.span_id for r in records], pa.string()))


@dataclass(frozen=True)
class ResolverStatus:
    """Labels waiting for their prediction (how many; the oldest's age in seconds, None
    when none wait) and the resolver's counters by name (`resolved`, `expired`,
    `failed_ticks`), each present once it was counted."""

    pending: int
    oldest_pending_age_s: float | None
    counters: Mapping[str, int]


class PendingFeedbackResolver:
    """Moves waiting labels to `feedback` once their prediction is stored (keeping their
    time of receipt, so the order of corrections holds) and drops those waiting longer
    than `expiry_s`. Runs every `period_s` on a background thread."""

    def __init__(self, store: FeedbackStore, expiry_s: float, period_s: float = 1.0) -> None:
        self._store, self._expiry_ns = store, int(expiry_s * 1e9)
        self.stats: Counter[str] = Counter()
        self._worker = PeriodicWorker("spanwise-feedback", self.tick, period_s, self.stats)

    def start(self) -> None:
        self._worker.start()

    def shutdown(self) -> None:
        self._worker.shutdown()

    def tick(self, now_ns: int | None = None) -> int:
        """One pass over every project with labels waiting (each resolved as that project,
        so a label only ever meets its own project's prediction); returns how many labels
        found their prediction. Runs as the platform (across projects) or, in a test, as one project."""
        now = now_ns if now_ns is not None else time.time_ns()
        self.stats["expired"] += self._store.expire_pending_feedback(now - self._expiry_ns)
        if current().project is not None:
            return self._resolve_project()
        resolved = 0
        for project in self._store.pending_feedback_projects():
            with acting(for_project(project)):
                resolved += self._resolve_project()
        return resolved

    def _resolve_project(self) -> int:
        rows = self._store.pending_feedback(RESOLVE_BATCH)
        if not rows.num_rows:
            return 0
        records = [FeedbackRecord(r["Label"], r["Timestamp"], r["PredictionId"], r["TraceId"], r["SpanId"])
                   for r in rows.to_pylist()]
        found = [(i, pid) for i, (_, pid) in enumerate(_resolve(self._store, records)) if pid]
        if not found:
            return 0
        matched = rows.take([i for i, _ in found])
        received = matched.column("ReceivedAt").to_pylist()
        self._store.write_feedback(_feedback_rows([(records[i], pid) for i, pid in found], received))
        self._store.forget_pending_feedback(matched)
        self.stats["resolved"] += len(found)
        return len(found)

    def status(self) -> ResolverStatus:
        """Waiting labels (count, age of the oldest) and what the resolver did."""
        waiting = self._store.pending_feedback_stats()
        age = (time.time_ns() - waiting.oldest_received_ns) / 1e9 if waiting.oldest_received_ns else None
        return ResolverStatus(waiting.count, age, dict(self.stats))


def _number(label: str) -> float | None:
    try:
        value = float(label)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
