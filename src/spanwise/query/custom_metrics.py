"""Custom metrics (`metrics.counters`, `metrics.histograms`) over a window, one value per
group of their labels: what custom_metric alert rules read.

They are the per-minute series the store builds from every span before sampling (exact
counts), so a window covers the whole minutes it touches, as grouped span metrics do. A
window's value comes from the OTLP rules' aggregations (`CUSTOM_AGGREGATIONS`): a
counter's increase (its per-minute sums added) or rate; a histogram's quantile or mean
from its merged buckets, or its observations per second.
"""

from __future__ import annotations

from spanwise.core.alert_rules import CUSTOM_AGGREGATIONS, attribute_key
from spanwise.core.explicit_histogram import histogram_quantile
from spanwise.core.metrics import COUNTER, CustomMetric
from spanwise.errors import InvalidQuery
from spanwise.query.otlp_metrics import Attributes, MetricGroup
from spanwise.query.span_groups import touched_minutes
from spanwise.store.protocols import CustomMetricSeries, MetricsReader


class CustomMetricQueries:
    """Aggregated custom metrics from a `MetricsReader`, knowing the configured ones."""

    def __init__(self, reader: MetricsReader, metrics: tuple[CustomMetric, ...]) -> None:
        self._reader = reader
        self.metrics = metrics

    def groups(self, name: str, aggregation: str, start_ns: int, end_ns: int, group_by: tuple[str, ...] = (),
               where: Attributes = (), quantile: float = 0.95) -> list[MetricGroup]:
        """One value per combination of `group_by` labels of `name`'s series in the minutes
        [start, end] touches, of series whose labels equal `where`."""
        return self.aggregate(self.read(name, start_ns, end_ns), name, aggregation, (end_ns - start_ns) / 1e9,
                              group_by, where, quantile)

    def read(self, name: str, start_ns: int, end_ns: int) -> list[CustomMetricSeries]:
        """The window's series of one metric (one read serves every grouping of it)."""
        return self._reader.custom_metrics(*touched_minutes(start_ns, end_ns), self.metric(name).name)

    def aggregate(self, series: list[CustomMetricSeries], name: str, aggregation: str, seconds: float,
                  group_by: tuple[str, ...] = (), where: Attributes = (), quantile: float = 0.95) -> list[MetricGroup]:
        """`series` of `name` turned into one value per group (sorted by labels);
        `group_by` and `where` name labels by attribute key or label name."""
        metric = self.metric(name)
        if aggregation not in CUSTOM_AGGREGATIONS[metric.kind]:
            raise InvalidQuery(f"aggregation: {name} is a {metric.kind}, which takes "
                               f"{', '.join(CUSTOM_AGGREGATIONS[metric.kind])}")
        keys = [self._label(metric, label) for label in group_by]
        wanted = {self._label(metric, label): value for label, value in where}
        merged: dict[tuple[str, ...], tuple[dict[float, int], int, float]] = {}
        for one in series:
            labels = dict(one.labels)
            if any(labels.get(key, "") != value for key, value in wanted.items()):
                continue
            group = tuple(labels.get(key, "") for key in keys)
            buckets, count, total = merged.get(group, ({}, 0, 0.0))
            for bound, n in one.values.buckets:
                buckets[bound] = buckets.get(bound, 0) + n
            merged[group] = (buckets, count + one.values.count, total + one.values.total)
        return [MetricGroup(tuple(zip(keys, group)), _value(metric, aggregation, found, seconds, quantile), found[1])
                for group, found in sorted(merged.items())]

    def metric(self, name: str) -> CustomMetric:
        """The configured custom metric `name`."""
        found = next((m for m in self.metrics if m.name == name), None)
        if found is None:
            raise InvalidQuery(f"metric: no custom metric {name!r} is configured")
        return found

    @staticmethod
    def _label(metric: CustomMetric, name: str) -> str:
        key = attribute_key(name, metric.labels)
        if not key:
            raise InvalidQuery(f"{name!r} is not a label of custom metric {metric.name}")
        return key


def _value(metric: CustomMetric, aggregation: str, found: tuple[dict[float, int], int, float], seconds: float,
           quantile: float) -> float:
    """A counter's value is its sum (spans counted, or their values added); a histogram's
    comes from its observations (a group has some: series exist only where spans were)."""
    buckets, count, total = found
    if metric.kind == COUNTER:
        return total / seconds if aggregation == "rate" else total
    if aggregation == "count_rate":
        return count / seconds
    if aggregation == "mean":
        return total / count
    return histogram_quantile(quantile, sorted(buckets.items()))
