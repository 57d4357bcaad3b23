"""Model quality from counts the store computed: the formulas of scikit-learn's metrics.

The store hands over confusion counts, regression sums, calibration-bin counts and the
exact ROC AUC per (window, version) (`store.protocols.QualityCounts`); this module only finishes
those small aggregates, so results equal scikit-learn's on the same rows:
`precision_recall_fscore_support` (zero_division=0; macro and weighted over the union of
true and predicted classes), `accuracy_score`, `roc_auc_score`, `log_loss`,
`calibration_curve(n_bins=10, strategy="uniform")`, `mean_absolute_error`,
`root_mean_squared_error`, `mean_absolute_percentage_error` and `r2_score`.

Results are frozen values; the API's JSON shape of them is `serve.models_json`'s concern.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

from spanwise.core.ml_tasks import REGRESSION
from spanwise.store.protocols import QualityCounts


@dataclass(frozen=True)
class ClassScores:
    """Precision, recall and F1 of one class, and its support (how many rows truly are it)."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Averages:
    """Macro or support-weighted averages over the classes; None when there is no class."""

    precision: float | None
    recall: float | None
    f1: float | None


@dataclass(frozen=True)
class Binary:
    """The positive class's precision, recall and F1 (the binary metrics)."""

    positive_label: str
    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class ClassificationMetrics:
    """Accuracy, per-class and averaged scores and the confusion matrix (rows: actual,
    columns: predicted, both in the order of `classes`); `binary` with a positive label."""

    accuracy: float | None
    classes: tuple[str, ...]
    confusion_matrix: tuple[tuple[int, ...], ...]
    per_class: Mapping[str, ClassScores]
    macro: Averages
    weighted: Averages
    binary: Binary | None = None


@dataclass(frozen=True)
class RegressionMetrics:
    """Error metrics over `n` labelled predictions (all None when n is 0)."""

    n: int
    mae: float | None
    rmse: float | None
    mape: float | None
    r2: float | None


@dataclass(frozen=True)
class CalibrationBin:
    """One of the 10 uniform score bins: its mean score against its share of positives."""

    bin: int
    count: int
    mean_predicted: float
    fraction_positive: float


@dataclass(frozen=True)
class ScoreMetrics:
    """ROC AUC and calibration of the labelled predictions that carry a score."""

    roc_auc: float | None
    calibration: tuple[CalibrationBin, ...]
    expected_calibration_error: float | None


@dataclass(frozen=True)
class WindowQuality:
    """One (window, version)'s quality with its label coverage (labelled / predictions).
    A regression window has `regression`; a classification window `classification`,
    `scored`, `log_loss` and, with a positive label, `scores`."""

    start_ns: int
    version: str
    predictions: int
    labelled: int
    label_coverage: float | None
    regression: RegressionMetrics | None = None
    classification: ClassificationMetrics | None = None
    scored: int = 0
    log_loss: float | None = None
    scores: ScoreMetrics | None = None

    @property
    def accuracy(self) -> float | None:
        return self.classification.accuracy if self.classification else None

    @property
    def mae(self) -> float | None:
        return self.regression.mae if self.regression else None

    @property
    def expected_calibration_error(self) -> float | None:
        return self.scores.expected_calibration_error if self.scores else None


def window_quality(counts: QualityCounts, task: str, positive_label: str | None) -> WindowQuality:
    """One window's metrics with label coverage (labelled / total predictions)."""
    coverage = counts.labelled / counts.total if counts.total else None
    if task == REGRESSION:
        return WindowQuality(counts.start_ns, counts.version, counts.total, counts.labelled, coverage,
                             regression=regression_metrics(counts.regression))
    return WindowQuality(
        counts.start_ns, counts.version, counts.total, counts.labelled, coverage,
        classification=classification_metrics(counts.confusion, positive_label),
        scored=counts.scored, log_loss=_log_loss(counts),
        scores=score_metrics(counts) if positive_label is not None else None,
    )


def classification_metrics(confusion: tuple[tuple[str, str, int], ...], positive: str | None) -> ClassificationMetrics:
    """Accuracy, per-class and averaged precision/recall/F1 and the confusion matrix."""
    classes = sorted({a for a, _, _ in confusion} | {p for _, p, _ in confusion})
    matrix = {(a, p): n for a, p, n in confusion}
    total = sum(matrix.values())
    per_class = {c: _prf(matrix, classes, c) for c in classes}
    binary = None
    if positive is not None:
        scores = per_class.get(positive) or ClassScores(0.0, 0.0, 0.0, 0)
        binary = Binary(positive, scores.precision, scores.recall, scores.f1)
    return ClassificationMetrics(
        accuracy=sum(matrix.get((c, c), 0) for c in classes) / total if total else None,
        classes=tuple(classes),
        confusion_matrix=tuple(tuple(matrix.get((a, p), 0) for p in classes) for a in classes),
        per_class=per_class,
        macro=_average(per_class, weighted=False),
        weighted=_average(per_class, weighted=True),
        binary=binary,
    )


def _prf(matrix: dict[tuple[str, str], int], classes: list[str], c: str) -> ClassScores:
    tp = matrix.get((c, c), 0)
    predicted = sum(matrix.get((a, c), 0) for a in classes)
    support = sum(matrix.get((c, p), 0) for p in classes)
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * tp / (predicted + support) if predicted + support else 0.0
    return ClassScores(precision, recall, f1, support)


def _average(per_class: dict[str, ClassScores], weighted: bool) -> Averages:
    if not per_class:
        return Averages(None, None, None)
    weights = {c: (m.support if weighted else 1) for c, m in per_class.items()}
    total = sum(weights.values())

    def mean(values: dict[str, float]) -> float:
        return sum(v * weights[c] for c, v in values.items()) / total if total else 0.0

    return Averages(
        mean({c: m.precision for c, m in per_class.items()}),
        mean({c: m.recall for c, m in per_class.items()}),
        mean({c: m.f1 for c, m in per_class.items()}),
    )


def score_metrics(counts: QualityCounts) -> ScoreMetrics:
    """ROC AUC and calibration of labelled predictions that carry a score."""
    bins = tuple(
        CalibrationBin(b, n, total / n, positives / n)
        for b, n, total, positives in sorted(counts.calibration)
        if n
    )
    scored = sum(b.count for b in bins)
    ece = sum(b.count / scored * abs(b.fraction_positive - b.mean_predicted) for b in bins) if scored else None
    return ScoreMetrics(counts.roc_auc, bins, ece)


def _log_loss(counts: QualityCounts) -> float | None:
    """Mean log loss over scored predictions: binary from the positive class's score,
    else multiclass from the true class's probability (`ml.prediction.proba.<class>`)."""
    if not counts.scored or counts.log_loss_sum is None:
        return None
    return counts.log_loss_sum / counts.scored


def regression_metrics(sums: dict[str, float]) -> RegressionMetrics:
    """MAE, RMSE, MAPE and R² from n, sum |e|, sum e², sum |e|/max(|y|, eps) and SS_tot."""
    n = sums.get("n", 0.0)
    if not n:
        return RegressionMetrics(0, None, None, None, None)
    ss_tot = sums["ss_tot"]
    return RegressionMetrics(
        n=int(n),
        mae=sums["abs_sum"] / n,
        rmse=math.sqrt(sums["sq_sum"] / n),
        mape=sums["ape_sum"] / n,
        r2=1 - sums["sq_sum"] / ss_tot if ss_tot else None,
    )
