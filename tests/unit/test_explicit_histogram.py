"""Quantiles of explicit-bucket histograms (spanwise.core.explicit_histogram), as Prometheus'
`histogram_quantile` gives them: linear inside the bucket holding the rank, the +Inf bucket
answering the highest finite bound; and the edges: no observations, one bucket."""

from __future__ import annotations

import pytest

from spanwise.core.explicit_histogram import histogram_quantile

INF = float("inf")


def test_a_quantile_is_interpolated_linearly_inside_its_bucket() -> None:
    buckets = [(5.0, 2), (10.0, 5), (25.0, 3), (INF, 0)]
    # rank 0.5 * 10 = 5: 3 of the 5 in (5, 10]
    assert histogram_quantile(0.5, buckets) == pytest.approx(5.0 + 5.0 * 3 / 5)
    # rank 9.5: 2.5 of the 3 in (10, 25]
    assert histogram_quantile(0.95, buckets) == pytest.approx(10.0 + 15.0 * 2.5 / 3)
    # the first bucket starts at 0
    assert histogram_quantile(0.1, buckets) == pytest.approx(5.0 * 1 / 2)


def test_empty_buckets_below_the_rank_move_the_lower_bound() -> None:
    assert histogram_quantile(0.5, [(5.0, 0), (10.0, 0), (25.0, 4), (INF, 0)]) == pytest.approx(17.5)


def test_a_quantile_in_the_inf_bucket_is_the_highest_finite_bound() -> None:
    assert histogram_quantile(0.99, [(1.0, 0), (100.0, 0), (INF, 4)]) == 100.0
    assert histogram_quantile(0.99, [(1.0, 1), (100.0, 1), (INF, 98)]) == 100.0


def test_one_bucket_spans_zero_to_its_bound() -> None:
    assert histogram_quantile(0.5, [(8.0, 4)]) == pytest.approx(4.0)
    assert histogram_quantile(1.0, [(8.0, 4)]) == pytest.approx(8.0)


def test_only_an_inf_bucket_or_no_observations_answer_the_lowest_bound_known() -> None:
    """Nothing to interpolate in: callers with no observations show no quantile at all."""
    assert histogram_quantile(0.5, [(INF, 3)]) == 0.0
    assert histogram_quantile(0.5, [(1.0, 0), (INF, 0)]) == 1.0
    assert histogram_quantile(0.5, []) == 0.0
