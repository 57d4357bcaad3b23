"""Turn Python values (numpy scalars, dicts of features, class probabilities) into the
canonical `ml.*` span attributes the server reads into typed columns.

Features travel as one `ml.feature.<name>` attribute each, not as a JSON dict: the server
maps those columns without parsing a string per span (DESIGN.md, "The hot path").
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime
from typing import Any, Mapping, Union

from spanwise.core import ml_attributes as ml

#: What an OpenTelemetry attribute may hold (scalars only here).
Scalar = Union[str, bool, int, float]
Attributes = dict[str, Scalar]


def new_prediction_id() -> str:
    """A random id for a prediction the caller did not name (kept for its feedback)."""
    return uuid.uuid4().hex


def scalar(value: Any) -> Scalar | None:
    """An attribute value for `value`, or None for a missing one (None, NaN).

    numpy scalars become Python numbers; dates become ISO 8601; anything else its str()."""
    if value is None:
        return None
    if not isinstance(value, (str, bytes, bool, int, float)) and hasattr(value, "item"):
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def identity(model: str, version: str, prediction_id: str) -> Attributes:
    """Model name, version and prediction id attributes (an empty version is left out,
    so the server can take it from an ancestor span)."""
    found: Attributes = {ml.MODEL_NAME: model, ml.PREDICTION_ID: prediction_id}
    if version:
        found[ml.MODEL_VERSION] = version
    return found


def features(values: Mapping[str, Any] | None) -> Attributes:
    """One `ml.feature.<name>` per present feature; missing values are left out, which
    the server counts as missing."""
    found: Attributes = {}
    for name, value in (values or {}).items():
        converted = scalar(value)
        if converted is not None:
            found[ml.FEATURE_PREFIX + str(name)] = converted
    return found


def output(
    value: Any = None, label: Any = None, confidence: float | None = None,
    scores: Mapping[Any, float] | None = None, score: float | None = None,
) -> Attributes:
    """Prediction attributes. A string `value` is a label; `scores` are per-class
    probabilities (`ml.prediction.proba.<class>`) and give the confidence (their maximum)
    when none is given."""
    found: Attributes = {}
    converted = scalar(value)
    if isinstance(converted, str):
        label, converted = converted if label is None else label, None
    if isinstance(converted, (int, float)) and not isinstance(converted, bool):
        found[ml.PREDICTION_VALUE] = float(converted)
    elif isinstance(converted, bool):
        label = str(converted).lower() if label is None else label
    label_text = scalar(label)
    if label_text is not None:
        found[ml.PREDICTION_LABEL] = label_text if isinstance(label_text, str) else _label_text(label_text)
    probabilities = {str(scalar(k)): float(v) for k, v in (scores or {}).items() if scalar(v) is not None}
    for klass, probability in probabilities.items():
        found[ml.PROBA_PREFIX + klass] = probability
    if confidence is None and probabilities:
        confidence = max(probabilities.values())
    if confidence is not None and not math.isnan(float(confidence)):
        found[ml.CONFIDENCE] = float(confidence)
    if score is not None:
        found[ml.SCORE] = float(score)
    return found


def explanations(attributions: Mapping[str, Any] | None) -> Attributes:
    """`ml.explanation.<feature>` per numeric attribution (e.g. a SHAP value)."""
    found: Attributes = {}
    for name, value in (attributions or {}).items():
        converted = scalar(value)
        if isinstance(converted, (int, float)) and not isinstance(converted, bool):
            found[ml.EXPLANATION_PREFIX + str(name)] = float(converted)
    return found


def _label_text(value: Scalar) -> str:
    """Labels are text on the server; 1.0 and 1 must both read "1" so feedback matches."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def label_text(value: Any) -> str:
    """The text form of a class or ground-truth label (same rule as predicted labels)."""
    converted = scalar(value)
    return "" if converted is None else (converted if isinstance(converted, str) else _label_text(converted))
