"""The bucket arithmetic of OTLP exponential histograms, shared by the decoder's validity
checks and the quantiles read from stored points.

A point of scale s has the base b = 2^(2^-s): its positive bucket of index i counts the
values in (b^i, b^(i+1)], its negative bucket i the values in [-b^(i+1), -b^i), and its
zero bucket the values at (or within the zero threshold of) 0. Lowering the scale by one
merges each pair of neighbouring buckets (index i becomes i >> 1, rounding down), so
points of different scales merge exactly at the lowest of their scales.

A quantile is estimated in the merged bucket that holds its rank, interpolated
log-linearly (the bucket's bounds are powers of b, so the estimate moves by equal factors
as the rank moves through the bucket). Whatever the values inside that bucket, the true
quantile lies in it too, so the estimate's relative error is at most b - 1
(`relative_error`): 9.1% at scale 3, 4.4% at scale 4, 0.27% at scale 8. SDKs pick the
highest scale at which a series' range fits their bucket budget (160 by default), e.g.
scale 4 for values spanning 1 to 1000.
"""

from __future__ import annotations

import sys
from bisect import bisect_left
from itertools import accumulate

#: The scales OTLP defines (the data model's [-10, 20]).
MIN_SCALE, MAX_SCALE = -10, 20
#: More than the |log2| of any finite float64 (2^1024 overflows, 2^-1074 is the smallest
#: subnormal): a bucket of index beyond LOG2_RANGE * 2^scale either way holds no float64
#: value, so a point claiming one is not a histogram of real values.
LOG2_RANGE = 1100


def relative_error(scale: int) -> float:
    """The most a quantile estimated at `scale` can be off, relative to the true value."""
    return float(2.0 ** (2.0**-scale) - 1.0)


def quantile(q: float, scale: int, zero_count: int, positive: dict[int, int], negative: dict[int, int]) -> float | None:
    """The q-quantile of buckets of one `scale` (bucket index -> observations; negative
    buckets by the index of |value|), interpolated log-linearly in the bucket holding rank
    q * count (the zero bucket answers 0); None without observations."""
    buckets = [(sign, index, n) for sign, index, n in (
        [(-1, i, n) for i, n in sorted(negative.items(), reverse=True)] + [(0, 0, zero_count)]
        + [(1, i, n) for i, n in sorted(positive.items())]) if n > 0]
    if not buckets:
        return None
    seen = list(accumulate(n for _, _, n in buckets))
    rank = q * seen[-1]
    at = min(bisect_left(seen, rank), len(buckets) - 1)
    sign, index, n = buckets[at]
    fraction = (rank - (seen[at] - n)) / n
    # positive buckets run from b^i up to b^(i+1), negative ones from -b^(i+1) up to -b^i
    return 0.0 if sign == 0 else sign * _power_of_base(index + (fraction if sign > 0 else 1 - fraction), scale)


def _power_of_base(exponent: float, scale: int) -> float:
    """b^exponent = 2^(exponent * 2^-scale), saturating at float64's largest value."""
    power = exponent * 2.0**-scale
    return float(2.0**power) if power < 1024 else sys.float_info.max
