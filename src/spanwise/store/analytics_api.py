"""The storage seam for model analytics beyond inventory, quality and drift: data quality, attribution
aggregates and version-comparison inputs (`ModelAnalyticsReader`, an optional capability)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class WindowQuery:
    """Windows of `step_s` seconds from `start_ns` (0: the whole range is one window),
    each compared with a reference: the fixed range `reference_start_ns`..`reference_end_ns`
    when both are set, else the preceding window of equal length."""

    model: str
    version: str | None
    start_ns: int
    end_ns: int
    step_s: int = 0
    reference_start_ns: int | None = None
    reference_end_ns: int | None = None

    def width_ns(self) -> int:
        return self.step_s * 10**9 if self.step_s > 0 else max(self.end_ns - self.start_ns, 1)

    def windows(self) -> int:
        return max(1, -(-(self.end_ns - self.start_ns) // self.width_ns()))


@runtime_checkable
class ModelAnalyticsReader(Protocol):
    """Optional capability: data quality, attribution and version-comparison aggregates
    over `predictions` (raw rows, like the operational metrics), per window `w` of a
    `WindowQuery` (w = -1 is the reference). Small results only; samples are bounded and
    drawn in the store by a hash of the prediction id. Thread-safe."""

    def feature_quality(self, query: WindowQuery) -> dict[str, list[dict[str, Any]]]:
        """`totals` (w, n), `presence` (w, name, present, numeric, strings), `ranges`
        (w >= 0, name, vmin, vmax, has_reference, reference_min/max, outside: values outside
        the reference window's [min, max]) and `categories` (w >= 0, name, categories,
        new_categories, new_rows, new_values: up to 20 values unseen in the reference)."""
        ...

    def attribution_stats(self, query: WindowQuery) -> list[dict[str, Any]]:
        """(w, name, n, mean_abs, mean) of attribution values per window and feature."""
        ...

    def attribution_samples(self, query: WindowQuery, groups: int) -> dict[tuple[int, str], Any]:
        """(w, name) -> numpy array of attribution values: at most 10,000 per group and
        100,000 in all (`groups` is how many (w, name) groups there are)."""
        ...

    def version_summary(self, model: str, versions: list[str], start_ns: int, end_ns: int) -> dict[str, Any]:
        """For two versions: `totals` (version, n, errors, q: approximate latency p50/p95/p99
        in ns), `labels` (version, label, n) and `samples` (Arrow: version, Duration,
        PredictionValue, Confidence; at most 10,000 rows per version)."""
        ...
