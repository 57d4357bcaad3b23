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

from dataclasses import dataclass, replace

from spanwise.analyze.stat_tests import benjamini_hochberg, binomial_excess, fisher_greater
from spanwise.store.protocols import FeatureCategories, FeaturePresence, FeatureQualityCounts, FeatureRange, WindowQuery

MISSING_TOLERANCE = 0.05
OUT_OF_RANGE_TOLERANCE = 0.05
ALPHA = 0.01
#: Issues in the order a feature lists them.
ISSUES = ("missing", "type_change", "appeared", "vanished", "out_of_range", "new_categories")


@dataclass(frozen=True)
class FeatureQuality:
    """One feature in a window against its reference. `kind` is how it arrived: "numeric",
    "string", "mixed" (both) or None (absent); the range fields are None without numeric
    values, `categories` None without strings; new categories count only where the
    reference saw strings. The p-values of the two tests are None where they cannot run,
    the adjusted ones None unless the tolerance was exceeded. `issues` in `ISSUES` order."""

    name: str
    kind: str | None
    reference_kind: str | None
    present: int
    numeric: int
    strings: int
    missing_rate: float
    reference_missing_rate: float | None
    minimum: float | None
    maximum: float | None
    reference_minimum: float | None
    reference_maximum: float | None
    outside_reference_range: float | None
    categories: int | None
    new_categories: tuple[str, ...]
    new_category_count: int
    new_category_rows: int
    missing_p_value: float | None
    out_of_range_p_value: float | None
    missing_p_value_adjusted: float | None
    out_of_range_p_value_adjusted: float | None
    issues: tuple[str, ...]


@dataclass(frozen=True)
class DataQualityWindow:
    """Window `window` ([start_ns, end_ns]) and its reference's predictions, and every
    feature seen in any of the query's windows or the reference."""

    window: int
    start_ns: int
    end_ns: int
    predictions: int
    reference_predictions: int
    features: tuple[FeatureQuality, ...]

    @property
    def issue_count(self) -> int:
        return sum(len(f.issues) for f in self.features)


def _type(numeric: int, strings: int) -> str | None:
    if numeric and strings:
        return "mixed"
    return "numeric" if numeric else ("string" if strings else None)


def data_quality(counts: FeatureQualityCounts, query: WindowQuery) -> list[DataQualityWindow]:
    """The query's windows that have predictions, with their features and issues."""
    totals = counts.predictions
    presence = {(r.window, r.name): r for r in counts.presence}
    ranges = {(r.window, r.name): r for r in counts.ranges}
    categories = {(r.window, r.name): r for r in counts.categories}
    names = sorted({name for _, name in presence})
    found = []
    for w in range(query.windows()):
        n = totals.get(w, 0)
        if not n:
            continue
        ref = -1 if query.reference_start_ns is not None else w - 1
        ref_n = totals.get(ref, 0)
        features = [_feature(name, n, ref_n, presence.get((w, name)), presence.get((ref, name)),
                             ranges.get((w, name)), categories.get((w, name))) for name in names]
        start, end = query.window_range(w)
        found.append(DataQualityWindow(w, start, end, n, ref_n, _tested(features)))
    return found


def _tested(features: list[FeatureQuality]) -> tuple[FeatureQuality, ...]:
    """Raise `missing` / `out_of_range` where the tolerance is exceeded and the p-value,
    adjusted across the window's features, is below ALPHA."""
    missing = benjamini_hochberg([
        f.missing_p_value if f.reference_missing_rate is not None and "vanished" not in f.issues
        and f.missing_rate - f.reference_missing_rate > MISSING_TOLERANCE else None
        for f in features
    ])
    out_of_range = benjamini_hochberg([
        f.out_of_range_p_value if f.outside_reference_range is not None
        and f.outside_reference_range > OUT_OF_RANGE_TOLERANCE else None
        for f in features
    ])
    tested = []
    for f, q_missing, q_range in zip(features, missing, out_of_range):
        raised = set(f.issues)
        if q_missing is not None and q_missing < ALPHA:
            raised.add("missing")
        if q_range is not None and q_range < ALPHA:
            raised.add("out_of_range")
        tested.append(replace(f, missing_p_value_adjusted=q_missing, out_of_range_p_value_adjusted=q_range,
                              issues=tuple(i for i in ISSUES if i in raised)))
    return tuple(tested)


def _feature(
    name: str, n: int, ref_n: int, here: FeaturePresence | None, there: FeaturePresence | None,
    span: FeatureRange | None, cats: FeatureCategories | None,
) -> FeatureQuality:
    """The feature's figures and untested issues (`_tested` adds the tested ones)."""
    present = here.present if here else 0
    numeric, strings = (here.numeric, here.strings) if here else (0, 0)
    ref_present = there.present if there else 0
    kind = _type(numeric, strings)
    ref_kind = _type(there.numeric, there.strings) if there else None
    outside = span.outside / numeric if span and span.reference_minimum is not None and numeric else None
    checked_categories = cats is not None and bool(there and there.strings)
    ref_values = there.numeric if there else 0
    issues = []
    if kind == "mixed" or (kind and ref_kind and kind != ref_kind):
        issues.append("type_change")
    if present and ref_n and not ref_present:
        issues.append("appeared")
    if ref_present and not present:
        issues.append("vanished")
    if cats and checked_categories and cats.new_category_count:
        issues.append("new_categories")
    return FeatureQuality(
        name=name, kind=kind, reference_kind=ref_kind, present=present, numeric=numeric, strings=strings,
        missing_rate=1 - present / n, reference_missing_rate=1 - ref_present / ref_n if ref_n else None,
        minimum=span.minimum if span else None, maximum=span.maximum if span else None,
        reference_minimum=span.reference_minimum if span else None,
        reference_maximum=span.reference_maximum if span else None,
        outside_reference_range=outside,
        categories=cats.categories if cats else None,
        new_categories=cats.new_categories if cats and checked_categories else (),
        new_category_count=cats.new_category_count if cats and checked_categories else 0,
        new_category_rows=cats.new_category_rows if cats and checked_categories else 0,
        missing_p_value=fisher_greater(ref_n - ref_present, ref_n, n - present, n),
        out_of_range_p_value=(binomial_excess(span.outside, numeric, 2 / (ref_values + 1))
                              if span is not None and outside is not None else None),
        missing_p_value_adjusted=None, out_of_range_p_value_adjusted=None,
        issues=tuple(issues),
    )
