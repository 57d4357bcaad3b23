"""Attributions (e.g. SHAP values) for a sampled share of predictions.

An explainer is any callable taking a list of rows (lists of feature values, in the
model's feature order) and returning attributions per row, in any of these shapes: a 2-D
array or nested lists (one value per feature, in feature order), a list of
{feature: value} dicts, a pandas DataFrame (a column per feature), a SHAP `Explanation`
(its `.values`), or, for a single row, one {feature: value} dict. Anything else is a
`ValueError` naming what was expected; the wrapped model catches it (and any exception
from the explainer), logs it once, counts it, and predicts anyway. `shap_explainer()` builds one with SHAP when it is installed; SHAP stays an
optional import. Sampling is by a hash of the prediction id, so it is deterministic and a
prediction's explanation can be found again.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable, Sequence

Explainer = Callable[[list[list[Any]]], Any]


def sampled(prediction_id: str, rate: float) -> bool:
    """Whether this prediction is in the explained share `rate` (0..1)."""
    if rate >= 1:
        return True
    if rate <= 0:
        return False
    digest = hashlib.blake2b(prediction_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate


def attributions(explainer: Explainer, names: Sequence[str], rows: list[list[Any]]) -> list[dict[str, float]]:
    """One {feature: attribution} per row (raises whatever the explainer raises, or
    `ValueError` for a result of another shape)."""
    if not rows:
        return []
    return per_row(explainer(rows), names, len(rows))


def per_row(values: Any, names: Sequence[str], count: int) -> list[dict[str, float]]:
    """An explainer's result as `count` {feature: attribution} dicts (see the module doc)."""
    if hasattr(values, "base_values") and hasattr(values, "values"):  # shap.Explanation
        values = values.values
    if hasattr(values, "to_dict") and hasattr(values, "columns"):  # pandas.DataFrame
        values = values.to_dict("records")
    elif hasattr(values, "tolist"):
        values = values.tolist()
    if isinstance(values, dict):
        values = [values]
    if not isinstance(values, (list, tuple)) or len(values) != count:
        size = len(values) if isinstance(values, (list, tuple)) else type(values).__name__
        raise ValueError(f"explainer returned {size} for {count} rows: expected attributions per row "
                         "(a 2-D array, lists, {feature: value} dicts or a DataFrame)")
    return [_row(row, names) for row in values]


def _row(row: Any, names: Sequence[str]) -> dict[str, float]:
    if isinstance(row, dict):
        return {str(name): float(value) for name, value in row.items()}
    if not isinstance(row, (list, tuple)) or len(row) != len(names):
        raise ValueError(f"explainer row {str(row)[:80]!r}: expected {len(names)} values (one per feature) "
                         "or a {feature: value} dict")
    return {name: float(value) for name, value in zip(names, row)}


def shap_explainer(estimator: Any, background: Any, max_background: int = 100) -> Explainer:
    """A SHAP explainer of a scikit-learn model's output (the positive/last class's
    probability for classifiers, the prediction for regressors). Needs `pip install shap`.

    Text (categorical) columns of `background` are fine: SHAP's maskers need numbers, so
    they are coded as integers for SHAP and decoded before the estimator sees them (a
    category absent from the background reaches it as `"__unknown__"`, which e.g. a
    `OneHotEncoder(handle_unknown="ignore")` ignores)."""
    try:
        import shap  # type: ignore[import-not-found]
    except ImportError:
        raise ImportError("shap_explainer needs SHAP: pip install shap") from None
    import numpy as np

    names = getattr(estimator, "feature_names_in_", None)
    codes = _Codes(np.asarray(background, dtype=object)[:max_background])

    def framed(x: Any) -> Any:
        """Rows as the estimator was fitted (a DataFrame when it saw column names)."""
        columns = codes.decode(x)
        if names is None:
            return np.column_stack(columns) if codes.categories else x
        import pandas as pd  # a dependency of shap

        return pd.DataFrame(dict(zip(list(names), columns)))

    if hasattr(estimator, "predict_proba"):
        def output(x: Any) -> Any:
            return estimator.predict_proba(framed(x))[:, -1]
    else:
        def output(x: Any) -> Any:
            return estimator.predict(framed(x))
    explainer = shap.Explainer(output, codes.encode(codes.sample))

    def explain(rows: list[list[Any]]) -> Any:
        return explainer(codes.encode(rows), silent=True).values  # no progress bar on the user's stderr

    return explain


UNKNOWN_CATEGORY = "__unknown__"


class _Codes:
    """Integer codes for a background's text columns (numbers pass through)."""

    def __init__(self, sample: Any) -> None:
        self.sample = sample
        self.categories = {j: sorted({str(v) for v in sample[:, j]}) for j in range(sample.shape[1])
                           if not all(_is_number(v) for v in sample[:, j])}

    def encode(self, rows: Any) -> Any:
        import numpy as np

        values = np.asarray(rows, dtype=object).copy()
        for j, names in self.categories.items():
            index = {name: code for code, name in enumerate(names)}
            values[:, j] = [index.get(str(v), len(names)) for v in values[:, j]]
        return values.astype(float)

    def decode(self, x: Any) -> list[Any]:
        """Columns of `x` (coded rows): floats, and category names for the text columns."""
        columns = [x[:, j] for j in range(x.shape[1])]
        for j, names in self.categories.items():
            columns[j] = [names[c] if 0 <= c < len(names) else UNKNOWN_CATEGORY for c in x[:, j].round().astype(int)]
        return columns


def _is_number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Number) and not isinstance(value, bool)
