"""Data-quality flags on small windows: `missing` and `out_of_range` raised by chance at
most ~alpha of the time over 200 seeded 30-prediction windows, and still raised for a real
change (binomial bounds, as in test_drift_calibration)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from spanwise.analyze.data_quality import ALPHA, data_quality
from spanwise.store.protocols import FeaturePresence, FeatureQualityCounts, FeatureRange, WindowQuery

WINDOWS, N, N_REF = 200, 30, 10_000
MINUTE = 60 * 10**9
#: WINDOWS one-minute windows against the minute before them, fixed.
QUERY = WindowQuery("x", None, 0, WINDOWS * MINUTE - 1, 60, -MINUTE, -1)


def _counts(rng: np.random.Generator, missing_rate: float, ref_missing_rate: float, outside_rate: float,
            ref_values: int = N_REF) -> FeatureQualityCounts:
    """Windows 0..WINDOWS-1 of N predictions against a fixed reference (window -1)."""
    ref_present = N_REF - rng.binomial(N_REF, ref_missing_rate)
    presence = [FeaturePresence(-1, "x", ref_present, ref_values, 0)]
    ranges = []
    for w in range(WINDOWS):
        present = N - rng.binomial(N, missing_rate)
        presence.append(FeaturePresence(w, "x", present, present, 0))
        ranges.append(FeatureRange(w, "x", 0.0, 1.0, 0.0, 1.0, outside=rng.binomial(present, outside_rate)))
    totals = {-1: N_REF, **{w: N for w in range(WINDOWS)}}
    return FeatureQualityCounts(totals, tuple(presence), tuple(ranges), ())


def _raised(counts: FeatureQualityCounts, issue: str) -> int:
    return sum(issue in w.features[0].issues for w in data_quality(counts, QUERY))


def _max_false_alarms() -> int:
    return int(stats.binom.ppf(0.999, WINDOWS, ALPHA))


def test_missing_is_not_raised_by_chance_on_30_predictions() -> None:
    rng = np.random.default_rng(30)
    counts = _counts(rng, missing_rate=0.1, ref_missing_rate=0.1, outside_rate=0.0)
    # A 5-point tolerance alone flags ~18% of these windows (5 or more missing of 30).
    assert sum(1 - p.present / N > 0.15 for p in counts.presence[1:]) > WINDOWS / 10
    assert _raised(counts, "missing") <= _max_false_alarms()


def test_missing_is_raised_when_it_really_grows() -> None:
    counts = _counts(np.random.default_rng(31), missing_rate=0.4, ref_missing_rate=0.1, outside_rate=0.0)
    assert _raised(counts, "missing") >= int(stats.binom.ppf(0.001, WINDOWS, 0.9))


def test_out_of_range_is_not_raised_by_chance_against_a_small_reference() -> None:
    # Against 100 reference values a new value falls outside their range with p = 2/101.
    counts = _counts(np.random.default_rng(32), 0.0, 0.0, outside_rate=2 / 101, ref_values=100)
    assert _raised(counts, "out_of_range") <= _max_false_alarms()


def test_out_of_range_is_raised_for_a_real_shift() -> None:
    counts = _counts(np.random.default_rng(33), 0.0, 0.0, outside_rate=0.3, ref_values=100)
    assert _raised(counts, "out_of_range") >= int(stats.binom.ppf(0.001, WINDOWS, 0.9))
