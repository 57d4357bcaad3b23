"""Drift statistics from profiles, and profiles of uploaded tables, against scipy/numpy."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats
from scipy.spatial import distance

from spanwise.analyze import drift_stats
from spanwise.analyze.drift import profile_of_table
from spanwise.analyze.drift_report import FeatureDrift
from spanwise.analyze.drift_rule import DriftRule, decide
from spanwise.errors import InvalidQuery
from spanwise.serve.drift_json import feature_json
from spanwise.store.profiles import (
    LABEL, PREDICTION, PREDICTION_LABEL, SAMPLE_SIZE, CategoricalProfile, Profile, bin_counts, numeric_profile,
)


def test_psi_uses_epsilon_for_empty_bins() -> None:
    ref, cur = np.array([50, 50, 0]), np.array([25, 25, 50])
    r, c = np.array([0.5, 0.5, 1e-4]), np.array([0.25, 0.25, 0.5])
    assert drift_stats.psi(ref, cur) == pytest.approx(float(np.sum((c - r) * np.log(c / r))), rel=1e-12)
    assert drift_stats.psi(ref, ref) == 0.0


def test_binning_matches_sql_semantics() -> None:
    # A value's bin is the number of inner edges <= value (arrayCount(e -> e <= value, edges)).
    assert bin_counts(np.array([-5.0, 1.0, 1.5, 2.0, 9.0]), (1.0, 2.0)) == (1, 2, 2)
    assert bin_counts(np.array([3.0]), ()) == (1,)


def test_numeric_drift_equals_scipy_and_picks_evidently_defaults() -> None:
    rng = np.random.default_rng(1)
    ref_values, cur_values = rng.normal(0, 1, 500), rng.normal(0.5, 1, 700)
    ref = numeric_profile(ref_values, 0)
    cur_counts = bin_counts(cur_values, ref.edges)
    cur = numeric_profile(cur_values, 0)
    cur = type(cur)(ref.edges, cur_counts, cur.count, 0, cur.minimum, cur.maximum, cur.sample)
    results, method = drift_stats.numeric_drift(ref, cur)
    assert method == "ks" and results["ks"].drifted
    ks = stats.ks_2samp(ref_values, cur_values)
    assert results["ks"].value == pytest.approx(ks.pvalue, rel=1e-9)
    assert results["wasserstein"].value == pytest.approx(
        stats.wasserstein_distance(ref_values, cur_values) / np.std(ref_values), rel=1e-9)
    assert results["jensenshannon"].value == pytest.approx(
        distance.jensenshannon(np.array(ref.counts) / 500, np.array(cur_counts) / 700), rel=1e-9)
    big = numeric_profile(rng.normal(0, 1, 5000), 0)
    assert drift_stats.numeric_drift(big, big)[1] == "wasserstein"
    assert len(numeric_profile(rng.normal(0, 1, SAMPLE_SIZE + 5), 0).sample) == SAMPLE_SIZE


def test_categorical_drift_with_new_category() -> None:
    ref = CategoricalProfile((("a", 60), ("b", 40)))
    cur = CategoricalProfile((("a", 30), ("b", 30), ("c", 40)))
    results, method = drift_stats.categorical_drift(ref, cur)
    chi = stats.chi2_contingency(np.array([[60, 40, 0], [30, 30, 40]]))
    assert method == "chi2" and results["chi2"].value == pytest.approx(chi.pvalue, rel=1e-9) and results["chi2"].drifted
    one = CategoricalProfile((("a", 10),))
    assert drift_stats.categorical_drift(one, one)[0]["chi2"].drifted is False


def test_profile_of_table() -> None:
    table = pa.table({
        "ml.feature.amount": pa.array([1.0, 2.0, None, 4.0]), "plan": ["a", "b", "a", None],
        "prediction": [0.1, 0.2, 0.3, 0.4], "label": [1, 0, 1, 1],
    })
    profile = profile_of_table(table)
    assert profile.numeric["amount"].count == 3 and profile.numeric["amount"].missing == 1
    assert dict(profile.categorical["plan"].counts) == {"a": 2, "b": 1}
    assert PREDICTION in profile.numeric and dict(profile.categorical[LABEL].counts) == {"1": 3, "0": 1}
    labels = profile_of_table(pa.table({"prediction": ["yes", "no"]}))
    assert PREDICTION_LABEL in labels.categorical
    assert Profile.from_json(profile.to_json()) == profile
    with pytest.raises(InvalidQuery):
        profile_of_table(pa.table({"a": pa.array([], pa.float64())}))


def test_decide_returns_decisions_and_the_edge_renders_them() -> None:
    """`decide` leaves the features as they were; a fixed method with the request's own
    threshold is re-judged at it, and the JSON shows that threshold and the reason."""
    ref, cur = CategoricalProfile((("a", 60), ("b", 40))), CategoricalProfile((("a", 30), ("b", 30), ("c", 40)))
    results, _ = drift_stats.categorical_drift(ref, cur)
    tested = FeatureDrift("plan", "categorical", ref, cur, results, drift_stats.categorical_auto(ref, cur, results),
                          new_categories=("c",))
    missing = FeatureDrift("gone", "numeric", None, None, note="missing on one side")
    rule = DriftRule(per_feature={"plan": ("psi", 100.0)})
    decisions = decide([tested, missing], rule)
    assert set(decisions) == {"plan"} and tested.decision is None
    psi = decisions["plan"]
    assert psi.method == "psi" and psi.threshold == 100.0 and psi.method_drifted is False and not psi.drifted
    assert psi.reason.startswith("psi ") and psi.reason.endswith("≤ 100 (fixed threshold)")
    found = feature_json(replace(tested, decision=psi, drifted=psi.drifted), rule)
    assert found["methods"]["psi"] == {"value": results["psi"].value, "threshold": 100.0, "drifted": False,
                                       "reason": psi.reason}
    assert "auto" not in found["methods"] and found["new_categories"] == ["c"] and found["method"] == "psi"
    auto = decide([tested], DriftRule())["plan"]
    assert auto.method == "auto" and auto.drifted and auto.q_value is not None
    assert decide([tested], DriftRule(method="ks"))["plan"].reason == "ks does not apply to a categorical feature"
