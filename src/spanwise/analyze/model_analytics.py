"""ModelAnalyticsService: data quality, aggregated explanations and version comparison,
independent of any wire format.

Routes call this; it calls the store's `ModelAnalyticsReader` (and `ModelReader` for the
model's existence and per-version quality counts), validates parameters and raises
`InvalidQuery` / `NotFound`. Results are frozen values; `serve.model_analytics_json`
renders them as the API answers, and model signals read their attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from spanwise.analyze import compare, data_quality, explanations
from spanwise.analyze.compare import VersionComparison
from spanwise.analyze.data_quality import DataQualityWindow
from spanwise.analyze.explanations import ExplanationWindow
from spanwise.core.ml_tasks import CLASSIFICATION
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import ModelAnalyticsReader, WindowQuery
from spanwise.store.protocols import ModelReader, QualityQuery

MAX_WINDOWS = 1_000


@dataclass(frozen=True)
class ReferenceRange:
    """What each window is compared with: `fixed` (the range asked for) or `preceding`
    (the window before it; the range is window 0's)."""

    kind: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True)
class AnalysisPeriod:
    """The model (version) and range a windowed analysis covers: windows of `window_ns`
    (`step_s` seconds, 0: the whole range) from `start_ns`, each against `reference`."""

    name: str
    version: str | None
    start_ns: int
    end_ns: int
    step_s: int
    window_ns: int
    reference: ReferenceRange


@dataclass(frozen=True)
class DataQualityReport:
    """Data quality of the period's windows that have predictions."""

    period: AnalysisPeriod
    windows: tuple[DataQualityWindow, ...]


@dataclass(frozen=True)
class ExplanationsReport:
    """Aggregated explanations of the period's windows that have attributions."""

    period: AnalysisPeriod
    windows: tuple[ExplanationWindow, ...]


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

    def _period(self, query: WindowQuery) -> AnalysisPeriod:
        width = query.width_ns()
        if query.reference_start_ns is not None and query.reference_end_ns is not None:
            reference = ReferenceRange("fixed", query.reference_start_ns, query.reference_end_ns)
        else:
            reference = ReferenceRange("preceding", query.start_ns - width, query.start_ns - 1)
        return AnalysisPeriod(query.model, query.version, query.start_ns, query.end_ns, query.step_s, width, reference)

    def data_quality(self, query: WindowQuery) -> DataQualityReport:
        """Per window and feature: missing rate, types, appeared/vanished, share outside the
        reference range, new categories, and the issues raised (`analyze.data_quality`)."""
        self._check(query)
        counts = self._store.feature_quality(query)
        return DataQualityReport(self._period(query), tuple(data_quality.data_quality(counts, query)))

    def explanations(self, query: WindowQuery) -> ExplanationsReport:
        """Per window: global importance (mean |attribution|) per feature and its drift."""
        self._check(query)
        stats = self._store.attribution_stats(query)
        samples = self._store.attribution_samples(query, len(stats))
        return ExplanationsReport(self._period(query), tuple(explanations.explanations(stats, samples, query)))

    def compare(self, model: str, a: str, b: str, start_ns: int, end_ns: int) -> VersionComparison:
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
        return compare.compare(model, a, b, start_ns, end_ns, summary, quality)
