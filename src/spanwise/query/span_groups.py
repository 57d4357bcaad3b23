"""Span metrics over a window, grouped by any of their labels: service, operation, span
kind, or a configured dimension (`metrics.dimensions`). Alert rules read this.

It reads the per-minute span metrics (built from every span before sampling, so counts
are exact), so a window covers the whole minutes it touches, as RED summaries do.
Percentiles come from the merged duration histograms (`histogram_quantile`). Labels are
named as on `/metrics`: a dimension by its label name (`deployment.environment` ->
`deployment_environment`), a span kind as `SPAN_KIND_SERVER`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from spanwise.errors import InvalidQuery
from spanwise.core.alert_rules import SPAN_GROUP_LABELS, attribute_key
from spanwise.core.explicit_histogram import histogram_quantile
from spanwise.core.metrics import label_name
from spanwise.store.protocols import MetricsReader, SpanMetrics

_MINUTE_NS = 60 * 10**9
Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SpanGroup:
    """One group's calls, errors and duration histogram (milliseconds) over the window."""

    labels: Labels
    calls: int
    errors: int
    buckets: tuple[tuple[float, int], ...]

    def quantile_ms(self, q: float) -> float:
        return histogram_quantile(q, list(self.buckets)) if self.calls else 0.0


def touched_minutes(start_ns: int, end_ns: int) -> tuple[int, int, int]:
    """The per-minute series' read of a window: from the start of its first minute to the
    end of its last, in one step (at most two per series, where steps start at multiples
    of it): (lo_ns, hi_ns, step_s)."""
    lo, hi = start_ns - start_ns % _MINUTE_NS, end_ns - end_ns % _MINUTE_NS + _MINUTE_NS - 1
    return lo, hi, max(60, -(-(hi - lo) // _MINUTE_NS) * 60)


class SpanGroupQueries:
    """Grouped span metrics from a `MetricsReader`, knowing the configured dimensions."""

    def __init__(self, reader: MetricsReader, dimensions: tuple[str, ...]) -> None:
        self._reader = reader
        self.dimensions = dimensions

    def groups(self, start_ns: int, end_ns: int, group_by: tuple[str, ...], service: str = "",
               operation: str = "") -> list[SpanGroup]:
        """One group per combination of `group_by` values among the spans of `service`
        (and `operation`) in the minutes [start, end] touches, sorted by labels."""
        return self.group(self.read(start_ns, end_ns, service), group_by, operation)

    def read(self, start_ns: int, end_ns: int, service: str = "") -> list[SpanMetrics]:
        """The window's span series (one read serves every grouping of it)."""
        return self._reader.span_metrics(*touched_minutes(start_ns, end_ns), service or None)

    def group(self, series: list[SpanMetrics], group_by: tuple[str, ...], operation: str = "") -> list[SpanGroup]:
        """`series` summed per combination of `group_by` values."""
        getters = [self._getter(name) for name in group_by]
        names = [name if name in SPAN_GROUP_LABELS else label_name(attribute_key(name, self.dimensions))
                 for name in group_by]
        found: dict[Labels, tuple[int, dict[float, int]]] = {}
        for one in series:
            if operation and one.span_name != operation:
                continue
            labels = tuple(sorted(zip(names, (get(one) for get in getters))))
            errors, buckets = found.get(labels, (0, {}))
            for bound, n in one.duration_ms.buckets:
                buckets[bound] = buckets.get(bound, 0) + n
            found[labels] = (errors + (one.duration_ms.count if one.status_code == "Error" else 0), buckets)
        return [SpanGroup(labels, sum(buckets.values()), errors, tuple(sorted(buckets.items())))
                for labels, (errors, buckets) in sorted(found.items())]

    def _getter(self, name: str) -> Callable[[SpanMetrics], str]:
        if name == "service":
            return lambda s: s.service
        if name == "operation":
            return lambda s: s.span_name
        if name == "span_kind":
            return lambda s: "SPAN_KIND_" + s.span_kind.upper()
        key = attribute_key(name, self.dimensions)
        if not key:
            raise InvalidQuery(f"group_by: {name!r} is neither {', '.join(SPAN_GROUP_LABELS)} nor a configured "
                               "span-metric dimension")
        return lambda s: dict(s.dimensions).get(key, "")
