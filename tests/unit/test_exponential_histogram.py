"""Quantiles of exponential histogram buckets (spanwise.core.exponential_histogram): the
estimate lies in the bucket holding the rank, so within the documented relative error of
the true value; negative buckets, the zero bucket and float64's edges."""

from __future__ import annotations

import math
import random
import sys

import pytest

from spanwise.core.exponential_histogram import quantile, relative_error


def _buckets(values: list[float], scale: int) -> tuple[int, dict[int, int], dict[int, int]]:
    """Values into (zero count, positive, negative) buckets the way SDKs map them: the
    index of |v| is ceil(log2|v| * 2^scale) - 1 (upper bounds inclusive)."""
    zero, positive, negative = 0, dict[int, int](), dict[int, int]()
    for v in values:
        if v == 0:
            zero += 1
            continue
        index = math.ceil(math.log2(abs(v)) * 2**scale) - 1
        side = positive if v > 0 else negative
        side[index] = side.get(index, 0) + 1
    return zero, positive, negative


@pytest.mark.parametrize("scale", [0, 3, 8])
def test_quantiles_are_within_the_relative_error_of_the_scale(scale: int) -> None:
    rng = random.Random(scale)
    values = sorted(rng.lognormvariate(3, 1.5) for _ in range(2000))
    zero, positive, negative = _buckets(values, scale)
    for q in (0.01, 0.5, 0.9, 0.99):
        true = values[math.ceil(q * len(values)) - 1]
        estimate = quantile(q, scale, zero, positive, negative)
        assert estimate is not None
        assert abs(estimate - true) / true <= relative_error(scale), (q, estimate, true)
    assert relative_error(3) == pytest.approx(0.0905, abs=1e-4) and relative_error(8) == pytest.approx(0.0027, abs=1e-4)


def test_negative_and_zero_buckets_order_below_the_positive_ones() -> None:
    values = [-8.0, -8.0, 0.0, 0.0, 3.0, 5.0]
    zero, positive, negative = _buckets(values, 0)
    assert quantile(0.0, 0, zero, positive, negative) == -8.0  # the most negative bucket's far end
    assert quantile(0.5, 0, zero, positive, negative) == 0.0
    highest = quantile(1.0, 0, zero, positive, negative)
    assert highest is not None and 4.0 < highest <= 8.0
    assert quantile(0.5, 0, 0, {}, {}) is None, "no observations, no quantile"


def test_buckets_at_float64s_edges_saturate_instead_of_overflowing() -> None:
    assert quantile(1.0, -10, 0, {1: 1}, {}) == sys.float_info.max  # 2^2048
    assert quantile(0.5, -10, 0, {}, {-2: 1}) == 0.0  # -2^-1536 underflows to -0.0
