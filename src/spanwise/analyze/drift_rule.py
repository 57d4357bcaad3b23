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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from spanwise.analyze import drift_stats
from spanwise.analyze.stat_tests import benjamini_hochberg
from spanwise.errors import InvalidQuery

if TYPE_CHECKING:  # the report's types use DriftRule and Decision
    from spanwise.analyze.drift_report import FeatureDrift


@dataclass(frozen=True)
class Decision:
    """The verdict on one feature by its method. A fixed method given a threshold of the
    request's own carries that `threshold` and the method's verdict at it (`method_drifted`);
    `auto` carries its Benjamini-Hochberg adjusted p-value (`q_value`)."""

    method: str
    drifted: bool
    reason: str
    q_value: float | None = None
    threshold: float | None = None
    method_drifted: bool | None = None


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


def decide(family: Sequence[FeatureDrift], rule: DriftRule) -> dict[str, Decision]:
    """The decision on each feature of one family that has results on both sides (`auto`
    set), by name: `auto` p-values are adjusted across the family together."""
    tested = [f for f in family if f.auto is not None]
    deciding = [f for f in tested if rule.method_of(f.feature)[0] == drift_stats.AUTO]
    adjusted = benjamini_hochberg([f.auto.p_value for f in deciding if f.auto is not None])
    decisions = {f.feature: _auto(f.auto, q, rule) for f, q in zip(deciding, adjusted) if f.auto is not None}
    for entry in tested:
        method, threshold = rule.method_of(entry.feature)
        if method != drift_stats.AUTO:
            decisions[entry.feature] = _fixed(entry, method, threshold)
    return decisions


def _auto(auto: drift_stats.AutoResult, q_value: float | None, rule: DriftRule) -> Decision:
    drifted, reason = auto.verdict(q_value, rule.alpha, rule.min_effect)
    return Decision(drift_stats.AUTO, bool(drifted), reason, q_value=q_value)


def _fixed(entry: FeatureDrift, method: str, threshold: float | None) -> Decision:
    found = entry.methods.get(method)
    if found is None:
        return Decision(method, False, f"{method} does not apply to a {entry.kind} feature")
    if threshold is None:
        return Decision(method, bool(found.drifted), _fixed_reason(method, found.value, found.drifted, found.threshold))
    value = found.value
    drifted = None if value is None else (value < threshold if method in drift_stats.P_VALUE_METHODS else value > threshold)
    return Decision(method, bool(drifted), _fixed_reason(method, value, drifted, threshold), threshold=threshold,
                    method_drifted=drifted)


def _fixed_reason(method: str, value: float | None, drifted: bool | None, threshold: float) -> str:
    if value is None:
        return f"{method} could not be computed"
    side = "<" if method in drift_stats.P_VALUE_METHODS else ">"
    op = side if drifted else {"<": "≥", ">": "≤"}[side]
    return f"{method} {value:.3g} {op} {threshold:g} (fixed threshold)"
