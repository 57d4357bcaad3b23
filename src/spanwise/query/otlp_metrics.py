"""Queries over OTLP metrics received from SDKs (not the span metrics at `/metrics`)."""

from __future__ import annotations

from typing import Any

from spanwise.core.time_range import MAX_SERIES_POINTS
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import OtlpMetricStore
from spanwise.store.clickhouse.otlp_metrics import MAX_SERIES_ROWS

#: Attribute keys one series request may split by, and the series it may return.
MAX_GROUP_BY = 3
MAX_GROUPS = 100


class OtlpMetricService:
    def __init__(self, store: OtlpMetricStore) -> None:
        self._store = store

    def metrics(self, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        """Every metric name seen in the window, with its kind, unit and services."""
        return list(self._store.list_metrics(start_ns, end_ns).to_pylist())

    def series(
        self, name: str, service: str, start_ns: int, end_ns: int, step_s: int,
        group_by: tuple[str, ...] = (), where: tuple[tuple[str, str], ...] = (),
    ) -> dict[str, Any]:
        """Per-step values of `name` (whichever kind it has), of points whose attributes
        match `where`; with `group_by`, one series per combination of those attributes'
        values (`series`: [{attributes, points}]) instead of one `points` list."""
        if step_s <= 0 or (end_ns - start_ns) // (step_s * 10**9) > MAX_SERIES_POINTS:
            raise InvalidQuery(f"step must be positive and give at most {MAX_SERIES_POINTS} points")
        if len(group_by) > MAX_GROUP_BY or len(set(group_by)) < len(group_by):
            raise InvalidQuery(f"group_by: at most {MAX_GROUP_BY} distinct attribute keys")
        kinds = [m["kind"] for m in self.metrics(start_ns, end_ns) if m["name"] == name]
        if not kinds:
            raise NotFound(f"no metric {name!r} in this time range")
        rows = self._store.metric_series(kinds[0], name, service, start_ns, end_ns, step_s, group_by, where).to_pylist()
        if len(rows) > MAX_SERIES_ROWS:
            raise InvalidQuery(f"more than {MAX_SERIES_ROWS} points: use a larger step, fewer group_by keys or attribute filters")
        found: dict[str, Any] = {"name": name, "kind": kinds[0], "service": service or None, "step_seconds": step_s}
        if where:
            found["attributes"] = dict(where)
        if not group_by:
            return found | {"points": [_point(row) for row in rows]}
        series: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in rows:
            key = tuple(row.pop(f"g{i}") for i in range(len(group_by)))
            series.setdefault(key, []).append(_point(row))
        if len(series) > MAX_GROUPS:
            raise InvalidQuery(f"group_by gives {len(series)} series (at most {MAX_GROUPS}): filter with attribute=key:value")
        return found | {"group_by": list(group_by), "series": [
            {"attributes": dict(zip(group_by, key)), "points": points} for key, points in sorted(series.items())
        ]}


def _point(row: dict[str, Any]) -> dict[str, Any]:
    return {"start_unix_nano": row.pop("t") * 10**9, **row}
