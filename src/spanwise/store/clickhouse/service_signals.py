"""Service signals (RED, latency series, dependency graph) that hold at any sampling rate.

Sampling keeps a fraction of spans in `otel_traces`, so counting stored spans undercounts
calls and, under tail sampling (which keeps errors and slow traces), overstates error
rates and latency. The span metrics (`store.clickhouse.metrics_schema`) are built from every span
before sampling, so RED and latency read them: counts and errors are exact, percentiles
come from the duration histogram (exact to the bucket, interpolated inside it, as
Prometheus' `histogram_quantile`). Their resolution is the minute: a window covers the
whole minutes it touches.

Dependency edges need a span and its parent, which only stored traces have. Sampling is
per trace, so stored traces are whole and each stored span stands for `SampleWeight`
spans: an edge's calls are the weighted count of its child spans, then post-stratified by
the exact figures: each (child service, span kind) stratum's weighted calls (and errors)
are scaled so they add up to the span metrics' exact count of that stratum (errors that
sampling kept none of are split across the stratum's callers as its calls are). A service
called from one other service therefore gets exact edge counts at any sampling rate; a
service with several callers gets its exact total split in the sampled proportions.
Without span metrics (`metrics.enabled: false`) the weighted counts are used as they are.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, NamedTuple

import pyarrow as pa

from spanwise.core.explicit_histogram import histogram_quantile
from spanwise.core.metrics import MetricsSpec
from spanwise.store.clickhouse import metrics_schema as ms
from spanwise.store.protocols import DependencyLink, LatencyPoint, RedSummary
from spanwise.store.clickhouse.session import SqlArea

#: The widest range `dependencies` reads (7 days); a longer lookback reads its newest 7 days.
MAX_DEPENDENCY_RANGE_NS = 7 * 86_400 * 10**9
_MINUTE_NS = 60 * 10**9
_QUANTILES = (0.5, 0.95, 0.99)
_MINUTES = (
    "Minute >= fromUnixTimestamp64Nano({lo:Int64}) AND Minute <= fromUnixTimestamp64Nano({hi:Int64})"
)
_STORED = (
    "Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp <= fromUnixTimestamp64Nano({hi:Int64}) "
    "AND SampleWeight > 0"
)
#: Stored rows can repeat (retries); the weighted percentile needs integer weights.
_WEIGHT = "toUInt64(round(SampleWeight * 1000))"


class SqlServiceSignals(SqlArea):
    """The RED / latency / dependency half of `SqlTraceStore`."""

    _metrics: MetricsSpec


    def red_summary(self, start_ns: int, end_ns: int, service: str | None = None) -> list[RedSummary]:
        name = "SpanName" if service else "ServiceName"
        params = {**_whole_minutes(start_ns, end_ns), "service": service or ""}
        only = "({service:String} = '' OR ServiceName = {service:String})"
        if not self._metrics.enabled:
            return [RedSummary(r["name"], *_weighted_figures(r)) for r in self._query(
                f"SELECT {name} AS name, {_WEIGHTED_SELECT} FROM otel_traces WHERE {_STORED} AND {only} "
                "GROUP BY name ORDER BY name", params).to_pylist()]
        rows = self._query(
            f"SELECT {name} AS name, Le, sum(Calls) AS n, sumIf(Calls, StatusCode = 'Error') AS errors "
            f"FROM {ms.SPAN_METRICS} WHERE {_MINUTES} AND {only} GROUP BY name, Le",
            params,
        ).to_pylist()
        return [RedSummary(key, *figures) for key, figures in sorted(_fold(rows, "name").items())]

    def latency_series(
        self, service: str, start_ns: int, end_ns: int, step_s: int, operation: str | None = None
    ) -> list[LatencyPoint]:
        params = {**_whole_minutes(start_ns, end_ns), "service": service, "step": step_s,
                  "operation": operation or ""}
        where = "ServiceName = {service:String} AND ({operation:String} = '' OR SpanName = {operation:String})"
        if not self._metrics.enabled:
            rows = self._query(
                f"SELECT {_step('Timestamp')} AS t, {_WEIGHTED_SELECT} FROM otel_traces WHERE {_STORED} AND {where} "
                "GROUP BY t ORDER BY t", params).to_pylist()
            return [_point(r["t"], _weighted_figures(r)) for r in rows]
        rows = self._query(
            f"SELECT {_step('Minute')} AS t, Le, sum(Calls) AS n, sumIf(Calls, StatusCode = 'Error') AS errors "
            f"FROM {ms.SPAN_METRICS} WHERE {_MINUTES} AND {where} GROUP BY t, Le",
            params,
        ).to_pylist()
        return [_point(t, figures) for t, figures in sorted(_fold(rows, "t").items())]

    def dependencies(self, start_ns: int, end_ns: int) -> list[DependencyLink]:
        """Edges over at most the last MAX_DEPENDENCY_RANGE_NS of the range: the query
        joins every stored span of the range with its parent, so its cost grows with the range."""
        params = _whole_minutes(max(start_ns, end_ns - MAX_DEPENDENCY_RANGE_NS), end_ns)
        edges = self._query(
            f"""SELECT p.ServiceName AS parent, c.ServiceName AS child, c.SpanKind AS kind,
                   sum(c.SampleWeight) AS calls, sumIf(c.SampleWeight, c.StatusCode = 'Error') AS errors,
                   quantileExactWeighted(0.95)(c.Duration, c.W) AS p95
            FROM (SELECT TraceId, SpanId, ServiceName FROM otel_traces WHERE {_STORED}
                  LIMIT 1 BY TraceId, SpanId) AS p
            INNER JOIN (SELECT TraceId, ParentSpanId, ServiceName, SpanKind, StatusCode, Duration, SampleWeight,
                  {_WEIGHT} AS W FROM otel_traces WHERE ParentSpanId != '' AND {_STORED}
                  LIMIT 1 BY TraceId, SpanId) AS c
            ON c.TraceId = p.TraceId AND c.ParentSpanId = p.SpanId
            WHERE p.ServiceName != c.ServiceName
            GROUP BY parent, child, kind""",
            params,
        ).to_pylist()
        scale = self._strata_scale(params) if edges and self._metrics.enabled else {}
        return _links(edges, scale)

    def _strata_scale(self, params: dict[str, Any]) -> dict[tuple[str, str], "_Scale"]:
        """(service, kind) -> how its stored edges scale to the exact figures. Both
        sides count redelivered spans, so the ratio undoes sampling only and edges keep
        counting distinct spans."""
        exact = self._query(
            f"SELECT ServiceName AS s, SpanKind AS k, sum(Calls) AS n, sumIf(Calls, StatusCode = 'Error') AS e "
            f"FROM {ms.SPAN_METRICS} WHERE {_MINUTES} GROUP BY s, k", params).to_pylist()
        stored = self._query(
            "SELECT ServiceName AS s, SpanKind AS k, sum(SampleWeight) AS n, sumIf(SampleWeight, StatusCode = 'Error') AS e "
            f"FROM otel_traces WHERE {_STORED} GROUP BY s, k",
            params).to_pylist()
        weighted = {(r["s"], r["k"]): (float(r["n"]), float(r["e"])) for r in stored}
        scale = {}
        for r in exact:
            n, e = weighted.get((r["s"], r["k"]), (0.0, 0.0))
            scale[(r["s"], r["k"])] = _Scale(r["n"] / n if n else 1.0, r["e"] / e if e else 0.0,
                                             0.0 if e or not n else r["e"] / n)
        return scale


_WEIGHTED_SELECT = (
    "sum(SampleWeight) AS n, sumIf(SampleWeight, StatusCode = 'Error') AS errors, "
    f"quantilesExactWeighted({', '.join(map(str, _QUANTILES))})(Duration, {_WEIGHT}) AS q"
)


def _whole_minutes(start_ns: int, end_ns: int) -> dict[str, int]:
    """The range widened to whole minutes, the resolution of the span metrics, so stored
    spans and metrics cover the same spans."""
    return {"lo": start_ns - start_ns % _MINUTE_NS, "hi": end_ns - end_ns % _MINUTE_NS + _MINUTE_NS - 1}


def _step(column: str) -> str:
    return f"toInt64(toUnixTimestamp(toStartOfInterval({column}, toIntervalSecond({{step:UInt32}}))))"


def _weighted_figures(row: dict[str, Any]) -> tuple[int, int, float, float, float]:
    p50, p95, p99 = (float(q) for q in row["q"])
    return round(row["n"]), round(row["errors"]), p50, p95, p99


def _point(step_start_s: int, figures: tuple[int, int, float, float, float]) -> LatencyPoint:
    count, errors, p50, p95, p99 = figures
    return LatencyPoint(step_start_s * 10**9, count, p50, p95, p99, errors)


def _fold(rows: list[dict[str, Any]], key: str) -> dict[Any, tuple[int, int, float, float, float]]:
    """Histogram rows (key, Le, n, errors) -> key: (calls, errors, p50, p95, p99 in ns)."""
    buckets: dict[Any, list[tuple[float, int]]] = defaultdict(list)
    errors: dict[Any, int] = defaultdict(int)
    for r in rows:
        buckets[r[key]].append((float(r["Le"]), int(r["n"])))
        errors[r[key]] += int(r["errors"])
    folded = {}
    for name, histogram in buckets.items():
        histogram.sort()
        total = sum(n for _, n in histogram)
        if total:
            p50, p95, p99 = (histogram_quantile(q, histogram) * 1e6 for q in _QUANTILES)
            folded[name] = (total, errors[name], p50, p95, p99)
    return folded


class _Scale(NamedTuple):
    """Of one (child service, span kind) stratum: exact calls per weighted stored call;
    exact errors per weighted stored error; and, when sampling kept none of its errors,
    exact errors per weighted stored call (its errors are split across callers as its
    calls are)."""

    calls: float = 1.0
    errors: float = 1.0
    errors_per_call: float = 0.0


def _links(edges: list[dict[str, Any]], scale: dict[tuple[str, str], _Scale]) -> list[DependencyLink]:
    """One link per (parent, child): the strata of the child's span kinds, each scaled."""
    calls: dict[tuple[str, str], float] = defaultdict(float)
    errors: dict[tuple[str, str], float] = defaultdict(float)
    p95: dict[tuple[str, str], float] = {}
    for e in edges:
        link = (e["parent"], e["child"])
        stratum = scale.get((e["child"], e["kind"]), _Scale())
        calls[link] += e["calls"] * stratum.calls
        errors[link] += e["errors"] * stratum.errors + e["calls"] * stratum.errors_per_call
        p95[link] = max(p95.get(link, 0.0), float(e["p95"]))
    return [DependencyLink(p, c, round(calls[(p, c)]), round(errors[(p, c)]), p95[(p, c)]) for p, c in sorted(calls)]
