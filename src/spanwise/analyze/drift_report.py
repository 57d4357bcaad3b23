"""What `DriftService.drift` finds, as values: the report, one `FeatureDrift` per feature
or model output, with the `Decision` `drift_rule.decide` reached on it. The wire form is
`serve/drift_json.py`'s; signals and alerts read these attributes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from spanwise.analyze import drift_stats
from spanwise.analyze.drift_rule import Decision, DriftRule
from spanwise.store.profiles import Baseline, CategoricalProfile, NumericProfile


@dataclass(frozen=True)
class FeatureDrift:
    """One feature (or `@prediction`, `@prediction_label`, `@label`): both sides' profiles,
    every applicable method's result, and the decision (None when a side is missing)."""

    feature: str
    kind: str
    reference: NumericProfile | CategoricalProfile | None
    current: NumericProfile | CategoricalProfile | None
    methods: Mapping[str, drift_stats.MethodResult] = field(default_factory=dict)
    auto: drift_stats.AutoResult | None = None
    new_categories: tuple[str, ...] | None = None
    decision: Decision | None = None
    drifted: bool = False
    note: str | None = None

    @property
    def value(self) -> float | None:
        """The deciding method's value (the effect size for `auto`), None when undecided."""
        if self.decision is None:
            return None
        if self.decision.method == drift_stats.AUTO:
            return self.auto.effect if self.auto else None
        found = self.methods.get(self.decision.method)
        return found.value if found else None


@dataclass(frozen=True)
class Reference:
    """What the current window was compared with: a baseline, or a window (`preceding`
    by default, `window` when the request named the range), and its row count. The range
    is the window's, a rolling baseline's for this request, a window baseline's; None for
    an uploaded profile."""

    kind: str
    rows: int
    start_ns: int | None = None
    end_ns: int | None = None
    baseline: Baseline | None = None


@dataclass(frozen=True)
class DriftReport:
    name: str
    version: str | None
    start_ns: int
    end_ns: int
    reference: Reference
    current_rows: int
    rule: DriftRule
    features: tuple[FeatureDrift, ...]
    predictions: tuple[FeatureDrift, ...]
    label: FeatureDrift | None

    @property
    def drifted_features(self) -> list[str]:
        return [f.feature for f in self.features if f.drifted]

    @property
    def drifted(self) -> bool:
        """Any input feature drifted (model outputs and the label are reported apart)."""
        return bool(self.drifted_features)

    @property
    def share_drifted(self) -> float | None:
        return len(self.drifted_features) / len(self.features) if self.features else None

    @property
    def note(self) -> str | None:
        return None if self.reference.rows else "the reference has no predictions: nothing can be flagged"
