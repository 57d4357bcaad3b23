"""How a drift report turns statistics into verdicts (`DriftRule`).

The default method `auto` flags a feature when its change is significant at this window's
size and large enough to matter (see `drift_stats`): p-values of one family are adjusted
together with Benjamini-Hochberg, so the chance that a report of an unchanged model flags
anything is at most `alpha`. Families: the input features; the model's outputs
(`@prediction`, `@prediction_label`); the label. Any other method decides alone with its
fixed threshold, for every feature or per feature (`per_feature`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from spanwise.analyze import drift_stats
from spanwise.analyze.stat_tests import benjamini_hochberg
from spanwise.errors import InvalidQuery


@dataclass(frozen=True)
class DriftRule:
    method: str = drift_stats.AUTO
    threshold: float | None = None
    alpha: float = drift_stats.DEFAULT_ALPHA
    min_effect: float = drift_stats.DEFAULT_MIN_EFFECT
    per_feature: dict[str, tuple[str, float | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for method, threshold in [(self.method, self.threshold), *self.per_feature.values()]:
            if method not in drift_stats.METHODS:
                raise InvalidQuery(f"method must be one of {', '.join(drift_stats.METHODS)}, not {method!r}")
            if threshold is not None and not (math.isfinite(threshold) and threshold >= 0):
                raise InvalidQuery("a drift threshold must be a finite number >= 0")
        if not 0 < self.alpha < 1:
            raise InvalidQuery("alpha must be between 0 and 1 (exclusive)")
        if not (math.isfinite(self.min_effect) and self.min_effect >= 0):
            raise InvalidQuery("min_effect must be a finite number >= 0")

    @staticmethod
    def parse(method: str | None, threshold: float | None, alpha: float | None, min_effect: float | None,
              feature_methods: list[str]) -> DriftRule:
        """From query parameters; `feature_methods` items are `feature:method[:threshold]`."""
        per_feature: dict[str, tuple[str, float | None]] = {}
        for item in feature_methods:
            parts = item.split(":")
            if len(parts) < 2 or not parts[0]:
                raise InvalidQuery(f"feature_method must be feature:method[:threshold], not {item!r}")
            try:
                last = float(parts[-1])
                name, chosen, value = ":".join(parts[:-2]), parts[-2], last
            except ValueError:
                name, chosen, value = ":".join(parts[:-1]), parts[-1], None
            if not name:
                raise InvalidQuery(f"feature_method must be feature:method[:threshold], not {item!r}")
            per_feature[name] = (chosen, value)
        return DriftRule(method or drift_stats.AUTO, threshold,
                         drift_stats.DEFAULT_ALPHA if alpha is None else alpha,
                         drift_stats.DEFAULT_MIN_EFFECT if min_effect is None else min_effect, per_feature)

    def method_of(self, feature: str) -> tuple[str, float | None]:
        return self.per_feature.get(feature, (self.method, self.threshold))

    def to_json(self) -> dict[str, Any]:
        return {"method": self.method, "threshold": self.threshold, "alpha": self.alpha,
                "min_effect": self.min_effect, "correction": "benjamini-hochberg",
                "per_feature": {k: {"method": m, "threshold": t} for k, (m, t) in self.per_feature.items()}}


def decide(family: list[dict[str, Any]], autos: dict[str, drift_stats.AutoResult], rule: DriftRule) -> None:
    """Set `method`, `drifted` and `reason` of each entry of one family in place. Entries
    are feature reports from `DriftService`; `autos` holds their `auto` parts by name."""
    deciding = [f for f in family if f["feature"] in autos and rule.method_of(f["feature"])[0] == drift_stats.AUTO]
    adjusted = benjamini_hochberg([autos[f["feature"]].p_value for f in deciding])
    for entry, q in zip(deciding, adjusted):
        entry["methods"][drift_stats.AUTO] = autos[entry["feature"]].to_json(q, rule.alpha, rule.min_effect)
    for entry in family:
        if entry["feature"] not in autos:
            continue
        method, threshold = rule.method_of(entry["feature"])
        if method == drift_stats.AUTO:
            found = entry["methods"][drift_stats.AUTO]
        else:
            found = entry["methods"].get(method)
            if found is None:
                entry.update(method=method, drifted=False, reason=f"{method} does not apply to a {entry['type']} feature")
                continue
            if threshold is not None:
                found = _rethreshold(method, found, threshold)
                entry["methods"][method] = found
            found["reason"] = _fixed_reason(method, found)
        entry.update(method=method, drifted=bool(found["drifted"]), reason=found["reason"])


def _rethreshold(method: str, found: dict[str, Any], threshold: float) -> dict[str, Any]:
    value = found["value"]
    drifted = None if value is None else (value < threshold if method in drift_stats.P_VALUE_METHODS else value > threshold)
    return {**found, "threshold": threshold, "drifted": drifted}


def _fixed_reason(method: str, found: dict[str, Any]) -> str:
    if found["value"] is None:
        return f"{method} could not be computed"
    side = "<" if method in drift_stats.P_VALUE_METHODS else ">"
    holds = bool(found["drifted"])
    op = side if holds else {"<": "≥", ">": "≤"}[side]
    return f"{method} {found['value']:.3g} {op} {found['threshold']:g} (fixed threshold)"
