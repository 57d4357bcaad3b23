"""LabelledService: concept drift and prediction export, independent of any wire format.

Routes call this; it validates parameters (raising `InvalidQuery` / `NotFound` like
`ModelService`), fills in the default reference window (the preceding window of equal
length) and calls the store's `ConceptDriftReader` / `PredictionExporter` capabilities.
"""

from __future__ import annotations

from typing import Protocol

import pyarrow as pa

from spanwise.analyze.concept_drift import DEFAULT_ALPHA, ConceptDriftReport, concept_drift
from spanwise.analyze.export import LONG, WIDE, flatten_export, long_export
from spanwise.core.ml_tasks import TASKS
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import ModelReader
from spanwise.store.protocols import ConceptDriftReader, ConceptWindows, PredictionExporter

MAX_EXPORT_ROWS = 1_000_000


class LabelledStore(ModelReader, ConceptDriftReader, PredictionExporter, Protocol):
    """What the service needs of a store."""


class LabelledService:
    """Concept drift over labelled predictions and export of predictions with labels."""

    def __init__(self, store: LabelledStore) -> None:
        self._store = store

    def concept_drift(self, windows: ConceptWindows, alpha: float = DEFAULT_ALPHA) -> ConceptDriftReport:
        """Error shift of the current window against the reference, overall and per segment."""
        if windows.task not in TASKS:
            raise InvalidQuery("task must be classification or regression")
        check_time_range(windows.start_ns, windows.end_ns)
        check_time_range(windows.reference_start_ns, windows.reference_end_ns, what="reference range")
        if not 0 < alpha < 1:
            raise InvalidQuery("alpha must be between 0 and 1")
        if windows.min_count < 1:
            raise InvalidQuery("min_count must be positive")
        self._known(windows.model)
        return concept_drift(windows, self._store.error_shift_counts(windows), alpha)

    def export(
        self, model: str, version: str | None, start_ns: int, end_ns: int, limit: int, layout: str = WIDE
    ) -> tuple[pa.Table, bool]:
        """Up to `limit` predictions with labels as flat columns, oldest first, and whether
        more matched (the table was cut at `limit`). `layout` wide has a column per
        feature, score and attribution name (refused past `MAX_WIDE_COLUMNS`), long a row
        per prediction and name (`spanwise.analyze.export`)."""
        if layout not in (WIDE, LONG):
            raise InvalidQuery("layout must be wide or long")
        check_time_range(start_ns, end_ns)
        if not 0 < limit <= MAX_EXPORT_ROWS:
            raise InvalidQuery(f"limit must be between 1 and {MAX_EXPORT_ROWS}")
        self._known(model)
        rows = self._store.export_predictions(model, version, start_ns, end_ns, limit + 1)
        flatten = long_export if layout == LONG else flatten_export
        return flatten(rows.slice(0, limit)), rows.num_rows > limit

    def _known(self, model: str) -> None:
        if not self._store.model_versions(model):
            raise NotFound(f"model {model!r} not found")


def reference_window(start_ns: int, end_ns: int, reference_start: int | None, reference_end: int | None) -> tuple[int, int]:
    """The reference given, else the window of equal length just before the current one."""
    length = end_ns - start_ns
    ref_end = reference_end if reference_end is not None else start_ns
    ref_start = reference_start if reference_start is not None else ref_end - length
    return ref_start, ref_end
