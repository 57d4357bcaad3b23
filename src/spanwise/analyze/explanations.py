"""Aggregated explanations: global importance (mean |attribution| per feature) per window,
and attribution drift per feature against the reference window: the change of mean
|attribution| and a two-sample KS test on the attribution values (bounded samples drawn
in the store; equal to `scipy.stats.ks_2samp` on the same rows). A feature's attributions
drifted, as input features do (`drift_stats`), when the KS p-value, Benjamini-Hochberg
adjusted across the window's features, is below `ALPHA` and the Wasserstein distance /
reference std is at least `MIN_EFFECT`: significant at this window's size and large
enough to matter."""

from __future__ import annotations

from typing import Any

import numpy as np

from spanwise.analyze.drift_stats import DEFAULT_ALPHA as ALPHA
from spanwise.analyze.drift_stats import DEFAULT_MIN_EFFECT as MIN_EFFECT
from spanwise.analyze.drift_stats import wasserstein_normed
from spanwise.analyze.stat_tests import benjamini_hochberg, ks
from spanwise.store.protocols import AttributionStats


def explanations(
    stats: list[AttributionStats], samples: dict[tuple[int, str], np.ndarray], windows: int, fixed_reference: bool
) -> list[dict[str, Any]]:
    """Per window (with attributions): features by importance, most important first."""
    by_key = {(r.window, r.name): r for r in stats}
    found = []
    for w in range(windows):
        names = sorted((name for (window, name) in by_key if window == w),
                       key=lambda name: (-by_key[(w, name)].mean_abs, name))
        if not names:
            continue
        ref = -1 if fixed_reference else w - 1
        features = []
        for name in names:
            here, there = by_key[(w, name)], by_key.get((ref, name))
            change = here.mean_abs - there.mean_abs if there else None
            relative = (here.mean_abs - there.mean_abs) / there.mean_abs if there and there.mean_abs else None
            empty = np.empty(0)
            before, after = samples.get((ref, name), empty), samples.get((w, name), empty)
            test = ks(before, after) if there else None
            effect = wasserstein_normed(before, after) if there and before.size and after.size else None
            features.append({
                "name": name, "count": here.count, "mean_abs_attribution": here.mean_abs,
                "mean_attribution": here.mean,
                "reference_mean_abs_attribution": there.mean_abs if there else None,
                "importance_change": change, "relative_importance_change": relative,
                "drift": test, "effect": effect, "drifted": False,
            })
        _decide(features)
        found.append({"window": w, "features": features})
    return found


def _decide(features: list[dict[str, Any]]) -> None:
    """Adjust the window's KS p-values together, then flag significant and large changes."""
    adjusted = benjamini_hochberg([f["drift"]["p_value"] if f["drift"] else None for f in features])
    for feature, q in zip(features, adjusted):
        if feature["drift"] is not None:
            feature["drift"]["p_value_adjusted"] = q
        effect = feature["effect"]
        feature["drifted"] = q is not None and q < ALPHA and effect is not None and effect >= MIN_EFFECT
