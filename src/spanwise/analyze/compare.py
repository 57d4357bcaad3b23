"""Two versions of a model side by side (A/B), each difference with a test (scipy):
latency (Mann-Whitney U on bounded samples), error rate (two-proportion chi-squared on
all predictions), prediction distribution (KS on values, chi-squared on labels),
confidence distribution (KS) and, where labelled, accuracy (two-proportion test on the
confusion counts of `analyze.quality`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.analyze import stat_tests
from spanwise.store.protocols import QualityCounts, VersionComparisonInputs, VersionTotals


def _column(samples: pa.Table, version: str, column: str, scale: float = 1.0) -> np.ndarray:
    rows = samples.filter(pc.equal(samples.column("version"), version))
    values = rows.column(column).drop_null().to_numpy(zero_copy_only=False).astype(np.float64)
    return values / scale if scale != 1.0 else values


def compare(
    a: str, b: str, summary: VersionComparisonInputs, quality: dict[str, list[QualityCounts]]
) -> dict[str, Any]:
    totals = {t.version: t for t in summary.totals}
    ta, tb = (totals.get(v, VersionTotals(v, 0, 0, None, None, None)) for v in (a, b))
    samples = summary.samples
    latency = stat_tests.mann_whitney(_column(samples, a, "Duration", 1e6), _column(samples, b, "Duration", 1e6))
    labels = sorted({r.label for r in summary.labels})
    counts = {(r.version, r.label): r.count for r in summary.labels}
    return {
        "predictions": {"a": ta.predictions, "b": tb.predictions},
        "latency_ms": {
            **{version: _quantiles([t.p50_ns, t.p95_ns, t.p99_ns]) for version, t in (("a", ta), ("b", tb))},
            **latency,
        },
        "error_rate": stat_tests.two_proportions(ta.errors, ta.predictions, tb.errors, tb.predictions),
        "prediction_values": stat_tests.ks(_column(samples, a, "PredictionValue"), _column(samples, b, "PredictionValue")),
        "prediction_labels": {
            "labels": labels,
            "a": [counts.get((a, label), 0) for label in labels],
            "b": [counts.get((b, label), 0) for label in labels],
            **stat_tests.chi_squared([[counts.get((v, label), 0) for label in labels] for v in (a, b)]),
        },
        "confidence": stat_tests.ks(_column(samples, a, "Confidence"), _column(samples, b, "Confidence")),
        "accuracy": accuracy_comparison(quality.get(a, []), quality.get(b, [])),
    }


def _quantiles(q: list[float | None]) -> dict[str, float | None]:
    return {f"p{p}": (v / 1e6 if v is not None else None) for p, v in zip((50, 95, 99), q)}


def _correct(windows: list[QualityCounts]) -> tuple[int, int]:
    confusion = [c for w in windows for c in w.confusion]
    return sum(n for actual, predicted, n in confusion if actual == predicted), sum(n for _, _, n in confusion)


def accuracy_comparison(a: list[QualityCounts], b: list[QualityCounts]) -> dict[str, Any]:
    """Accuracy of labelled predictions per version, compared; None values without labels."""
    (hits_a, n_a), (hits_b, n_b) = _correct(a), _correct(b)
    found = stat_tests.two_proportions(hits_a, n_a, hits_b, n_b)
    return {**found, "labelled": {"a": n_a, "b": n_b}}
