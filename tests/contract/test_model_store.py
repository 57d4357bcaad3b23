"""One suite for every ModelReader / FeedbackWriter backend (tests/contract/conftest.py),
written against `store.api`, with quality checked against scikit-learn on the same rows
(tests/support/model_data.py)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from model_data import HOUR, PIPELINE_SPANS, PIPELINE_TRACE, START_NS, Prediction, expected_classification, export_request
from model_data import expected_multiclass, expected_regression, feedback_records, predictions

from spanwise.analyze.feedback import FeedbackRecord, store_feedback
from spanwise.analyze.quality import WindowQuality, window_quality
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests
from spanwise.store import open_store
from spanwise.store.protocols import FeedbackWriter, ModelReader, QualityQuery, TraceStore
from spanwise.store import Store
from spanwise.store.protocols import FeedbackWriter, ModelReader, QualityQuery, SpanLink

PROTOCOLS = (ModelReader, FeedbackWriter)
LO, HI = START_NS - HOUR, START_NS + HOUR


@pytest.fixture(scope="module")
def rows(store: Store) -> list[Prediction]:
    made = predictions()
    store.write_spans(MlFieldsProcessor().process(decode_export_requests([export_request(made)]).batch).spans)
    records = [FeedbackRecord(str(r["label"]), int(r["timestamp"] * 10**9), r["prediction_id"]) for r in feedback_records(made)]
    outcome = store_feedback(store, records + [FeedbackRecord("yes", time.time_ns(), "no-such-prediction")])
    assert outcome.pending_ids == ["no-such-prediction"] and outcome.pending == 1
    assert outcome.accepted == len(records) + 1
    assert outcome.updated == 0  # no prediction had a label before this request
    return made


def test_versions_and_features(store: Store, rows: list[Prediction]) -> None:
    versions = {(v.model, v.version): v for v in store.model_versions()}
    assert set(versions) == {("churn", "v1"), ("churn", "v2"), ("price", "r1"), ("iris", "m1")}
    v2 = versions[("churn", "v2")]
    mine = [p for p in rows if p.version == "v2"]
    assert v2.predictions == len(mine) and v2.services == ("churn-service",)
    assert v2.first_seen_ns == min(p.start_ns for p in mine) and v2.last_seen_ns == max(p.start_ns for p in mine)
    assert [v.version for v in store.model_versions("churn")] == ["v1", "v2"]
    features = {f.name: f for f in store.model_features("churn")}
    assert features["tenure"].kind == "numeric" and (features["tenure"].minimum, features["tenure"].maximum) == (0.0, 23.0)
    assert features["plan"].kind == "categorical" and features["plan"].distinct == 2


def test_prediction_series(store: Store, rows: list[Prediction]) -> None:
    points = store.prediction_series("churn", "v1", LO, HI, 3600)
    assert len(points) == 1
    point, mine = points[0], [p for p in rows if p.version == "v1"]
    assert point.count == len(mine) and point.errors == sum(p.error for p in mine)
    durations = np.array([round(p.duration_ms * 10**6) / 1e6 for p in mine])
    assert point.p50_ms == pytest.approx(np.percentile(durations, 50), rel=0.05)
    assert point.p99_ms == pytest.approx(np.percentile(durations, 99), rel=0.05)
    confidence = np.minimum((np.array([p.attributes["ml.prediction.confidence"] for p in mine]) * 10).astype(int), 9)
    assert dict(point.confidence_buckets) == {int(b): int(n) for b, n in zip(*np.unique(confidence, return_counts=True))}
    labels = [p.attributes["ml.prediction.label"] for p in mine]
    assert dict(point.labels) == {k: labels.count(k) for k in set(labels)}
    price = store.prediction_series("price", None, LO, HI, 60)
    assert sum(sum(n for _, n in p.value_buckets) for p in price) == 40
    assert price[0].value_min == min(p.attributes["ml.prediction.value"] for p in rows if p.model == "price")


def test_prediction_lookup_with_label_and_links(store: Store, rows: list[Prediction]) -> None:
    corrected = store.prediction("churn-0")  # corrected, then a stale duplicate
    assert corrected is not None and corrected.label == rows[0].actual and corrected.label_source == "feedback"
    assert corrected.lineage == (SpanLink(PIPELINE_TRACE, PIPELINE_SPANS[0], {}),)
    on_span = store.prediction("churn-3")
    assert on_span is not None and on_span.label == rows[3].actual and on_span.label_source == "span"
    unlabelled = store.prediction("churn-7")
    assert unlabelled is not None and unlabelled.label is None and unlabelled.lineage == ()
    assert store.prediction("nope") is None
    linked = store.linked_predictions(PIPELINE_TRACE, LO, HI, 1000)
    assert sorted(r.prediction_id for r in linked) == sorted(p.prediction_id for p in rows if p.linked)
    assert store.linked_predictions(f"{1:032x}", LO, HI, 10) == []


def test_feedback_ids(store: Store, rows: list[Prediction]) -> None:
    assert store.known_predictions(["churn-1", "x"]) == {"churn-1"}
    assert store.prediction_ids_of_spans([(f"{2:032x}", f"{2:016x}"), (f"{2:032x}", f"{3:016x}")]) == {
        (f"{2:032x}", f"{2:016x}"): "churn-1"
    }
    assert store.labelled(["churn-1", "churn-3", "churn-7"]) == {"churn-1"}


@pytest.mark.parametrize("version", [None, "v1"])
def test_classification_quality_equals_scikit_learn(store: Store, rows: list[Prediction], version: str | None) -> None:
    windows = store.quality_counts(QualityQuery("churn", version, LO, HI, 0, "classification", "yes"))
    assert len(windows) == (1 if version else 2)
    merged = [window_quality(w, "classification", "yes") for w in windows]
    if version is None:  # one window per version: compare each with scikit-learn
        for got in merged:
            _compare(got, expected_classification(rows, got.version))
    else:
        _compare(merged[0], expected_classification(rows, version))


def _compare(got: WindowQuality, want: dict[str, Any]) -> None:
    assert got.classification and got.classification.binary and got.scores
    c, binary, scores = got.classification, got.classification.binary, got.scores
    assert got.labelled == want["n"] and got.predictions == want["total"]
    assert got.label_coverage == want["n"] / want["total"]
    assert c.classes == ("no", "yes") and [list(r) for r in c.confusion_matrix] == want["confusion"]
    found = {"accuracy": c.accuracy, "precision": binary.precision, "recall": binary.recall, "f1": binary.f1,
             "roc_auc": scores.roc_auc, "log_loss": got.log_loss}
    for key, value in found.items():
        assert value == pytest.approx(want[key], rel=1e-9), key
    assert c.macro.f1 == pytest.approx(want["macro_f1"], rel=1e-9)
    assert c.macro.recall == pytest.approx(want["macro_recall"], rel=1e-9)
    assert c.weighted.f1 == pytest.approx(want["weighted_f1"], rel=1e-9)
    assert c.weighted.precision == pytest.approx(want["weighted_precision"], rel=1e-9)
    assert [b.fraction_positive for b in scores.calibration] == pytest.approx(want["prob_true"], rel=1e-9)
    assert [b.mean_predicted for b in scores.calibration] == pytest.approx(want["prob_pred"], rel=1e-9)


def test_regression_quality_equals_scikit_learn(store: Store, rows: list[Prediction]) -> None:
    windows = store.quality_counts(QualityQuery("price", None, LO, HI, 0, "regression"))
    got, want = window_quality(windows[0], "regression", None), expected_regression(rows)
    assert got.regression is not None
    assert got.regression.n == want["n"] == got.labelled == 40
    for key in ("mae", "rmse", "mape", "r2"):
        assert getattr(got.regression, key) == pytest.approx(want[key], rel=1e-9), key


def test_quality_per_step_adds_up(store: Store, rows: list[Prediction]) -> None:
    windows = store.quality_counts(QualityQuery("churn", "v1", LO, HI, 60, "classification"))
    assert sum(w.total for w in windows) == sum(1 for p in rows if p.version == "v1")
    assert all(w.roc_auc is None for w in windows)  # no positive label: no score metrics
    assert pa.table({"n": [w.labelled for w in windows]}).num_rows == len(windows)


def test_multiclass_quality_equals_scikit_learn(store: Store, rows: list[Prediction]) -> None:
    windows = store.quality_counts(QualityQuery("iris", None, LO, HI, 0, "classification"))
    got, want = window_quality(windows[0], "classification", None), expected_multiclass(rows)
    c = got.classification
    assert c is not None and got.scores is None and c.binary is None
    assert got.labelled == got.scored == want["n"]
    assert c.classes == ("setosa", "versicolor", "virginica") and [list(r) for r in c.confusion_matrix] == want["confusion"]
    assert c.accuracy == pytest.approx(want["accuracy"], rel=1e-9)
    assert c.macro.f1 == pytest.approx(want["macro_f1"], rel=1e-9)
    assert c.weighted.precision == pytest.approx(want["weighted_precision"], rel=1e-9)
    assert c.weighted.recall == pytest.approx(want["weighted_recall"], rel=1e-9)
    assert got.log_loss == pytest.approx(want["log_loss"], rel=1e-9)
