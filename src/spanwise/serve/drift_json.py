"""JSON of drift reports and baselines, exactly as the drift routes answer (field names of
the API, times as `*_unix_nano`), kept apart from the values so signals and alerts read
typed attributes and only this edge knows the wire."""

from __future__ import annotations

from typing import Any

from spanwise.analyze import drift_stats
from spanwise.analyze.drift_report import DriftReport, FeatureDrift, Reference
from spanwise.analyze.drift_rule import DriftRule
from spanwise.store.profiles import Baseline, CategoricalProfile, NumericProfile

Json = dict[str, Any]


def baseline_json(b: Baseline) -> Json:
    found: Json = {"name": b.name, "version": b.version or None, "kind": b.kind, "created_unix_nano": b.created_ns}
    if b.kind == "window":
        found.update(start_unix_nano=b.start_ns, end_unix_nano=b.end_ns)
    if b.kind == "rolling":
        found.update(lookback_seconds=b.rolling_s)
    if b.profile is not None:
        found.update(rows=b.profile.rows, numeric=sorted(b.profile.numeric), categorical=sorted(b.profile.categorical))
    return found


def baselines_json(model: str, baselines: list[Baseline]) -> Json:
    return {"name": model, "baselines": [baseline_json(b) for b in baselines]}


def drift_json(r: DriftReport) -> Json:
    return {
        "name": r.name, "version": r.version, "start_unix_nano": r.start_ns, "end_unix_nano": r.end_ns,
        "reference": _reference(r.reference), "current": {"rows": r.current_rows},
        "thresholds": drift_stats.THRESHOLDS, "psi_epsilon": drift_stats.PSI_EPSILON, "rule": _rule(r.rule),
        "drifted": r.drifted, "drifted_features": r.drifted_features, "share_drifted": r.share_drifted,
        "note": r.note,
        "features": [feature_json(f, r.rule) for f in r.features],
        "predictions": [feature_json(f, r.rule) for f in r.predictions],
        "label": feature_json(r.label, r.rule) if r.label else None,
    }


def _rule(rule: DriftRule) -> Json:
    return {"method": rule.method, "threshold": rule.threshold, "alpha": rule.alpha,
            "min_effect": rule.min_effect, "correction": "benjamini-hochberg",
            "per_feature": {k: {"method": m, "threshold": t} for k, (m, t) in rule.per_feature.items()}}


def _reference(ref: Reference) -> Json:
    if ref.baseline is None:
        found: Json = {"kind": ref.kind, "start_unix_nano": ref.start_ns, "end_unix_nano": ref.end_ns}
    else:
        found = baseline_json(ref.baseline)
        if ref.baseline.kind == "rolling":
            found.update(start_unix_nano=ref.start_ns, end_unix_nano=ref.end_ns)
    found["rows"] = ref.rows
    return found


def feature_json(f: FeatureDrift, rule: DriftRule) -> Json:
    found: Json = {"feature": f.feature, "type": f.kind, "reference": _profile(f.reference),
                   "current": _profile(f.current), "methods": _methods(f, rule)}
    if f.new_categories is not None:
        found["new_categories"] = list(f.new_categories)
    found.update(method=f.decision.method if f.decision else None, drifted=f.drifted)
    if f.decision:
        found["reason"] = f.decision.reason
    if f.note is not None:
        found["note"] = f.note
    return found


def _methods(f: FeatureDrift, rule: DriftRule) -> Json:
    """Every method's result; the deciding fixed method's with its reason (and the
    request's threshold), `auto` when it decided."""
    found = {k: _method(v) for k, v in f.methods.items()}
    decision = f.decision
    if decision is None:
        return found
    if decision.method == drift_stats.AUTO:
        if f.auto is not None:
            found[drift_stats.AUTO] = _auto(f.auto, decision.q_value, rule)
    elif decision.method in found:
        chosen = found[decision.method]
        if decision.threshold is not None:
            chosen = {**chosen, "threshold": decision.threshold, "drifted": decision.method_drifted}
        chosen["reason"] = decision.reason
        found[decision.method] = chosen
    return found


def _method(m: drift_stats.MethodResult) -> Json:
    found: Json = {"value": m.value, "threshold": m.threshold, "drifted": m.drifted}
    if m.statistic is not None:
        found["statistic"] = m.statistic
    return found


def _auto(a: drift_stats.AutoResult, q_value: float | None, rule: DriftRule) -> Json:
    """The `auto` rule's result at this adjusted p-value, with the rule's alpha and effect floor."""
    drifted, why = a.verdict(q_value, rule.alpha, rule.min_effect)
    return {"value": a.effect, "threshold": rule.min_effect, "drifted": drifted, "test": a.test,
            "statistic": a.statistic, "p_value": a.p_value, "p_value_adjusted": q_value, "alpha": rule.alpha,
            "effect": a.effect_name, "correction": "benjamini-hochberg", "reason": why}


def _profile(p: NumericProfile | CategoricalProfile | None) -> Json | None:
    if isinstance(p, NumericProfile):
        return {"count": p.count, "missing": p.missing, "min": p.minimum, "max": p.maximum, "edges": list(p.edges),
                "counts": list(p.counts), "sample_size": len(p.sample)}
    if isinstance(p, CategoricalProfile):
        return {"counts": dict(p.counts), "missing": p.missing}
    return None
