"""The quantile of a histogram of explicit bucket bounds: OTLP's default histograms and the
span metrics' duration histograms, for series, latency figures and alert rules alike.

A bucket counts the values in (previous bound, its bound]; the first bucket's lower bound
is taken as 0, the last bucket's upper bound is +Inf. A quantile is the bucket holding its
rank, interpolated linearly inside it as Prometheus' `histogram_quantile` does: exact to
the bucket, off by at most its width. A quantile in the +Inf bucket has no upper bound to
interpolate to, so it is the highest finite bound, as in Prometheus.
"""

from __future__ import annotations


def histogram_quantile(q: float, buckets: list[tuple[float, int]]) -> float:
    """The q-quantile of a histogram of (inclusive upper bound, count) sorted by bound,
    interpolated linearly inside its bucket like Prometheus' `histogram_quantile`; a
    quantile in the +Inf bucket is the highest finite bound."""
    total = sum(n for _, n in buckets)
    rank, seen, lower = q * total, 0, 0.0
    for upper, n in buckets:
        if n and seen + n >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - seen) / n
        seen += n
        if upper != float("inf"):
            lower = upper
    return lower
