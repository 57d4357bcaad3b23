"""Performance before labels arrive: confidence-based performance estimation (CBPE).

NannyML's method: when a classifier's scores are calibrated, a prediction with positive-
class probability `p` is a true positive with probability `p` if it predicted the positive
class (else a false positive with `1 - p`), and a false negative with probability `p` if
it predicted the negative class (else a true negative). Summing those probabilities over a
window gives the expected confusion matrix, hence accuracy, precision, recall and F1; the
same masses, ranked by score, give the expected ROC AUC (a weighted Mann-Whitney count:
every prediction is `p` of a positive and `1 - p` of a negative). No label is needed, so
the estimate covers every window, including the ones whose labels are weeks away.

It holds only while the scores stay calibrated (no concept drift): before trusting it,
the estimate is checked against realized quality on labelled history (the reference
range). It is trustworthy when at least `MIN_LABELLED` labelled predictions exist there,
the estimated and realized accuracy agree within `ACCURACY_TOLERANCE` plus two standard
errors of the realized accuracy, and (where the predictions carry scores) the expected
calibration error is at most `MAX_ECE` plus its sampling noise `1/sqrt(n)`.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Protocol

from spanwise.analyze.models import ModelService
from spanwise.analyze.quality import WindowQuality
from spanwise.core.ml_tasks import CLASSIFICATION
from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import QualityQuery
from spanwise.store.protocols import ScoreBucket, ScoreQuery

MIN_LABELLED = 200
ACCURACY_TOLERANCE = 0.02
MAX_ECE = 0.05
_LABELS_CHECKED = 3


class ScoreSource(Protocol):
    def score_buckets(self, query: ScoreQuery) -> list[ScoreBucket]: ...

    def predicted_labels(self, model: str, start_ns: int, end_ns: int, limit: int) -> list[str]: ...


@dataclass(frozen=True)
class Estimate:
    """Expected quality of one (window, version) from its scores alone."""

    start_ns: int
    version: str
    scored: int
    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None


@dataclass(frozen=True)
class Calibration:
    """Whether the estimate can be trusted, from the reference range's labelled predictions."""

    trustworthy: bool
    reason: str
    labelled: int
    realized_accuracy: float | None
    estimated_accuracy: float | None
    expected_calibration_error: float | None
    reference_start_ns: int
    reference_end_ns: int


@dataclass(frozen=True)
class QualityMetrics:
    """The five metrics CBPE estimates, estimated or realized (None: not computable)."""

    accuracy: float | None
    precision: float | None
    recall: float | None
    f1: float | None
    roc_auc: float | None


@dataclass(frozen=True)
class EstimatedWindow:
    """One (window, version): its estimate, and its realized quality where labels exist
    (`predictions` None when the window has no realized counterpart)."""

    start_ns: int
    version: str
    scored: int
    predictions: int | None
    labelled: int
    estimated: QualityMetrics
    realized: QualityMetrics | None


@dataclass(frozen=True)
class EstimatedQuality:
    """Estimated beside realized quality per window; `calibration` says whether to trust it."""

    name: str
    version: str | None
    method: str
    positive_label: str
    step_s: int
    calibration: Calibration
    windows: tuple[EstimatedWindow, ...]


def estimate(buckets: list[ScoreBucket]) -> list[Estimate]:
    """One estimate per (window, version) of the buckets, in their order."""
    groups: dict[tuple[int, str], list[ScoreBucket]] = defaultdict(list)
    for b in buckets:
        groups[(b.start_ns, b.version)].append(b)
    return [_estimate(start, version, rows) for (start, version), rows in groups.items()]


def _estimate(start_ns: int, version: str, rows: list[ScoreBucket]) -> Estimate:
    tp = sum(b.mass for b in rows if b.predicted_positive)
    fp = sum(b.count - b.mass for b in rows if b.predicted_positive)
    fn = sum(b.mass for b in rows if not b.predicted_positive)
    tn = sum(b.count - b.mass for b in rows if not b.predicted_positive)
    n = tp + fp + fn + tn
    return Estimate(
        start_ns, version, int(round(n)),
        accuracy=(tp + tn) / n if n else None,
        precision=tp / (tp + fp) if tp + fp else 0.0,  # zero_division=0, as realized quality
        recall=tp / (tp + fn) if tp + fn else 0.0,
        f1=2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        roc_auc=_expected_auc(rows),
    )


def _expected_auc(rows: list[ScoreBucket]) -> float | None:
    """P(score of a positive > score of a negative) with each prediction weighted as `p`
    positive and `1 - p` negative; ties (same bucket) count one half."""
    by_score: dict[float, list[float]] = defaultdict(lambda: [0.0, 0.0])
    for b in rows:
        by_score[b.bucket][0] += b.mass
        by_score[b.bucket][1] += b.count - b.mass
    positives = sum(p for p, _ in by_score.values())
    negatives = sum(n for _, n in by_score.values())
    if positives <= 0 or negatives <= 0:
        return None
    below, ranked = 0.0, 0.0
    for score in sorted(by_score):
        pos, neg = by_score[score]
        ranked += pos * (below + neg / 2)
        below += neg
    return ranked / (positives * negatives)


class PerformanceEstimationService:
    """Estimated and realized quality side by side, with the calibration check."""

    def __init__(self, scores: ScoreSource, models: ModelService) -> None:
        self._scores, self._models = scores, models

    def estimated_quality(self, query: ScoreQuery, reference: tuple[int, int] | None = None) -> EstimatedQuality:
        """Windows with `estimated` and `realized` metrics; `calibration` says whether to trust them."""
        labels = self._scores.predicted_labels(query.model, query.start_ns, query.end_ns, _LABELS_CHECKED)
        query = _with_positive_label(query, labels)
        realized = self._models.quality(_quality_query(query, query.start_ns, query.end_ns, query.step_s))
        estimates = estimate(self._scores.score_buckets(query))
        ref_start, ref_end = reference or (query.start_ns, query.end_ns)
        calibration = self.calibration(query, ref_start, ref_end)
        by_window = {(w.start_ns, w.version): w for w in realized.windows}
        windows = []
        for e in estimates:
            seen = by_window.get((e.start_ns, e.version))
            windows.append(EstimatedWindow(
                e.start_ns, e.version, e.scored, seen.predictions if seen else None, seen.labelled if seen else 0,
                QualityMetrics(e.accuracy, e.precision, e.recall, e.f1, e.roc_auc),
                _realized(seen) if seen and seen.labelled else None,
            ))
        return EstimatedQuality(query.model, query.version, "CBPE", query.positive_label, query.step_s,
                                calibration, tuple(windows))

    def calibration(self, query: ScoreQuery, start_ns: int, end_ns: int) -> Calibration:
        """Check the estimate against realized quality on the labelled predictions of the range."""
        realized = self._models.quality(_quality_query(query, start_ns, end_ns, 0)).windows
        labelled = sum(w.labelled for w in realized)
        whole = replace(query, start_ns=start_ns, end_ns=end_ns, step_s=0)
        estimated = estimate(self._scores.score_buckets(whole))
        est_acc = _weighted([(e.accuracy, e.scored) for e in estimated])
        real_acc = _weighted([(w.accuracy, w.labelled) for w in realized])
        scored = sum(w.scored for w in realized)
        ece = _weighted([(w.expected_calibration_error, w.scored) for w in realized])
        reason = _distrust(labelled, real_acc, est_acc, ece, scored)
        return Calibration(not reason, reason or "estimated accuracy agrees with realized accuracy on labelled history",
                           labelled, real_acc, est_acc, ece, start_ns, end_ns)


def _realized(w: WindowQuality) -> QualityMetrics:
    """The realized counterparts of the estimated metrics (binary ones need the positive
    label, which estimation always has)."""
    binary = w.classification.binary if w.classification else None
    return QualityMetrics(w.accuracy, binary.precision if binary else None, binary.recall if binary else None,
                          binary.f1 if binary else None, w.scores.roc_auc if w.scores else None)


def _distrust(labelled: int, real_acc: float | None, est_acc: float | None, ece: float | None, scored: int) -> str:
    """Why the estimate should not be trusted, or '' when it passed every check."""
    if labelled < MIN_LABELLED or real_acc is None or est_acc is None:
        return f"only {labelled} labelled predictions in the reference range (at least {MIN_LABELLED} are needed to check calibration)"
    allowed = ACCURACY_TOLERANCE + 2 * math.sqrt(max(real_acc * (1 - real_acc), 1e-4) / labelled)
    if abs(est_acc - real_acc) > allowed:
        return (f"the scores are not calibrated: estimated accuracy {est_acc:.3f} against realized {real_acc:.3f} "
                f"on {labelled} labelled predictions (allowed difference {allowed:.3f})")
    if ece is not None and scored and ece > MAX_ECE + 1 / math.sqrt(scored):
        return f"the scores are not calibrated: expected calibration error {ece:.3f} on {scored} labelled predictions"
    return ""


def _weighted(values: list[tuple[float | None, int]]) -> float | None:
    present = [(v, w) for v, w in values if v is not None and w]
    total = sum(w for _, w in present)
    return sum(v * w for v, w in present) / total if total else None


def _with_positive_label(query: ScoreQuery, labels: list[str]) -> ScoreQuery:
    """The positive class: as given (it must be one the model predicts), else the greater
    of a binary model's two labels (scikit-learn's `classes_[1]`), or the only label seen
    in the range (accuracy does not depend on the choice)."""
    if not labels:
        raise NotFound(f"model {query.model!r} has no classification predictions in the range")
    if query.positive_label:
        if len(labels) < _LABELS_CHECKED and query.positive_label not in labels:
            raise InvalidQuery(f"positive_label {query.positive_label!r} is not a class the model predicts: "
                               f"{', '.join(labels)}")
        return replace(query, binary=len(labels) <= 2)
    if len(labels) > 2:
        raise InvalidQuery(f"positive_label is required: the model predicts {len(labels)}"
                           f"{'+' if len(labels) >= _LABELS_CHECKED else ''} classes")
    return replace(query, positive_label=labels[-1], binary=True)


def _quality_query(query: ScoreQuery, start_ns: int, end_ns: int, step_s: int) -> QualityQuery:
    return QualityQuery(query.model, query.version, start_ns, end_ns, step_s, CLASSIFICATION, query.positive_label)
