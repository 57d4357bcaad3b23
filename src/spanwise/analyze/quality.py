"""Model quality from counts the store computed: the formulas of scikit-learn's metrics.

The store hands over confusion counts, regression sums, calibration-bin counts and the
exact ROC AUC per (window, version) (`store.protocols.QualityCounts`); this module only finishes
those small aggregates, so results equal scikit-learn's on the same rows:
`precision_recall_fscore_support` (zero_division=0; macro and weighted over the union of
true and predicted classes), `accuracy_score`, `roc_auc_score`, `log_loss`,
`calibration_curve(n_bins=10, strategy="uniform")`, `mean_absolute_error`,
`root_mean_squared_error`, `mean_absolute_percentage_error` and `r2_score`.
"""

from __future__ import annotations

import math
from typing import Any

from spanwise.store.protocols import QualityCounts

CLASSIFICATION, REGRESSION = "classification", "regression"


def window_quality(counts: QualityCounts, task: str, positive_label: str | None) -> dict[str, Any]:
    """One window's metrics with label coverage (labelled / total predictions)."""
    result: dict[str, Any] = {
        "start_unix_nano": counts.start_ns,
        "version": counts.version,
        "predictions": counts.total,
        "labelled": counts.labelled,
        "label_coverage": counts.labelled / counts.total if counts.total else None,
    }
    if task == REGRESSION:
        result.update(regression_metrics(counts.regression))
    else:
        result.update(classification_metrics(counts.confusion, positive_label))
        result.update(scored=counts.scored, log_loss=_log_loss(counts))
        if positive_label is not None:
            result.update(score_metrics(counts))
    return result


def classification_metrics(confusion: tuple[tuple[str, str, int], ...], positive: str | None) -> dict[str, Any]:
    """Accuracy, per-class and averaged precision/recall/F1 and the confusion matrix."""
    classes = sorted({a for a, _, _ in confusion} | {p for _, p, _ in confusion})
    matrix = {(a, p): n for a, p, n in confusion}
    total = sum(matrix.values())
    per_class = {c: _prf(matrix, classes, c) for c in classes}
    result: dict[str, Any] = {
        "accuracy": sum(matrix.get((c, c), 0) for c in classes) / total if total else None,
        "classes": classes,
        "confusion_matrix": [[matrix.get((a, p), 0) for p in classes] for a in classes],
        "per_class": per_class,
        "macro": _average(per_class, weighted=False),
        "weighted": _average(per_class, weighted=True),
    }
    if positive is not None:
        binary = per_class.get(positive) or {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
        result.update(positive_label=positive, precision=binary["precision"], recall=binary["recall"], f1=binary["f1"])
    return result


def _prf(matrix: dict[tuple[str, str], int], classes: list[str], c: str) -> dict[str, Any]:
    tp = matrix.get((c, c), 0)
    predicted = sum(matrix.get((a, c), 0) for a in classes)
    support = sum(matrix.get((c, p), 0) for p in classes)
    precision = tp / predicted if predicted else 0.0
    recall = tp / support if support else 0.0
    f1 = 2 * tp / (predicted + support) if predicted + support else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def _average(per_class: dict[str, dict[str, Any]], weighted: bool) -> dict[str, float | None]:
    if not per_class:
        return {"precision": None, "recall": None, "f1": None}
    weights = {c: (m["support"] if weighted else 1) for c, m in per_class.items()}
    total = sum(weights.values())
    return {
        k: (sum(m[k] * weights[c] for c, m in per_class.items()) / total if total else 0.0)
        for k in ("precision", "recall", "f1")
    }


def score_metrics(counts: QualityCounts) -> dict[str, Any]:
    """ROC AUC and calibration of labelled predictions that carry a score."""
    bins = [
        {"bin": b, "count": n, "mean_predicted": total / n, "fraction_positive": positives / n}
        for b, n, total, positives in sorted(counts.calibration)
        if n
    ]
    scored = sum(b["count"] for b in bins)
    ece = sum(b["count"] / scored * abs(b["fraction_positive"] - b["mean_predicted"]) for b in bins) if scored else None
    return {
        "roc_auc": counts.roc_auc,
        "calibration": bins,
        "expected_calibration_error": ece,
    }


def _log_loss(counts: QualityCounts) -> float | None:
    """Mean log loss over scored predictions: binary from the positive class's score,
    else multiclass from the true class's probability (`ml.prediction.proba.<class>`)."""
    if not counts.scored or counts.log_loss_sum is None:
        return None
    return counts.log_loss_sum / counts.scored


def regression_metrics(sums: dict[str, float]) -> dict[str, Any]:
    """MAE, RMSE, MAPE and R² from n, sum |e|, sum e², sum |e|/max(|y|, eps) and SS_tot."""
    n = sums.get("n", 0.0)
    if not n:
        return {"n": 0, "mae": None, "rmse": None, "mape": None, "r2": None}
    ss_tot = sums["ss_tot"]
    return {
        "n": int(n),
        "mae": sums["abs_sum"] / n,
        "rmse": math.sqrt(sums["sq_sum"] / n),
        "mape": sums["ape_sum"] / n,
        "r2": 1 - sums["sq_sum"] / ss_tot if ss_tot else None,
    }
