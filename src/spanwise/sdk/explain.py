"""Attributions (e.g. SHAP values) for a sampled share of predictions.

An explainer is any callable taking a list of rows (lists of feature values, in the
model's feature order) and returning one attribution per feature and row (a 2-D array or
nested lists). `shap_explainer()` builds one with SHAP when it is installed; SHAP stays an
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
    """One {feature: attribution} per row."""
    if not rows:
        return []
    values = explainer(rows)
    listed = values.tolist() if hasattr(values, "tolist") else values
    return [{name: float(v) for name, v in zip(names, row)} for row in listed]


def shap_explainer(estimator: Any, background: Any, max_background: int = 100) -> Explainer:
    """A SHAP explainer of a scikit-learn model's output (the positive/last class's
    probability for classifiers, the prediction for regressors). Needs `pip install shap`."""
    try:
        import shap  # type: ignore[import-not-found]
    except ImportError:
        raise ImportError("shap_explainer needs SHAP: pip install shap") from None
    import numpy as np

    sample = np.asarray(background)[:max_background]
    names = getattr(estimator, "feature_names_in_", None)

    def framed(x: Any) -> Any:
        """Rows as the estimator was fitted (a DataFrame when it saw column names)."""
        if names is None:
            return x
        import pandas as pd  # a dependency of shap

        return pd.DataFrame(x, columns=list(names))

    if hasattr(estimator, "predict_proba"):
        def output(x: Any) -> Any:
            return estimator.predict_proba(framed(x))[:, -1]
    else:
        def output(x: Any) -> Any:
            return estimator.predict(framed(x))
    explainer = shap.Explainer(output, sample)

    def explain(rows: list[list[Any]]) -> Any:
        return explainer(np.asarray(rows, dtype=float)).values

    return explain
