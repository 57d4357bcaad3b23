"""JSON of data quality, aggregated explanations and version comparisons, exactly as the
model analytics routes answer (field names of the API, times as `*_unix_nano`), kept
apart from the values so model signals and alert rules read typed attributes and only
this edge knows the wire."""

from __future__ import annotations

from typing import Any

from spanwise.analyze.compare import Latency, VersionComparison
from spanwise.analyze.data_quality import DataQualityWindow, FeatureQuality
from spanwise.analyze.explanations import ExplanationWindow, FeatureAttribution
from spanwise.analyze.model_analytics import AnalysisPeriod, DataQualityReport, ExplanationsReport
from spanwise.analyze.stat_tests import RateDifference, TwoSampleTest

Json = dict[str, Any]


def data_quality_json(r: DataQualityReport) -> Json:
    return {**_period(r.period), "windows": [_quality_window(w) for w in r.windows]}


def explanations_json(r: ExplanationsReport) -> Json:
    return {**_period(r.period), "windows": [_explanation_window(w) for w in r.windows]}


def _period(p: AnalysisPeriod) -> Json:
    return {
        "name": p.name, "version": p.version, "start_unix_nano": p.start_ns, "end_unix_nano": p.end_ns,
        "step_seconds": p.step_s, "window_nanos": p.window_ns,
        "reference": {
            "kind": p.reference.kind, "start_unix_nano": p.reference.start_ns, "end_unix_nano": p.reference.end_ns,
        },
    }


def _quality_window(w: DataQualityWindow) -> Json:
    return {
        "window": w.window, "predictions": w.predictions, "reference_predictions": w.reference_predictions,
        "features": [_feature_quality(f) for f in w.features], "issues": w.issue_count,
        "start_unix_nano": w.start_ns, "end_unix_nano": w.end_ns,
    }


def _feature_quality(f: FeatureQuality) -> Json:
    return {
        "name": f.name, "type": f.kind, "reference_type": f.reference_kind, "present": f.present,
        "numeric": f.numeric, "strings": f.strings, "missing_rate": f.missing_rate,
        "reference_missing_rate": f.reference_missing_rate, "min": f.minimum, "max": f.maximum,
        "reference_min": f.reference_minimum, "reference_max": f.reference_maximum,
        "outside_reference_range": f.outside_reference_range, "categories": f.categories,
        "new_categories": list(f.new_categories), "new_category_count": f.new_category_count,
        "new_category_rows": f.new_category_rows, "missing_p_value": f.missing_p_value,
        "out_of_range_p_value": f.out_of_range_p_value, "issues": list(f.issues),
        "missing_p_value_adjusted": f.missing_p_value_adjusted,
        "out_of_range_p_value_adjusted": f.out_of_range_p_value_adjusted,
    }


def _explanation_window(w: ExplanationWindow) -> Json:
    return {
        "window": w.window, "features": [_feature_attribution(f) for f in w.features],
        "start_unix_nano": w.start_ns, "end_unix_nano": w.end_ns,
    }


def _feature_attribution(f: FeatureAttribution) -> Json:
    drift = None if f.drift is None else {**_sample_test(f.drift), "p_value_adjusted": f.drift_p_value_adjusted}
    return {
        "name": f.name, "count": f.count, "mean_abs_attribution": f.mean_abs_attribution,
        "mean_attribution": f.mean_attribution, "reference_mean_abs_attribution": f.reference_mean_abs_attribution,
        "importance_change": f.importance_change, "relative_importance_change": f.relative_importance_change,
        "drift": drift, "effect": f.effect, "drifted": f.drifted,
    }


def comparison_json(c: VersionComparison) -> Json:
    labels = c.prediction_labels
    return {
        "name": c.name, "a": c.a, "b": c.b, "start_unix_nano": c.start_ns, "end_unix_nano": c.end_ns,
        "predictions": {"a": c.predictions_a, "b": c.predictions_b},
        "latency_ms": {"a": _latency(c.latency_a), "b": _latency(c.latency_b), **_sample_test(c.latency)},
        "error_rate": _rates(c.error_rate),
        "prediction_values": _sample_test(c.prediction_values),
        "prediction_labels": {"labels": list(labels.labels), "a": list(labels.a), "b": list(labels.b),
                              **_test(labels.test)},
        "confidence": _sample_test(c.confidence),
        "accuracy": {**_rates(c.accuracy), "labelled": {"a": c.accuracy.test.n_a, "b": c.accuracy.test.n_b}},
    }


def _latency(q: Latency) -> Json:
    return {"p50": q.p50_ms, "p95": q.p95_ms, "p99": q.p99_ms}


def _test(t: TwoSampleTest) -> Json:
    """A test's outcome; the group sizes only where they are samples (`_sample_test`)."""
    return {"test": t.test, "statistic": t.statistic, "p_value": t.p_value, "significant": t.significant}


def _sample_test(t: TwoSampleTest) -> Json:
    return {**_test(t), "n_a": t.n_a, "n_b": t.n_b}


def _rates(r: RateDifference) -> Json:
    return {**_test(r.test), "a": r.a, "b": r.b, "difference": r.difference}
