"""ModelAnalyticsService: data quality, aggregated explanations and version comparison,
independent of any wire format.

Routes call this; it calls the store's `ModelAnalyticsReader` (and `ModelReader` for the
model's existence and per-version quality counts), validates parameters and raises
`InvalidQuery` / `NotFound`. Results are JSON-ready dicts.
"""

from __future__ import annotations

from typing import Any, Protocol

from spanwise.analyze import compare, data_quality, explanations
from spanwise.core.ml_tasks import CLASSIFICATION
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import ModelAnalyticsReader, WindowQuery
from spanwise.store.protocols import ModelReader, QualityQuery

MAX_WINDOWS = 1_000


class AnalyticsStore(ModelReader, ModelAnalyticsReader, Protocol):
    """What the service needs of a store."""


class ModelAnalyticsService:
    def __init__(self, store: AnalyticsStore) -> None:
        self._store = store

    def _check(self, query: WindowQuery) -> None:
        check_time_range(query.start_ns, query.end_ns)
        if query.step_s < 0:
            raise InvalidQuery("step must not be negative")
        if query.windows() > MAX_WINDOWS:
            raise InvalidQuery(f"step must give at most {MAX_WINDOWS} windows")
        if (query.reference_start_ns is None) != (query.reference_end_ns is None):
            raise InvalidQuery("give both reference_start and reference_end, or neither")
        if query.reference_start_ns is not None and query.reference_end_ns is not None:
            check_time_range(query.reference_start_ns, query.reference_end_ns, what="reference range")
        self._exists(query.model, query.version)

    def _exists(self, model: str, version: str | None) -> None:
        versions = {v.version for v in self._store.model_versions(model)}
        if not versions:
            raise NotFound(f"model {model!r} not found")
        if version is not None and version not in versions:
            raise NotFound(f"version {version!r} of model {model!r} not found")

    def _header(self, query: WindowQuery) -> dict[str, Any]:
        fixed = query.reference_start_ns is not None
        width = query.width_ns()
        return {
            "name": query.model, "version": query.version, "start_unix_nano": query.start_ns,
            "end_unix_nano": query.end_ns, "step_seconds": query.step_s, "window_nanos": width,
            "reference": {
                "kind": "fixed" if fixed else "preceding",
                "start_unix_nano": query.reference_start_ns if fixed else query.start_ns - width,
                "end_unix_nano": query.reference_end_ns if fixed else query.start_ns - 1,
            },
        }

    def _windows(self, query: WindowQuery, found: list[dict[str, Any]]) -> list[dict[str, Any]]:
        width = query.width_ns()
        for window in found:
            start = query.start_ns + window["window"] * width
            window.update(start_unix_nano=start, end_unix_nano=min(start + width - 1, query.end_ns))
        return found

    def data_quality(self, query: WindowQuery) -> dict[str, Any]:
        """Per window and feature: missing rate, types, appeared/vanished, share outside the
        reference range, new categories, and the issues raised (`analyze.data_quality`)."""
        self._check(query)
        counts = self._store.feature_quality(query)
        found = data_quality.data_quality(counts, query.windows(), query.reference_start_ns is not None)
        return {**self._header(query), "windows": self._windows(query, found)}

    def explanations(self, query: WindowQuery) -> dict[str, Any]:
        """Per window: global importance (mean |attribution|) per feature and its drift."""
        self._check(query)
        stats = self._store.attribution_stats(query)
        samples = self._store.attribution_samples(query, len(stats))
        found = explanations.explanations(stats, samples, query.windows(), query.reference_start_ns is not None)
        return {**self._header(query), "windows": self._windows(query, found)}

    def compare(self, model: str, a: str, b: str, start_ns: int, end_ns: int) -> dict[str, Any]:
        """Versions `a` and `b` side by side over one range, each difference tested."""
        if not a or not b or a == b:
            raise InvalidQuery("give two different versions a and b")
        check_time_range(start_ns, end_ns)
        self._exists(model, a)
        self._exists(model, b)
        summary = self._store.version_summary(model, [a, b], start_ns, end_ns)
        # Accuracy only for classifiers (predicted labels); a regression's exact-match rate means nothing.
        quality = {
            v: self._store.quality_counts(QualityQuery(model, v, start_ns, end_ns, 0, CLASSIFICATION))
            for v in (a, b)
        } if summary.labels else {}
        return {"name": model, "a": a, "b": b, "start_unix_nano": start_ns, "end_unix_nano": end_ns,
                **compare.compare(a, b, summary, quality)}
