"""Scheduled model signals: drift, data quality and quality, stored as time series.

Every `interval_s` (per model, from config) the scheduler computes, for each version of
each model, the last `window_s` against its reference (the version's baseline if one is
set, else the preceding window of equal length) and stores one row per signal and
feature in `model_signals`: `drift` (the effect size of the default `auto` rule, Wasserstein
/ std or Jensen-Shannon distance; flagged when the report flags the feature: significant at
the window's size after Benjamini-Hochberg across the model's features, and large enough),
`missing_rate` (flagged when data quality raised any issue for the feature) and, where
labels exist, `accuracy` / `mae` and `label_coverage` (not flagged); for classifiers with
scores, `estimated_accuracy`, `estimated_f1`, `estimated_roc_auc` (CBPE, no labels needed)
and `estimate_trustworthy` (1 or 0, from the calibration check on the window's labelled
predictions). Dashboards and alert rules read these
rows instead of recomputing; `compute_now` does the same on demand.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import pyarrow as pa

from spanwise.analyze.drift import DriftService
from spanwise.analyze.model_analytics import ModelAnalyticsService
from spanwise.analyze.models import ModelService
from spanwise.analyze.performance_estimation import PerformanceEstimationService
from spanwise.config import ModelsConfig
from spanwise.core.ml_tasks import CLASSIFICATION
from spanwise.errors import SpanwiseError
from spanwise.periodic import PeriodicWorker
from spanwise.request_context import DEFAULT_PROJECT, RequestContext, acting, current, for_project
from spanwise.store.protocols import WindowQuery
from spanwise.store.protocols import QualityQuery, ModelSignalStore
from spanwise.store.protocols import ScoreQuery
from spanwise.store.clickhouse.model_signals import SIGNAL_SCHEMA

log = logging.getLogger(__name__)
TICK_S = 1.0


@dataclass
class _Row:
    signal: str
    feature: str
    value: float | None
    flagged: bool


class ModelSignalService:
    """Computes one model's signals for one window with the on-demand services."""

    def __init__(self, models: ModelService, drift: DriftService, analytics: ModelAnalyticsService,
                 store: ModelSignalStore, estimator: PerformanceEstimationService | None = None) -> None:
        self._models, self._drift, self._analytics, self._store = models, drift, analytics, store
        self._estimator = estimator

    def read_signals(self, model: str, start_ns: int, end_ns: int, signal: str | None = None,
                     feature: str | None = None, limit: int = 10_000) -> pa.Table:
        """Stored signal rows of a model whose window ended in [start, end], oldest first."""
        return self._store.read_signals(model, start_ns, end_ns, signal, feature, limit)

    def compute(self, model: str, end_ns: int, window_s: float, task: str = CLASSIFICATION) -> int:
        """Store the signals of every version of `model` for (end - window, end]; rows written."""
        start_ns = end_ns - int(window_s * 1e9)
        rows: list[dict[str, Any]] = []
        for version in [v.version for v in self._models.model(model).versions]:
            for row in self._version_rows(model, version, start_ns, end_ns, task):
                rows.append({"ComputedAt": time.time_ns() // 10**6, "WindowStart": start_ns, "WindowEnd": end_ns,
                             "ModelName": model, "ModelVersion": version, "Signal": row.signal,
                             "Feature": row.feature, "Value": row.value, "Flagged": row.flagged})
        if rows:
            self._store.write_signals(pa.Table.from_pylist(rows, schema=SIGNAL_SCHEMA))
        return len(rows)

    def _version_rows(self, model: str, version: str, start_ns: int, end_ns: int, task: str) -> list[_Row]:
        rows: list[_Row] = []
        for name, compute in (("drift", self._drift_rows), ("data quality", self._quality_rows),
                              ("quality", self._label_rows), ("estimated quality", self._estimate_rows)):
            try:
                rows += compute(model, version, start_ns, end_ns, task)
            except SpanwiseError as exc:  # e.g. no predictions in a window: nothing to store
                log.debug("no %s signal for %s/%s: %s", name, model, version, exc)
        return rows

    def _drift_rows(self, model: str, version: str, start_ns: int, end_ns: int, task: str) -> list[_Row]:
        found = self._drift.drift(model, version, start_ns, end_ns)
        return [_Row("drift", f.feature, f.value, f.drifted) for f in found.features + found.predictions]

    def _quality_rows(self, model: str, version: str, start_ns: int, end_ns: int, task: str) -> list[_Row]:
        found = self._analytics.data_quality(WindowQuery(model, version, start_ns, end_ns))
        if not found.windows:
            return []
        return [_Row("missing_rate", f.name, f.missing_rate, bool(f.issues)) for f in found.windows[-1].features]

    def _label_rows(self, model: str, version: str, start_ns: int, end_ns: int, task: str) -> list[_Row]:
        found = self._models.quality(QualityQuery(model, version, start_ns, end_ns, 0, task))
        rows = []
        for window in found.windows:
            for metric, value in (("accuracy", window.accuracy), ("mae", window.mae),
                                  ("label_coverage", window.label_coverage)):
                if value is not None:
                    rows.append(_Row(metric, "", float(value), False))
        return rows


    def _estimate_rows(self, model: str, version: str, start_ns: int, end_ns: int, task: str) -> list[_Row]:
        if self._estimator is None or task != CLASSIFICATION:
            return []
        found = self._estimator.estimated_quality(ScoreQuery(model, version, start_ns, end_ns, 0, ""))
        rows = [_Row("estimate_trustworthy", "", float(found.calibration.trustworthy), False)]
        for window in found.windows:
            estimated = window.estimated
            for metric, value in (("accuracy", estimated.accuracy), ("f1", estimated.f1), ("roc_auc", estimated.roc_auc)):
                if value is not None:
                    rows.append(_Row(f"estimated_{metric}", "", float(value), False))
        return rows


#: The least time a scheduled computation gets, whatever its interval.
MIN_DEADLINE_S = 60.0


class ModelSignalScheduler:
    """Background thread running `ModelSignalService` per model on its configured interval."""

    def __init__(self, computer: ModelSignalService, models: ModelService, config: ModelsConfig,
                 projects: Callable[[], list[str]] = lambda: [DEFAULT_PROJECT]) -> None:
        self._computer, self._models, self._config, self._projects = computer, models, config, projects
        self._last_run: dict[tuple[str, str], float] = {}
        self.stats: Counter[str] = Counter()
        self._worker = PeriodicWorker("spanwise-signals", self.tick, TICK_S, self.stats)

    def start(self) -> None:
        if self._config.schedule_interval_s > 0:
            self._worker.start()

    def shutdown(self) -> None:
        self._worker.shutdown()

    def tick(self, now: float | None = None) -> int:
        """Compute every model whose interval has passed since it was last computed (or
        first seen); rows written."""
        now = time.monotonic() if now is None else now
        own = current().project
        written = 0
        for project in [own] if own is not None else self._projects():
            with acting(for_project(project)):
                written += self._tick_project(project, now)
        self.stats["rows_written"] += written
        return written

    def _tick_project(self, project: str, now: float) -> int:
        """One project's due models, computed as that project."""
        written = 0
        for model in [m.name for m in self._models.models()]:
            settings = self._config.per_model.get(model)
            interval = settings.interval_s if settings else self._config.schedule_interval_s
            window = settings.window_s if settings else self._config.window_s
            task = settings.task if settings else CLASSIFICATION
            key = (project, model)
            if key not in self._last_run:
                # First seen (a new model, or at start): its window is still filling, and
                # computing at once put a full drift pass in the middle of its first burst
                # of ingest; the first computation comes one interval later.
                self._last_run[key] = now
                continue
            if interval <= 0 or now - self._last_run[key] < interval:
                continue
            self._last_run[key] = now
            # A computation gets its interval (at least a minute), so a slow model cannot
            # pile runs up, while a short interval on a busy machine still computes.
            deadline = RequestContext(project, "signals", time.monotonic() + max(interval, MIN_DEADLINE_S))
            with acting(deadline):
                written += self._computer.compute(model, time.time_ns(), window, task)
            self.stats["runs"] += 1
        return written
