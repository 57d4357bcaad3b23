"""Drift statistics finished from profiles (bin counts, category counts, bounded samples).

Methods and defaults, with Evidently's published defaults as the reference point:

| method | feature type | value | drifted when |
|---|---|---|---|
| `psi` | numeric, categorical | Σ (c − r) · ln(c / r) over bin/category shares; a share of 0 becomes `PSI_EPSILON` = 1e-4 | > 0.2 |
| `ks` | numeric | two-sample Kolmogorov–Smirnov (`scipy.stats.ks_2samp`; asymptotic p-value above 10^7 value pairs) on the samples (≤ 10k each) | p < 0.05 |
| `wasserstein` | numeric | `scipy.stats.wasserstein_distance` on the samples / population std of the reference sample (Evidently's normalization; std floored at machine eps) | > 0.1 |
| `jensenshannon` | numeric, categorical | `scipy.spatial.distance.jensenshannon` (natural log) of the bin/category shares | > 0.1 |
| `chi2` | categorical | p-value of `scipy.stats.chi2_contingency` on the 2 × k table of reference/current category counts | p < 0.05 |

The per-feature verdict is the `auto` rule unless the request names a method: a feature
drifted when its change is both significant at this window's size and large enough to
matter. Numeric: the KS p-value (above) with the Wasserstein distance / reference std as
effect size; categorical: the chi-squared p-value of the 2 × k table after pooling the
categories too rare to test (`pooled_table`: expected count < 5 in either row) with the
Jensen-Shannon distance as effect size. The p-values of a model's features are adjusted
together (Benjamini-Hochberg, `stat_tests.benjamini_hochberg`) and a feature is flagged
when its adjusted p-value < `DEFAULT_ALPHA` and its effect ≥ `DEFAULT_MIN_EFFECT`. The
test bounds false alarms at any window and reference size (a fixed distance threshold
does not: at 40 values the Wasserstein distance's own noise is ~0.13 σ); the effect floor
keeps huge windows from flagging changes too small to matter. A named method decides
alone, with its fixed threshold (the Evidently rule). Numeric bins are the reference's
quantile bins (10 by default); categories are the union of both sides' categories.
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
AUTO = "auto"
METHODS = (AUTO, *THRESHOLDS)
#: The `auto` rule: model-level false-alarm rate (Benjamini-Hochberg over a model's features).
DEFAULT_ALPHA = 0.01
#: The `auto` rule's effect floor: W / reference std for numeric features, Jensen-Shannon
#: distance for categorical ones (0.1 either way: a 0.1 σ shift; ~14 points of a 50/50 split).
DEFAULT_MIN_EFFECT = 0.1
#: Above this many value pairs (n_reference x n_current) the KS p-value is asymptotic.
EXACT_KS_PAIRS = 10**7
#: Categories expected fewer times than this in either row are pooled before chi-squared.
MIN_EXPECTED = 5.0
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


@dataclass(frozen=True)
class AutoResult:
    """The `auto` rule's parts for one feature: the test's p-value, the effect size, and
    (set once the model's features are known) the adjusted p-value and the verdict."""

    test: str
    p_value: float | None
    effect_name: str
    effect: float | None
    statistic: float | None = None

    def verdict(self, q_value: float | None, alpha: float, min_effect: float) -> tuple[bool | None, str]:
        """(drifted, why) for this adjusted p-value."""
        if q_value is None or self.effect is None or np.isnan(self.effect):
            return None, "the test could not run"
        test = f"{self.test} p {self.p_value:.3g} (adjusted {q_value:.3g})"
        effect = f"{self.effect_name} {self.effect:.3g}"
        if q_value >= alpha:
            return False, f"not significant: {test} ≥ alpha {alpha:g}"
        if self.effect < min_effect:
            return False, f"significant but small: {test} < alpha {alpha:g}, {effect} < {min_effect:g}"
        return True, f"{test} < alpha {alpha:g} and {effect} ≥ {min_effect:g}"


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


def wasserstein(reference: np.ndarray, current: np.ndarray) -> float:
    """`scipy.stats.wasserstein_distance` of two samples (the area between their empirical
    CDFs), computed the way scipy does, with one dot product: scipy's own spends ~50 ms per
    10k-value pair in a generic vector-dot helper, 1 s for 20 features."""
    u, v = np.sort(np.asarray(reference, dtype=np.float64)), np.sort(np.asarray(current, dtype=np.float64))
    values = np.sort(np.concatenate([u, v]))
    deltas = np.diff(values)
    u_cdf = np.searchsorted(u, values[:-1], side="right") / u.size
    v_cdf = np.searchsorted(v, values[:-1], side="right") / v.size
    return float(np.dot(np.abs(u_cdf - v_cdf), deltas))


def wasserstein_normed(reference: np.ndarray, current: np.ndarray) -> float:
    norm = max(float(np.std(reference)), float(np.finfo(np.float64).eps))
    return wasserstein(reference, current) / norm


def ks_test(reference: np.ndarray, current: np.ndarray) -> Any:
    """`scipy.stats.ks_2samp`, method auto (an exact p-value) up to `EXACT_KS_PAIRS` pairs of
    values, asymptotic beyond (the exact one costs ~20 ms for 10k x 10k values and differs
    from the asymptotic one by < 1e-3 there)."""
    method = "auto" if reference.size * current.size <= EXACT_KS_PAIRS else "asymp"
    return stats.ks_2samp(reference, current, method=method)


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
        ks = ks_test(ref_sample, cur_sample)
        results["ks"] = MethodResult("ks", float(ks.pvalue), t["ks"], statistic=float(ks.statistic))
        results["wasserstein"] = MethodResult("wasserstein", wasserstein_normed(ref_sample, cur_sample), t["wasserstein"])
    else:
        results["ks"] = MethodResult("ks", None, t["ks"])
        results["wasserstein"] = MethodResult("wasserstein", None, t["wasserstein"])
    return results, "ks" if reference.count <= SMALL_SAMPLE else "wasserstein"


def numeric_auto(results: dict[str, MethodResult]) -> AutoResult:
    """KS p-value and W / std effect, from `numeric_drift`'s results."""
    ks, w = results["ks"], results["wasserstein"]
    return AutoResult("ks", ks.value, "wasserstein_std", w.value, ks.statistic)


def pooled_table(ref_counts: np.ndarray, cur_counts: np.ndarray, min_expected: float = MIN_EXPECTED) -> np.ndarray:
    """The 2 × k table with the categories expected fewer than `min_expected` times in
    either row pooled into one column (Cochran's rule; chi-squared is not valid below it:
    one rare category seen once in 40 values gives p ~ 1e-5). A pooled column still too
    small joins the smallest kept column."""
    ref, cur = np.asarray(ref_counts, dtype=np.int64), np.asarray(cur_counts, dtype=np.int64)
    totals = ref + cur
    keep = totals * min(int(ref.sum()), int(cur.sum())) / max(int(totals.sum()), 1) >= min_expected
    table = np.vstack([ref[keep], cur[keep]])
    rest = np.array([[ref[~keep].sum()], [cur[~keep].sum()]])
    if rest.sum() == 0:
        return table
    if table.shape[1] == 0:
        return rest
    smallest = int(np.argmin(table.sum(axis=0)))
    rest_expected = rest.sum() * min(int(ref.sum()), int(cur.sum())) / max(int(totals.sum()), 1)
    if rest_expected < min_expected:
        table[:, smallest] += rest[:, 0]
        return table
    return np.hstack([table, rest])


def categorical_auto(reference: CategoricalProfile, current: CategoricalProfile,
                     results: dict[str, MethodResult]) -> AutoResult:
    """Chi-squared on the pooled table and the Jensen-Shannon distance of the raw shares."""
    _, ref_counts, cur_counts = category_table(reference, current)
    if not ref_counts.sum() or not cur_counts.sum():
        return AutoResult("chi2_pooled", None, "jensenshannon", None)
    table = pooled_table(ref_counts, cur_counts)
    if table.shape[1] < 2:
        return AutoResult("chi2_pooled", 1.0, "jensenshannon", results["jensenshannon"].value, 0.0)
    chi = stats.chi2_contingency(table)
    return AutoResult("chi2_pooled", float(chi.pvalue), "jensenshannon", results["jensenshannon"].value,
                      float(chi.statistic))


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
