"""What a rule watches, read through the query and analytics services (never raw SQL):
one `Sample` per label set over a window.

Reads are cached for one evaluation cycle: a thousand rules over the same services and
window cost one store query, not a thousand.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from spanwise.analyze.models import MetricsPoint, MetricsSeries, ModelSummary
from spanwise.core.alert_rules import AlertQuery
from spanwise.core.metrics import CustomMetric, label_name
from spanwise.errors import InvalidQuery
from spanwise.query.custom_metrics import CustomMetricQueries
from spanwise.query.logs import MAX_LOGS, LogQueryService, LogRecord, severity_number
from spanwise.query.otlp_metrics import OtlpMetricService
from spanwise.query.span_groups import SpanGroup, SpanGroupQueries
from spanwise.store.protocols import LogQuery, RedSummary, SpanWindowReader

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sample:
    """One label set's value over a window and how many events it rests on."""

    labels: Labels
    value: float
    count: int


class RedReader(Protocol):
    def red_summary(self, start_ns: int, end_ns: int, service: str | None = None) -> list[RedSummary]: ...


class ModelReader(Protocol):
    def models(self) -> list[ModelSummary]: ...

    def metrics(self, name: str, version: str | None, start_ns: int, end_ns: int, step_s: int) -> MetricsSeries: ...


class ModelSignalReader(Protocol):
    def read_signals(self, model: str, start_ns: int, end_ns: int, signal: str | None = None,
                     feature: str | None = None, limit: int = 10_000) -> Any: ...


class Sources:
    """Reads samples for any `AlertQuery`; services that are absent give no samples."""

    def __init__(self, spans: RedReader | None, models: ModelReader | None = None,
                 signals: ModelSignalReader | None = None, logs: LogQueryService | None = None,
                 exact_spans: SpanWindowReader | None = None, span_groups: SpanGroupQueries | None = None,
                 otlp: OtlpMetricService | None = None, custom: CustomMetricQueries | None = None) -> None:
        """`spans` answers windows of whole minutes from the span metrics (exact under
        sampling); `exact_spans`, when given, answers other windows from stored spans to
        the nanosecond (weighted by their sampling weight); `span_groups` answers span
        rules with `group_by` and `custom` the custom metrics (both absent when span
        metrics are off); `otlp` OTLP metrics."""
        self._spans, self._models, self._signals, self._logs = spans, models, signals, logs
        self._exact, self._groups, self._otlp, self._custom = exact_spans, span_groups, otlp, custom
        self._cache: dict[tuple[Any, ...], Any] = {}
        self.queries = 0

    @property
    def span_dimensions(self) -> tuple[str, ...] | None:
        """The span-metric dimensions rules may group by; None when grouping is not possible."""
        return self._groups.dimensions if self._groups else None

    @property
    def custom_metrics(self) -> tuple[CustomMetric, ...]:
        """The configured custom metrics rules may watch (none when span metrics are off)."""
        return self._custom.metrics if self._custom else ()

    def fresh(self) -> "Sources":
        """The same readers with a cache of their own (for a request thread)."""
        return Sources(self._spans, self._models, self._signals, self._logs, self._exact, self._groups, self._otlp,
                       self._custom)

    def new_cycle(self) -> None:
        """Forget cached reads: a new evaluation sees new data."""
        self._cache.clear()

    def read(self, query: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        if query.kind == "span_metric" and query.group_by:
            return self._span_group_samples(query, start_ns, end_ns)
        reader = {"span_metric": self._span_samples, "model_metric": self._model_samples,
                  "model_signal": self._signal_samples, "logs": self._log_samples,
                  "otlp_metric": self._otlp_samples, "custom_metric": self._custom_samples}[query.kind]
        return reader(query, start_ns, end_ns)

    def _cached(self, key: tuple[Any, ...], read: Callable[[], Any]) -> Any:
        if key not in self._cache:
            self.queries += 1
            self._cache[key] = read()
        return self._cache[key]

    def _span_samples(self, q: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        minutes = (end_ns - start_ns) % (60 * 10**9) == 0
        spans = self._spans if minutes or self._exact is None else self._exact
        if spans is None:
            return []
        per_operation = q.by == "operation" or bool(q.operation)
        target = q.service if per_operation else None
        if isinstance(spans, SpanWindowReader):
            exact = spans
            rows = self._cached(("exact", start_ns, end_ns, target), lambda: exact.span_window(start_ns, end_ns, target))
        else:
            red = spans
            rows = self._cached(("red", start_ns, end_ns, target), lambda: red.red_summary(start_ns, end_ns, target))
        samples = []
        for row in rows:
            if per_operation:
                if q.operation and row.name != q.operation:
                    continue
                labels: Labels = (("operation", row.name), ("service", q.service))
            else:
                if q.service and row.name != q.service:
                    continue
                labels = (("service", row.name),)
            samples.append(Sample(labels, _red_value(q.metric, row, (end_ns - start_ns) / 1e9), row.count))
        return samples

    def _span_group_samples(self, q: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        """One sample per combination of the `group_by` labels (plus the filters named)."""
        if self._groups is None:
            raise InvalidQuery("group_by: grouping reads the span metrics, which are off")
        groups = self._groups
        series = self._cached(("groups", start_ns, end_ns, q.service), lambda: groups.read(start_ns, end_ns, q.service))
        named: Labels = tuple((label, value) for label, value in (("operation", q.operation), ("service", q.service))
                              if value and label not in q.group_by)
        seconds = (end_ns - start_ns) / 1e9
        return [Sample(tuple(sorted(group.labels + named)), _group_value(q.metric, group, seconds), group.calls)
                for group in groups.group(series, tuple(q.group_by), q.operation)]

    def _otlp_samples(self, q: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        """One sample per group of the metric's points; labels are the group's attribute
        keys as label names (`http.route` -> `http_route`), plus `service` when filtered."""
        if self._otlp is None:
            return []
        otlp, where = self._otlp, tuple(sorted(q.attributes.items()))
        key = ("otlp", q.metric, q.aggregation, q.quantile, q.service, tuple(q.group_by), where, start_ns, end_ns)
        groups = self._cached(key, lambda: otlp.aggregate(q.metric, q.aggregation, start_ns, end_ns, q.service,
                                                          tuple(q.group_by), where, q.quantile))
        named = {"service": q.service} if q.service else {}
        return [Sample(_labels({**named, **{label_name(k): v for k, v in g.attributes}}), g.value, g.count)
                for g in groups]

    def _custom_samples(self, q: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        """One sample per group of the metric's series, labelled as on `/metrics`
        (`gen_ai.request.model` -> `gen_ai_request_model`); a window's read serves every
        rule on that metric."""
        if self._custom is None:
            return []
        custom = self._custom
        series = self._cached(("custom", q.metric, start_ns, end_ns), lambda: custom.read(q.metric, start_ns, end_ns))
        groups = custom.aggregate(series, q.metric, q.aggregation, (end_ns - start_ns) / 1e9, tuple(q.group_by),
                                  tuple(sorted(q.attributes.items())), q.quantile)
        return [Sample(_labels({label_name(k): v for k, v in g.attributes}), g.value, g.count) for g in groups]

    def _model_samples(self, q: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        if self._models is None:
            return []
        source = self._models
        names = [q.model] if q.model else [m.name for m in self._cached(("models",), source.models)]
        step = max(1, int((end_ns - start_ns) // 10**9))
        samples = []
        for name in names:
            read = functools.partial(_model_points, source, name, q.version or None, start_ns, end_ns, step)
            found: tuple[MetricsPoint, ...] = self._cached(("model", name, q.version, start_ns, end_ns), read)
            by_version: dict[str, list[MetricsPoint]] = {}
            for point in found:
                by_version.setdefault(point.version, []).append(point)
            for version, points in sorted(by_version.items()):
                labels = (("model", name), ("version", version))
                samples.append(Sample(labels, _model_value(q.metric, points, step), sum(p.count for p in points)))
        return samples

    def _signal_samples(self, q: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        if self._signals is None:
            return []
        source = self._signals
        table = self._cached(("signals", q.model, q.metric, q.feature, start_ns, end_ns),
                             lambda: source.read_signals(q.model, start_ns, end_ns, q.metric, q.feature or None))
        latest: dict[Labels, float] = {}
        for row in table.to_pylist():  # oldest first: the last row per label set wins
            if row["value"] is None or (q.version and row["version"] != q.version):
                continue
            labels: Labels = (("model", q.model), ("version", row["version"]))
            if row["feature"]:
                labels += (("feature", row["feature"]),)
            latest[labels] = float(row["value"])
        return [Sample(labels, value, 1) for labels, value in sorted(latest.items())]

    def _log_samples(self, q: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        if self._logs is None:
            return []
        logs = self._logs
        query = LogQuery(start_ns, end_ns, service=q.service, min_severity=severity_number(q.severity),
                         text=q.search, limit=MAX_LOGS)
        records: list[LogRecord] = self._cached(("logs", query), lambda: logs.search(query))
        counts: dict[str, int] = {}
        for record in records:
            counts[record.service] = counts.get(record.service, 0) + 1
        seconds = (end_ns - start_ns) / 1e9
        return [Sample((("service", service),), n / seconds if q.metric == "rate" else float(n), n)
                for service, n in sorted(counts.items())]


def _model_points(source: ModelReader, name: str, version: str | None, start_ns: int, end_ns: int,
                  step: int) -> tuple[MetricsPoint, ...]:
    """A model's points; an unknown model has none (absence, not an error), and that is
    cached too, so a thousand rules naming a model not seen yet cost one read, not a thousand."""
    try:
        return source.metrics(name, version, start_ns, end_ns, step).points
    except Exception:  # noqa: BLE001
        return ()


def _red_value(metric: str, row: RedSummary, seconds: float) -> float:
    values = {
        "rate": row.count / seconds, "count": float(row.count), "errors": float(row.error_count),
        "error_rate": row.error_count / row.count if row.count else 0.0,
        "p50_ms": row.p50_ns / 1e6, "p95_ms": row.p95_ns / 1e6, "p99_ms": row.p99_ns / 1e6,
    }
    return float(values[metric])


_LATENCY: dict[str, Callable[[MetricsPoint], float]] = {
    "p50_ms": lambda p: p.p50_ms, "p95_ms": lambda p: p.p95_ms, "p99_ms": lambda p: p.p99_ms,
}


def _labels(found: dict[str, str]) -> Labels:
    return tuple(sorted(found.items()))


def _group_value(metric: str, group: SpanGroup, seconds: float) -> float:
    if metric.endswith("_ms"):
        return group.quantile_ms(int(metric[1:3]) / 100)
    return float({"rate": group.calls / seconds, "count": group.calls, "errors": group.errors,
                  "error_rate": group.errors / group.calls if group.calls else 0.0}[metric])


def _model_value(metric: str, points: list[MetricsPoint], step_s: int) -> float:
    """One value from the window's steps (at most two: the window straddles a step edge).
    Percentiles take the worse step: a spike in either half counts."""
    count = sum(p.count for p in points)
    errors = sum(p.errors for p in points)
    if metric in ("predictions", "rate", "errors", "error_rate"):
        return {"predictions": float(count), "rate": count / step_s, "errors": float(errors),
                "error_rate": errors / count if count else 0.0}[metric]
    latency = _LATENCY[metric]
    return max((float(latency(p) or 0.0) for p in points), default=0.0)
