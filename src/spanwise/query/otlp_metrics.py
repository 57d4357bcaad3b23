"""Queries over OTLP metrics received from SDKs (not the span metrics at `/metrics`)."""

from __future__ import annotations

from typing import Any

from spanwise.errors import InvalidQuery, NotFound
from spanwise.query.service import MAX_SERIES_POINTS
from spanwise.store.api import OtlpMetricStore


class OtlpMetricQueries:
    def __init__(self, store: OtlpMetricStore) -> None:
        self._store = store

    def metrics(self, start_ns: int, end_ns: int) -> list[dict[str, Any]]:
        """Every metric name seen in the window, with its kind, unit and services."""
        return list(self._store.list_metrics(start_ns, end_ns).to_pylist())

    def series(self, name: str, service: str, start_ns: int, end_ns: int, step_s: int) -> dict[str, Any]:
        """Per-step values of `name` (whichever kind it has)."""
        if step_s <= 0 or (end_ns - start_ns) // (step_s * 10**9) > MAX_SERIES_POINTS:
            raise InvalidQuery(f"step must be positive and give at most {MAX_SERIES_POINTS} points")
        kinds = [m["kind"] for m in self.metrics(start_ns, end_ns) if m["name"] == name]
        if not kinds:
            raise NotFound(f"no metric {name!r} in this time range")
        rows = self._store.metric_series(kinds[0], name, service, start_ns, end_ns, step_s).to_pylist()
        points = [{"start_unix_nano": row.pop("t") * 10**9, **row} for row in rows]
        return {"name": name, "kind": kinds[0], "service": service or None, "step_seconds": step_s, "points": points}
