"""Two versions of a model side by side (A/B), each difference with a test (scipy):
latency (Mann-Whitney U on bounded samples), error rate (two-proportion chi-squared on
all predictions), prediction distribution (KS on values, chi-squared on labels),
confidence distribution (KS) and, where labelled, accuracy (two-proportion test on the
confusion counts of `analyze.quality`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.analyze import stat_tests
from spanwise.analyze.stat_tests import RateDifference, TwoSampleTest
from spanwise.store.protocols import QualityCounts, VersionComparisonInputs, VersionTotals


@dataclass(frozen=True)
class Latency:
    """A version's approximate latency quantiles in ms (None without predictions)."""

    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None


@dataclass(frozen=True)
class LabelCounts:
    """How often each version predicted each label (`labels` sorted; `a`, `b` in that
    order), and the chi-squared test of whether the two distributions differ."""

    labels: tuple[str, ...]
    a: tuple[int, ...]
    b: tuple[int, ...]
    test: TwoSampleTest


@dataclass(frozen=True)
class VersionComparison:
    """Versions `a` and `b` of model `name` over [start_ns, end_ns]: their predictions and
    latency, and a test per difference (`accuracy` over labelled predictions only: its
    test's `n_a`, `n_b` count them; no labels for a model without predicted labels)."""

    name: str
    a: str
    b: str
    start_ns: int
    end_ns: int
    predictions_a: int
    predictions_b: int
    latency_a: Latency
    latency_b: Latency
    latency: TwoSampleTest
    error_rate: RateDifference
    prediction_values: TwoSampleTest
    prediction_labels: LabelCounts
    confidence: TwoSampleTest
    accuracy: RateDifference


def _column(samples: pa.Table, version: str, column: str, scale: float = 1.0) -> np.ndarray:
    rows = samples.filter(pc.equal(samples.column("version"), version))
    values = rows.column(column).drop_null().to_numpy(zero_copy_only=False).astype(np.float64)
    return values / scale if scale != 1.0 else values


def compare(
    name: str, a: str, b: str, start_ns: int, end_ns: int,
    summary: VersionComparisonInputs, quality: dict[str, list[QualityCounts]],
) -> VersionComparison:
    totals = {t.version: t for t in summary.totals}
    ta, tb = (totals.get(v, VersionTotals(v, 0, 0, None, None, None)) for v in (a, b))
    samples = summary.samples
    labels = sorted({r.label for r in summary.labels})
    counts = {(r.version, r.label): r.count for r in summary.labels}
    labels_a, labels_b = ([counts.get((v, label), 0) for label in labels] for v in (a, b))
    return VersionComparison(
        name=name, a=a, b=b, start_ns=start_ns, end_ns=end_ns,
        predictions_a=ta.predictions, predictions_b=tb.predictions,
        latency_a=_latency(ta), latency_b=_latency(tb),
        latency=stat_tests.mann_whitney(_column(samples, a, "Duration", 1e6), _column(samples, b, "Duration", 1e6)),
        error_rate=stat_tests.two_proportions(ta.errors, ta.predictions, tb.errors, tb.predictions),
        prediction_values=stat_tests.ks(_column(samples, a, "PredictionValue"), _column(samples, b, "PredictionValue")),
        prediction_labels=LabelCounts(tuple(labels), tuple(labels_a), tuple(labels_b),
                                      stat_tests.chi_squared(labels_a, labels_b)),
        confidence=stat_tests.ks(_column(samples, a, "Confidence"), _column(samples, b, "Confidence")),
        accuracy=accuracy_comparison(quality.get(a, []), quality.get(b, [])),
    )


def _latency(t: VersionTotals) -> Latency:
    return Latency(_ms(t.p50_ns), _ms(t.p95_ns), _ms(t.p99_ns))


def _ms(ns: float | None) -> float | None:
    return ns / 1e6 if ns is not None else None


def _correct(windows: list[QualityCounts]) -> tuple[int, int]:
    confusion = [c for w in windows for c in w.confusion]
    return sum(n for actual, predicted, n in confusion if actual == predicted), sum(n for _, _, n in confusion)


def accuracy_comparison(a: list[QualityCounts], b: list[QualityCounts]) -> RateDifference:
    """Accuracy of labelled predictions per version, compared; None rates without labels."""
    (hits_a, n_a), (hits_b, n_b) = _correct(a), _correct(b)
    return stat_tests.two_proportions(hits_a, n_a, hits_b, n_b)
