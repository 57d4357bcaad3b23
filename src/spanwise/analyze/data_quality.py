"""Data quality per feature and window from the store's counts (`feature_quality`).

Each window is compared with its reference (the preceding window of equal length, or a
fixed reference range). Issues raised per feature and window:
- `missing`: the share of predictions without the feature grew by more than
  `MISSING_TOLERANCE` over the reference's, and significantly so (one-sided Fisher exact
  test; a feature seen in the model's predictions — in any window or the reference — but
  absent from a prediction counts as missing);
- `type_change`: the feature arrived both as a number and as a string in the window, or
  with another type than in the reference;
- `appeared` / `vanished`: present in the window and not in the (non-empty) reference,
  or the other way round;
- `out_of_range`: more than `OUT_OF_RANGE_TOLERANCE` of the numeric values fall outside the
  reference's [min, max], and more than chance allows (a new value from an unchanged
  continuous distribution falls outside the min and max of N reference values with
  probability 2 / (N + 1): one-sided binomial test);
- `new_categories`: string values never seen in the reference (for features the
  reference saw as strings).

The two tests' p-values are adjusted across a window's features (Benjamini-Hochberg) and
flag below `ALPHA`, so a window of 30 predictions raises no missing/out-of-range issue by
chance alone (a fixed tolerance alone did: 2 missing of 30 is 6.7%).
"""

from __future__ import annotations

from typing import Any

from spanwise.analyze.stat_tests import benjamini_hochberg, binomial_excess, fisher_greater
from spanwise.store.protocols import FeatureCategories, FeaturePresence, FeatureQualityCounts, FeatureRange

MISSING_TOLERANCE = 0.05
OUT_OF_RANGE_TOLERANCE = 0.05
ALPHA = 0.01
_TESTED = (("missing", "missing_p_value"), ("out_of_range", "out_of_range_p_value"))


def _type(numeric: int, strings: int) -> str | None:
    if numeric and strings:
        return "mixed"
    return "numeric" if numeric else ("string" if strings else None)


def data_quality(counts: FeatureQualityCounts, windows: int, fixed_reference: bool) -> list[dict[str, Any]]:
    """Per window (0..windows-1, with predictions) the features and their issues."""
    totals = counts.predictions
    presence = {(r.window, r.name): r for r in counts.presence}
    ranges = {(r.window, r.name): r for r in counts.ranges}
    categories = {(r.window, r.name): r for r in counts.categories}
    names = sorted({name for _, name in presence})
    found = []
    for w in range(windows):
        n = totals.get(w, 0)
        if not n:
            continue
        ref = -1 if fixed_reference else w - 1
        ref_n = totals.get(ref, 0)
        features = [_feature(name, n, ref_n, presence.get((w, name)), presence.get((ref, name)),
                             ranges.get((w, name)), categories.get((w, name))) for name in names]
        _tested_issues(features)
        found.append({"window": w, "predictions": n, "reference_predictions": ref_n, "features": features,
                      "issues": sum(len(f["issues"]) for f in features)})
    return found


def _tested_issues(features: list[dict[str, Any]]) -> None:
    """Raise `missing` / `out_of_range` where the tolerance is exceeded and the adjusted
    p-value is below ALPHA; the issue leads the list as it always has."""
    for issue, key in _TESTED:
        adjusted = benjamini_hochberg([f[key] if f.pop(f"_{issue}_over", False) else None for f in features])
        for feature, q in zip(features, adjusted):
            feature[f"{key}_adjusted"] = q
            if q is not None and q < ALPHA:
                feature["issues"].insert(0 if issue == "missing" else len(feature["issues"]), issue)
    for feature in features:
        order = ["missing", "type_change", "appeared", "vanished", "out_of_range", "new_categories"]
        feature["issues"].sort(key=order.index)


def _feature(
    name: str, n: int, ref_n: int, here: FeaturePresence | None, there: FeaturePresence | None,
    span: FeatureRange | None, cats: FeatureCategories | None,
) -> dict[str, Any]:
    present = here.present if here else 0
    numeric, strings = (here.numeric, here.strings) if here else (0, 0)
    ref_present = there.present if there else 0
    kind = _type(numeric, strings)
    ref_kind = _type(there.numeric, there.strings) if there else None
    missing = 1 - present / n
    ref_missing = 1 - ref_present / ref_n if ref_n else None
    outside = span.outside / numeric if span and span.reference_minimum is not None and numeric else None
    checked_categories = bool(cats) and bool(there and there.strings)
    new_values = list(cats.new_categories) if cats and checked_categories else []
    result: dict[str, Any] = {
        "name": name, "type": kind, "reference_type": ref_kind, "present": present, "numeric": numeric,
        "strings": strings, "missing_rate": missing, "reference_missing_rate": ref_missing,
        "min": span.minimum if span else None, "max": span.maximum if span else None,
        "reference_min": span.reference_minimum if span else None,
        "reference_max": span.reference_maximum if span else None,
        "outside_reference_range": outside,
        "categories": cats.categories if cats else None,
        "new_categories": new_values,
        "new_category_count": cats.new_category_count if cats and checked_categories else 0,
        "new_category_rows": cats.new_category_rows if cats and checked_categories else 0,
    }
    issues = []
    appeared = bool(present and ref_n and not ref_present)
    vanished = bool(ref_present and not present)
    result["missing_p_value"] = fisher_greater(ref_n - ref_present, ref_n, n - present, n)
    result["_missing_over"] = ref_missing is not None and not vanished and missing - ref_missing > MISSING_TOLERANCE
    ref_values = there.numeric if there else 0
    result["out_of_range_p_value"] = (binomial_excess(span.outside, numeric, 2 / (ref_values + 1))
                                      if span is not None and outside is not None else None)
    result["_out_of_range_over"] = outside is not None and outside > OUT_OF_RANGE_TOLERANCE
    if kind == "mixed" or (kind and ref_kind and kind != ref_kind):
        issues.append("type_change")
    if appeared:
        issues.append("appeared")
    if vanished:
        issues.append("vanished")
    if result["new_category_count"]:
        issues.append("new_categories")
    result["issues"] = issues
    return result
