"""Data quality, aggregated explanations and version comparison on every backend, on data
with known injected changes (tests/support/analytics_data.py): each change is found on
the right feature, window and version, nothing else is flagged, and every test statistic
equals scipy's on the same rows. Runs against every backend in tests/contract/conftest.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from analytics_data import END_NS, MINUTE, START_NS, export_request, fraud_predictions, in_window
from model_data import Prediction
from scipy import stats

from spanwise.analyze.compare import accuracy_comparison
from spanwise.analyze.model_analytics import DataQualityReport, ModelAnalyticsService, ReferenceRange
from spanwise.analyze.stat_tests import chi_squared
from spanwise.errors import InvalidQuery, NotFound
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.store import Store
from spanwise.store.protocols import (
    VERSION_SAMPLES_SCHEMA, AttributionStats, FeatureCategories, FeaturePresence, FeatureRange, ModelAnalyticsReader,
    PredictedLabelCount, QualityCounts, VersionTotals, WindowQuery,
)

PROTOCOLS = (ModelAnalyticsReader,)
#: (window, feature) -> issues the injected changes must raise; every other pair raises none.
EXPECTED_ISSUES = {
    (1, "age"): ["missing"],
    (1, "country"): ["new_categories"],
    (1, "legacy"): ["vanished"],
    (2, "device"): ["appeared"],
    (2, "score_in"): ["out_of_range"],
    (2, "zip"): ["type_change"],
}


@pytest.fixture(scope="module")
def service(store: Store) -> ModelAnalyticsService:
    store.write_spans(MlFieldsProcessor().process(decode_export_requests([export_request(ROWS)]).batch).spans)
    return ModelAnalyticsService(store)


ROWS: list[Prediction] = fraud_predictions()


def _issues(report: DataQualityReport) -> dict[tuple[int, str], list[str]]:
    return {(w.window, f.name): list(f.issues) for w in report.windows for f in w.features if f.issues}


def test_the_store_counts_feature_quality_per_window(service: ModelAnalyticsService, store: Store) -> None:
    counts = store.feature_quality(WindowQuery("fraud", "v1", START_NS, END_NS, 60))
    assert counts.predictions == {-1: 40, 0: 40, 1: 40, 2: 40}
    assert FeaturePresence(1, "age", 30, 30, 0) in counts.presence
    assert FeaturePresence(2, "zip", 40, 20, 20) in counts.presence
    ranges = {(r.window, r.name): r for r in counts.ranges}
    assert ranges[(2, "score_in")] == FeatureRange(2, "score_in", 1.0, 28.0, 0.0, 19.0, 10)
    assert ranges[(2, "zip")].reference_minimum is None and ranges[(2, "zip")].outside == 0  # strings in window 1
    assert all(r.window >= 0 for r in (*counts.ranges, *counts.categories))
    assert FeatureCategories(1, "country", 4, 1, 4, ("BR",)) in counts.categories
    assert [(r.window, r.name) for r in counts.presence] == sorted((r.window, r.name) for r in counts.presence)


def test_the_store_aggregates_attributions_per_window(service: ModelAnalyticsService, store: Store) -> None:
    found = store.attribution_stats(WindowQuery("fraud", "v1", START_NS, END_NS, 60))
    assert [(r.window, r.name) for r in found] == [(w, name) for w in (-1, 0, 1, 2) for name in ("age", "amount")]
    age = [p.attributes["ml.explanation.age"] for p in in_window(ROWS, "v1", 2)]
    got = found[6]
    assert got == AttributionStats(2, "age", 40, pytest.approx(np.mean(np.abs(age))), pytest.approx(np.mean(age)))


def test_the_store_summarizes_two_versions(service: ModelAnalyticsService, store: Store) -> None:
    found = store.version_summary("fraud", ["v1", "v2"], START_NS - MINUTE, END_NS)
    assert [(t.version, t.predictions, t.errors) for t in found.totals] == [("v1", 160, 16), ("v2", 160, 16)]
    assert all(isinstance(t, VersionTotals) and t.p50_ns is not None for t in found.totals)
    assert found.labels[:2] == (PredictedLabelCount("v1", "ok", 128), PredictedLabelCount("v1", "fraud", 32))
    assert found.samples.schema.equals(VERSION_SAMPLES_SCHEMA) and found.samples.num_rows == 320
    nothing = store.version_summary("fraud", ["v1", "v2"], 1, 1000)
    assert (nothing.totals, nothing.labels, nothing.samples.num_rows) == ((), (), 0)
    assert nothing.samples.schema.equals(VERSION_SAMPLES_SCHEMA)


def test_data_quality_finds_each_injected_change_and_nothing_else(service: ModelAnalyticsService) -> None:
    report = service.data_quality(WindowQuery("fraud", "v1", START_NS, END_NS, 60))
    assert [w.window for w in report.windows] == [0, 1, 2]
    assert [w.predictions for w in report.windows] == [40, 40, 40]
    assert report.windows[0].start_ns == START_NS and report.period.reference.kind == "preceding"
    assert _issues(report) == EXPECTED_ISSUES
    features = {(w.window, f.name): f for w in report.windows for f in w.features}
    assert features[(1, "age")].missing_rate == 10 / 40 and features[(1, "age")].reference_missing_rate == 0
    assert features[(2, "score_in")].outside_reference_range == 10 / 40
    assert (features[(2, "score_in")].reference_minimum, features[(2, "score_in")].reference_maximum) == (0.0, 19.0)
    assert features[(2, "zip")].kind == "mixed" and (features[(2, "zip")].numeric, features[(2, "zip")].strings) == (20, 20)
    assert features[(1, "country")].new_categories == ("BR",) and features[(1, "country")].new_category_rows == 4
    assert features[(1, "legacy")].missing_rate == 1.0 and features[(0, "device")].issues == ()
    assert report.windows[1].issue_count == 3 and report.windows[2].end_ns == END_NS


def test_data_quality_against_a_fixed_reference(service: ModelAnalyticsService) -> None:
    report = service.data_quality(WindowQuery("fraud", "v1", START_NS, END_NS, 60, START_NS - MINUTE, START_NS - 1))
    assert report.period.reference == ReferenceRange("fixed", START_NS - MINUTE, START_NS - 1)
    expected = dict(EXPECTED_ISSUES)
    expected[(2, "legacy")] = ["vanished"]  # absent in window 2 as well, and present in the reference
    assert _issues(report) == expected
    whole = service.data_quality(WindowQuery("fraud", "v1", START_NS, END_NS))  # one window vs the 3 minutes before
    assert [w.predictions for w in whole.windows] == [120] and whole.windows[0].reference_predictions == 40


def test_explanations_importance_and_drift_equal_scipy(service: ModelAnalyticsService) -> None:
    report = service.explanations(WindowQuery("fraud", "v1", START_NS, END_NS, 60))
    windows = {w.window: {f.name: f for f in w.features} for w in report.windows}
    assert sorted(windows) == [0, 1, 2]
    drifted = {(w, name) for w, features in windows.items() for name, f in features.items() if f.drifted}
    assert drifted == {(2, "age")}
    for w in (0, 1, 2):
        for name in ("age", "amount"):
            here = [p.attributes[f"ml.explanation.{name}"] for p in in_window(ROWS, "v1", w)]
            there = [p.attributes[f"ml.explanation.{name}"] for p in in_window(ROWS, "v1", w - 1)]
            got = windows[w][name]
            assert got.mean_abs_attribution == pytest.approx(np.mean(np.abs(here)), rel=1e-12)
            assert got.importance_change == pytest.approx(np.mean(np.abs(here)) - np.mean(np.abs(there)), abs=1e-12)
            want = stats.ks_2samp(there, here)
            assert got.drift is not None and got.drift.statistic == pytest.approx(want.statistic, rel=1e-12)
            assert got.drift.p_value == pytest.approx(want.pvalue, rel=1e-9)
    assert [f.name for f in report.windows[2].features] == ["amount", "age"]  # by mean |attribution|
    assert windows[2]["age"].relative_importance_change == pytest.approx(2.0)


def test_compare_flags_the_slower_version_only_and_equals_scipy(service: ModelAnalyticsService) -> None:
    found = service.compare("fraud", "v1", "v2", START_NS - MINUTE, END_NS)
    a, b = [p for p in ROWS if p.version == "v1"], [p for p in ROWS if p.version == "v2"]
    assert (found.predictions_a, found.predictions_b) == (160, 160)
    ms = {v: [round(p.duration_ms * 10**6) / 1e6 for p in rows] for v, rows in (("a", a), ("b", b))}
    want = stats.mannwhitneyu(ms["a"], ms["b"], alternative="two-sided")
    assert found.latency.statistic == pytest.approx(want.statistic) and found.latency.significant
    assert found.latency.p_value == pytest.approx(want.pvalue, rel=1e-9)
    for v, latency in (("a", found.latency_a), ("b", found.latency_b)):
        assert latency.p50_ms == pytest.approx(np.percentile(ms[v], 50), rel=0.05)
        assert latency.p99_ms == pytest.approx(np.percentile(ms[v], 99), rel=0.05)
    tests = {"latency": found.latency, "error_rate": found.error_rate.test, "values": found.prediction_values,
             "labels": found.prediction_labels.test, "confidence": found.confidence, "accuracy": found.accuracy.test}
    assert {name for name, test in tests.items() if test.significant} == {"latency"}
    errors = [[sum(p.error for p in rows), sum(not p.error for p in rows)] for rows in (a, b)]
    assert found.error_rate.test.p_value == pytest.approx(1.0) and found.error_rate.a == errors[0][0] / 160
    confidence = stats.ks_2samp([p.attributes["ml.prediction.confidence"] for p in a],
                                [p.attributes["ml.prediction.confidence"] for p in b])
    assert (found.confidence.statistic, found.confidence.p_value) == (confidence.statistic, confidence.pvalue)
    assert found.prediction_labels.labels == ("fraud", "ok") and found.prediction_labels.a == (32, 128)
    correct = [sum(p.span_label == p.attributes["ml.prediction.label"] for p in rows) for rows in (a, b)]
    assert found.accuracy.a == correct[0] / 160 and (found.accuracy.test.n_a, found.accuracy.test.n_b) == (160, 160)


def test_accuracy_and_label_tests_equal_scipy_when_versions_differ() -> None:
    """The quality part of a comparison on confusion counts where the versions differ."""
    a = [QualityCounts(0, "v1", 100, 90, confusion=(("no", "no", 50), ("yes", "yes", 30), ("yes", "no", 10)))]
    b = [QualityCounts(0, "v2", 100, 80, confusion=(("no", "no", 30), ("yes", "yes", 20), ("yes", "no", 30)))]
    got = accuracy_comparison(a, b)
    want = stats.chi2_contingency([[80, 10], [50, 30]], correction=False)
    assert (got.test.statistic, got.test.p_value) == (pytest.approx(want.statistic), pytest.approx(want.pvalue))
    assert got.test.significant and got.difference == pytest.approx(50 / 80 - 80 / 90)
    labels = chi_squared([5, 0, 7], [3, 0, 12])  # the empty column is dropped
    want = stats.chi2_contingency([[5, 7], [3, 12]], correction=False)
    assert labels.statistic == pytest.approx(want.statistic) and labels.p_value == pytest.approx(want.pvalue)


def test_bad_queries(service: ModelAnalyticsService) -> None:
    with pytest.raises(NotFound):
        service.compare("fraud", "v1", "v9", START_NS, END_NS)
    with pytest.raises(NotFound):
        service.data_quality(WindowQuery("nope", None, START_NS, END_NS, 60))
    with pytest.raises(InvalidQuery):
        service.compare("fraud", "v1", "v1", START_NS, END_NS)
    with pytest.raises(InvalidQuery):
        service.explanations(WindowQuery("fraud", None, START_NS, END_NS, 60, START_NS))
    with pytest.raises(InvalidQuery):
        service.data_quality(WindowQuery("fraud", None, START_NS, START_NS + 10**13, 1))
