"""The quality renderer: which metrics a window's JSON carries depends on its task and on
whether a positive label was given; the keys and their order are the API's."""

from __future__ import annotations

import json

import pytest

from spanwise.analyze.quality import window_quality
from spanwise.serve.models_json import window_quality_json
from spanwise.store.protocols import QualityCounts

WINDOW = ["start_unix_nano", "version", "predictions", "labelled", "label_coverage"]
CLASSIFICATION = ["accuracy", "classes", "confusion_matrix", "per_class", "macro", "weighted"]
BINARY = ["positive_label", "precision", "recall", "f1"]
SCORES = ["roc_auc", "calibration", "expected_calibration_error"]
COUNTS = QualityCounts(
    start_ns=5, version="v1", total=10, labelled=4, confusion=(("yes", "yes", 2), ("no", "yes", 1), ("no", "no", 1)),
    scored=4, roc_auc=0.75, log_loss_sum=2.0, calibration=((2, 1, 0.25, 0), (8, 3, 2.4, 2)),
    regression={"n": 4.0, "abs_sum": 2.0, "sq_sum": 2.0, "ape_sum": 0.4, "ss_tot": 8.0},
)


def test_regression_window_carries_error_metrics_only() -> None:
    found = window_quality_json(window_quality(COUNTS, "regression", None))
    assert list(found) == WINDOW + ["n", "mae", "rmse", "mape", "r2"]
    assert (found["n"], found["mae"], found["r2"], found["label_coverage"]) == (4, 0.5, 0.75, 0.4)


def test_classification_window_without_positive_label_has_no_binary_or_score_metrics() -> None:
    found = window_quality_json(window_quality(COUNTS, "classification", None))
    assert list(found) == WINDOW + CLASSIFICATION + ["scored", "log_loss"]
    assert found["classes"] == ["no", "yes"] and found["confusion_matrix"] == [[1, 1], [0, 2]]
    assert found["per_class"]["yes"] == {"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2}
    assert found["macro"] == {"precision": (1 + 2 / 3) / 2, "recall": 0.75, "f1": (2 / 3 + 0.8) / 2}
    assert found["log_loss"] == 0.5


def test_classification_window_with_positive_label_adds_binary_and_score_metrics() -> None:
    found = window_quality_json(window_quality(COUNTS, "classification", "yes"))
    assert list(found) == WINDOW + CLASSIFICATION + BINARY + ["scored", "log_loss"] + SCORES
    assert (found["positive_label"], found["precision"], found["recall"]) == ("yes", 2 / 3, 1.0)
    assert found["calibration"] == [
        {"bin": 2, "count": 1, "mean_predicted": 0.25, "fraction_positive": 0.0},
        {"bin": 8, "count": 3, "mean_predicted": 2.4 / 3, "fraction_positive": 2 / 3},
    ]
    assert found["expected_calibration_error"] == pytest.approx((0.25 + 3 * abs(2 / 3 - 0.8)) / 4, rel=1e-12)
    json.dumps(found, allow_nan=False)  # plain JSON: lists, not tuples or dataclasses


def test_positive_label_the_model_never_saw_scores_zero() -> None:
    found = window_quality_json(window_quality(COUNTS, "classification", "maybe"))
    assert (found["precision"], found["recall"], found["f1"]) == (0.0, 0.0, 0.0)
