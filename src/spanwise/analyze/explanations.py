"""Aggregated explanations: global importance (mean |attribution| per feature) per window,
and attribution drift per feature against the reference window: the change of mean
|attribution| and a two-sample KS test on the attribution values (bounded samples drawn
in the store; equal to `scipy.stats.ks_2samp` on the same rows). A feature's attributions
drifted, as input features do (`drift_stats`), when the KS p-value, Benjamini-Hochberg
adjusted across the window's features, is below `ALPHA` and the Wasserstein distance /
reference std is at least `MIN_EFFECT`: significant at this window's size and large
enough to matter."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from spanwise.analyze.drift_stats import DEFAULT_ALPHA as ALPHA
from spanwise.analyze.drift_stats import DEFAULT_MIN_EFFECT as MIN_EFFECT
from spanwise.analyze.drift_stats import wasserstein_normed
from spanwise.analyze.stat_tests import TwoSampleTest, benjamini_hochberg, ks
from spanwise.store.protocols import AttributionStats, WindowQuery


@dataclass(frozen=True)
class FeatureAttribution:
    """One feature's attributions in a window: how many, mean |attribution| (its global
    importance) and mean, and against the reference (None without attributions there):
    the change of importance, the KS test of the values with its p-value adjusted across
    the window's features, the effect size (Wasserstein / reference std), and whether the
    attributions drifted."""

    name: str
    count: int
    mean_abs_attribution: float
    mean_attribution: float
    reference_mean_abs_attribution: float | None
    importance_change: float | None
    relative_importance_change: float | None
    drift: TwoSampleTest | None
    drift_p_value_adjusted: float | None
    effect: float | None
    drifted: bool


@dataclass(frozen=True)
class ExplanationWindow:
    """Window `window` ([start_ns, end_ns]): its features by importance, most important first."""

    window: int
    start_ns: int
    end_ns: int
    features: tuple[FeatureAttribution, ...]


def explanations(
    stats: list[AttributionStats], samples: dict[tuple[int, str], np.ndarray], query: WindowQuery
) -> list[ExplanationWindow]:
    """The query's windows that have attributions."""
    by_key = {(r.window, r.name): r for r in stats}
    empty = np.empty(0)
    found = []
    for w in range(query.windows()):
        names = sorted((name for (window, name) in by_key if window == w),
                       key=lambda name: (-by_key[(w, name)].mean_abs, name))
        if not names:
            continue
        ref = -1 if query.reference_start_ns is not None else w - 1
        features = [
            _feature(by_key[(w, name)], by_key.get((ref, name)), samples.get((ref, name), empty),
                     samples.get((w, name), empty))
            for name in names
        ]
        start, end = query.window_range(w)
        found.append(ExplanationWindow(w, start, end, _decided(features)))
    return found


def _feature(
    here: AttributionStats, there: AttributionStats | None, before: np.ndarray, after: np.ndarray
) -> FeatureAttribution:
    """A feature against its reference, undecided (`_decided` adjusts and flags)."""
    change = here.mean_abs - there.mean_abs if there else None
    return FeatureAttribution(
        name=here.name, count=here.count, mean_abs_attribution=here.mean_abs, mean_attribution=here.mean,
        reference_mean_abs_attribution=there.mean_abs if there else None, importance_change=change,
        relative_importance_change=change / there.mean_abs if change is not None and there and there.mean_abs else None,
        drift=ks(before, after) if there else None, drift_p_value_adjusted=None,
        effect=wasserstein_normed(before, after) if there and before.size and after.size else None,
        drifted=False,
    )


def _decided(features: list[FeatureAttribution]) -> tuple[FeatureAttribution, ...]:
    """Adjust the window's KS p-values together, then flag significant and large changes."""
    adjusted = benjamini_hochberg([f.drift.p_value if f.drift else None for f in features])
    return tuple(
        replace(f, drift_p_value_adjusted=q,
                drifted=q is not None and q < ALPHA and f.effect is not None and f.effect >= MIN_EFFECT)
        for f, q in zip(features, adjusted)
    )
