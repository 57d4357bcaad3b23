"""Erasing a data subject (`SubjectEraser` in store/protocols) in ClickHouse SQL.

What carries the subject, in one project:
- spans (stored, and waiting for a tail-sampling decision) with the value under the key
  in their span or resource attributes, or under `ml.feature.<key>` (the SDK's form of a
  feature), and the spans of erased predictions;
- predictions of erased spans (matched by TraceId and SpanId: the predictions table has
  no span attributes) and predictions whose string features hold the value under the key;
- labels (`feedback`, `feedback_pending`) of erased predictions, and pending labels sent
  for an erased span;
- log records and OTLP metric points with the value in their own or resource attributes.

Deletes are lightweight (`DELETE FROM`, rows masked at once and dropped from disk when
their parts merge) and synchronous, so a read right after finds nothing. They run on the
writer connection, which no project filter limits, so every statement, subqueries
included, names the project itself. Rows are counted before anything is deleted, and the
statements are ordered so each one's subqueries read tables not yet erased; the one
cycle (spans -> predictions -> spans) is cut by reading the span ids of predictions
matched by feature first. Aggregated metrics (span and model metrics, signals) hold
counts, not values, and are left alone.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pyarrow as pa

from spanwise.request_context import DEFAULT_PROJECT, acting, current
from spanwise.store.clickhouse import otlp_metrics_schema
from spanwise.store.clickhouse.logs_schema import LOGS_TABLE
from spanwise.store.clickhouse.models_schema import FEEDBACK_TABLE, PENDING_FEEDBACK_TABLE
from spanwise.store.clickhouse.projects import PROJECT_COLUMN
from spanwise.store.clickhouse.schema import TAIL_PENDING_TABLE
from spanwise.store.clickhouse.literals import quoted
from spanwise.store.clickhouse.session import SqlArea

SPAN_TABLES = ("otel_traces", TAIL_PENDING_TABLE)
PREDICTIONS_TABLE = "predictions"
METRIC_TABLES = tuple(otlp_metrics_schema.TABLES.values())
FEATURE_PREFIX = "ml.feature."
#: Synchronous: the statement returns once the rows are gone for every reader.
_SYNC = "SETTINGS lightweight_deletes_sync = 2, mutations_sync = 2"


def project_condition(project: str) -> str:
    """`Project` is this project (rows older builds left in key-collapsing tables have ''
    and belong to the default project, as reads see them)."""
    if project == DEFAULT_PROJECT:
        return f"{PROJECT_COLUMN} IN ({quoted(project)}, '')"
    return f"{PROJECT_COLUMN} = {quoted(project)}"


@dataclasses.dataclass(frozen=True)
class _Subject:
    """The SQL conditions that find one subject's rows in one project."""

    project: str
    attribute: str
    values: tuple[str, ...]

    @property
    def mine(self) -> str:
        return project_condition(self.project)

    def carried(self, *maps: str, keys: tuple[str, ...] | None = None) -> str:
        """Some of `maps` holds one of the values under one of `keys` (default: the attribute)."""
        listed = "(" + ", ".join(quoted(v) for v in self.values) + ")"
        return "(" + " OR ".join(f"{m}[{quoted(k)}] IN {listed}" for m in maps for k in keys or (self.attribute,)) + ")"

    def span_keys(self) -> tuple[str, ...]:
        if self.attribute.startswith(FEATURE_PREFIX):
            return (self.attribute,)
        return (self.attribute, FEATURE_PREFIX + self.attribute)

    def spans_carrying(self) -> str:
        """(TraceId, SpanId) of every span with the value in its attributes."""
        carried = self.carried("SpanAttributes", "ResourceAttributes", keys=self.span_keys())
        return " UNION ALL ".join(f"SELECT TraceId, SpanId FROM {t} WHERE {self.mine} AND {carried}" for t in SPAN_TABLES)

    def predictions(self) -> str:
        return (f"{self.mine} AND ({self.carried('StringFeatures')} "
                f"OR (TraceId, SpanId) IN ({self.spans_carrying()}))")

    def prediction_ids(self) -> str:
        return f"SELECT PredictionId FROM {PREDICTIONS_TABLE} WHERE {self.predictions()} AND PredictionId != ''"

    def spans(self, of_predictions: list[tuple[str, str]]) -> str:
        carried = self.carried("SpanAttributes", "ResourceAttributes", keys=self.span_keys())
        if not of_predictions:
            return f"{self.mine} AND {carried}"
        pairs = "[" + ", ".join(f"({quoted(t)}, {quoted(s)})" for t, s in of_predictions) + "]"
        return f"{self.mine} AND ({carried} OR (TraceId, SpanId) IN {pairs})"

    def labels(self) -> str:
        return f"{self.mine} AND PredictionId IN ({self.prediction_ids()})"

    def pending_labels(self) -> str:
        return (f"{self.mine} AND (PredictionId IN ({self.prediction_ids()}) "
                f"OR (TraceId, SpanId) IN ({self.spans_carrying()}))")


class SqlErasure(SqlArea):
    """The backend supplies `_execute` (writer, unfiltered) and `_query` (reads, scoped to
    the current project)."""



    def erase_subject(self, project: str, attribute: str, values: list[str]) -> dict[str, int]:
        if not attribute or not values or not all(values):
            raise ValueError("erasure needs an attribute and non-empty values")
        subject = _Subject(project, attribute, tuple(dict.fromkeys(values)))
        # Reads act for the erased project, whoever asks (an admin may be in another).
        with acting(dataclasses.replace(current(), project=project)):
            plan = self._erasure_plan(subject)
            removed = {table: self._count(table, where) for table, where in plan}
            for table, where in plan:
                if removed[table]:
                    self._execute(f"DELETE FROM {table} WHERE {where} {_SYNC}")
        return removed

    def _erasure_plan(self, subject: _Subject) -> list[tuple[str, str]]:
        """(table, condition) in the order they must be deleted: labels before the
        predictions they are found through, predictions before the spans."""
        by_feature = self._query(
            f"SELECT DISTINCT TraceId, SpanId FROM {PREDICTIONS_TABLE} "
            f"WHERE {subject.mine} AND {subject.carried('StringFeatures')} AND SpanId != ''"
        ).to_pylist()
        spans = subject.spans([(r["TraceId"], r["SpanId"]) for r in by_feature])
        carried_by_record = subject.carried("ResourceAttributes", "LogAttributes")
        carried_by_point = subject.carried("ResourceAttributes", "Attributes")
        return [
            (FEEDBACK_TABLE, subject.labels()),
            (PENDING_FEEDBACK_TABLE, subject.pending_labels()),
            (PREDICTIONS_TABLE, subject.predictions()),
            *((table, spans) for table in SPAN_TABLES),
            (LOGS_TABLE, f"{subject.mine} AND {carried_by_record}"),
            *((table, f"{subject.mine} AND {carried_by_point}") for table in METRIC_TABLES),
        ]

    def _count(self, table: str, where: str) -> int:
        return int(self._query(f"SELECT toInt64(count()) AS n FROM {table} WHERE {where}").column("n")[0].as_py())
