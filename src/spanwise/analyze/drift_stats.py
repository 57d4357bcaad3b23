"""Drift statistics finished from profiles (bin counts, category counts, bounded samples).

Methods and defaults, with Evidently's published defaults as the reference point:

| method | feature type | value | drifted when |
|---|---|---|---|
| `psi` | numeric, categorical | Σ (c − r) · ln(c / r) over bin/category shares; a share of 0 becomes `PSI_EPSILON` = 1e-4 | > 0.2 |
| `ks` | numeric | two-sample Kolmogorov–Smirnov (`scipy.stats.ks_2samp`) on the samples (≤ 10k each) | p < 0.05 |
| `wasserstein` | numeric | `scipy.stats.wasserstein_distance` on the samples / population std of the reference sample (Evidently's normalization; std floored at machine eps) | > 0.1 |
| `jensenshannon` | numeric, categorical | `scipy.spatial.distance.jensenshannon` (natural log) of the bin/category shares | > 0.1 |
| `chi2` | categorical | p-value of `scipy.stats.chi2_contingency` on the 2 × k table of reference/current category counts | p < 0.05 |

The per-feature verdict follows Evidently's choice of a default method by reference size:
numeric: `ks` when the reference has ≤ 1,000 values, else `wasserstein`; categorical:
`chi2` when ≤ 1,000, else `jensenshannon`. Numeric bins are the reference's quantile
bins (10 by default); categories are the union of both sides' categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats
from scipy.spatial import distance

from spanwise.store.profiles import CategoricalProfile, NumericProfile

PSI_EPSILON = 1e-4
SMALL_SAMPLE = 1_000
THRESHOLDS: dict[str, float] = {"psi": 0.2, "ks": 0.05, "wasserstein": 0.1, "jensenshannon": 0.1, "chi2": 0.05}
#: Methods whose value is a p-value: drifted below the threshold (others: above).
P_VALUE_METHODS = frozenset({"ks", "chi2"})


@dataclass(frozen=True)
class MethodResult:
    method: str
    value: float | None
    threshold: float
    statistic: float | None = None

    @property
    def drifted(self) -> bool | None:
        if self.value is None or np.isnan(self.value):
            return None
        return self.value < self.threshold if self.method in P_VALUE_METHODS else self.value > self.threshold

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"value": self.value, "threshold": self.threshold, "drifted": self.drifted}
        if self.statistic is not None:
            found["statistic"] = self.statistic
        return found


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros_like(counts, dtype=np.float64)


def psi(reference: np.ndarray, current: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index of two count vectors over the same bins."""
    r, c = shares(reference.astype(np.float64)), shares(current.astype(np.float64))
    r[r == 0], c[c == 0] = epsilon, epsilon
    return float(np.sum((c - r) * np.log(c / r)))


def jensenshannon(reference: np.ndarray, current: np.ndarray) -> float:
    return float(distance.jensenshannon(shares(reference.astype(np.float64)), shares(current.astype(np.float64))))


def wasserstein_normed(reference: np.ndarray, current: np.ndarray) -> float:
    norm = max(float(np.std(reference)), float(np.finfo(np.float64).eps))
    return float(stats.wasserstein_distance(reference, current)) / norm


def numeric_drift(
    reference: NumericProfile, current: NumericProfile, thresholds: dict[str, float] | None = None
) -> tuple[dict[str, MethodResult], str]:
    """Every numeric method and the default one's name."""
    t = {**THRESHOLDS, **(thresholds or {})}
    ref_counts, cur_counts = np.asarray(reference.counts), np.asarray(current.counts)
    ref_sample, cur_sample = np.asarray(reference.sample), np.asarray(current.sample)
    results: dict[str, MethodResult] = {}
    both = ref_counts.sum() > 0 and cur_counts.sum() > 0 and len(ref_counts) == len(cur_counts)
    results["psi"] = MethodResult("psi", psi(ref_counts, cur_counts) if both else None, t["psi"])
    results["jensenshannon"] = MethodResult("jensenshannon", jensenshannon(ref_counts, cur_counts) if both else None,
                                            t["jensenshannon"])
    if ref_sample.size and cur_sample.size:
        ks = stats.ks_2samp(ref_sample, cur_sample)
        results["ks"] = MethodResult("ks", float(ks.pvalue), t["ks"], statistic=float(ks.statistic))
        results["wasserstein"] = MethodResult("wasserstein", wasserstein_normed(ref_sample, cur_sample), t["wasserstein"])
    else:
        results["ks"] = MethodResult("ks", None, t["ks"])
        results["wasserstein"] = MethodResult("wasserstein", None, t["wasserstein"])
    return results, "ks" if reference.count <= SMALL_SAMPLE else "wasserstein"


def category_table(reference: CategoricalProfile, current: CategoricalProfile) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The union of categories (sorted) and both sides' counts over it."""
    ref, cur = dict(reference.counts), dict(current.counts)
    keys = sorted(set(ref) | set(cur))
    return keys, np.array([ref.get(k, 0) for k in keys]), np.array([cur.get(k, 0) for k in keys])


def categorical_drift(
    reference: CategoricalProfile, current: CategoricalProfile, thresholds: dict[str, float] | None = None
) -> tuple[dict[str, MethodResult], str]:
    t = {**THRESHOLDS, **(thresholds or {})}
    _, ref_counts, cur_counts = category_table(reference, current)
    both = ref_counts.sum() > 0 and cur_counts.sum() > 0
    results = {
        "psi": MethodResult("psi", psi(ref_counts, cur_counts) if both else None, t["psi"]),
        "jensenshannon": MethodResult("jensenshannon", jensenshannon(ref_counts, cur_counts) if both else None,
                                      t["jensenshannon"]),
        "chi2": MethodResult("chi2", None, t["chi2"]),
    }
    if both and len(ref_counts) > 1:
        chi = stats.chi2_contingency(np.vstack([ref_counts, cur_counts]))
        results["chi2"] = MethodResult("chi2", float(chi.pvalue), t["chi2"], statistic=float(chi.statistic))
    elif both:
        results["chi2"] = MethodResult("chi2", 1.0, t["chi2"], statistic=0.0)
    return results, "chi2" if int(ref_counts.sum()) <= SMALL_SAMPLE else "jensenshannon"
