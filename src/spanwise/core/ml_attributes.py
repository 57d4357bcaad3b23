"""Spanwise's canonical AI attributes and the names users already send for them.

There is no OpenTelemetry convention for classic ML inference yet (semantic-conventions
issue 3420), so this table is ours: change it here, document it in README.md. Users add
their own aliases in config (`ml.mappings`), which are tried before these.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

MODEL_NAME = "ml.model.name"
MODEL_VERSION = "ml.model.version"
PREDICTION_ID = "ml.prediction.id"
PREDICTION_VALUE = "ml.prediction.value"
PREDICTION_LABEL = "ml.prediction.label"
CONFIDENCE = "ml.prediction.confidence"
SCORE = "ml.prediction.score"
GROUND_TRUTH = "ml.label"

#: Prefixes whose suffix names a feature, a class (probability) or an attributed feature.
FEATURE_PREFIX = "ml.feature."
PROBA_PREFIX = "ml.prediction.proba."
EXPLANATION_PREFIX = "ml.explanation."

#: Attributes holding a whole feature dict as a JSON or Python-literal string (the seed
#: example's `str(features)`), parsed safely, never evaluated.
FEATURE_DICT_KEYS = ("ml.features", "model.input_features", "features.data")

#: canonical scalar field -> accepted attribute keys, first present wins.
DEFAULT_ALIASES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        MODEL_NAME: (MODEL_NAME, "model.name", "gen_ai.request.model", "llm.model_name"),
        MODEL_VERSION: (MODEL_VERSION, "model.version"),
        PREDICTION_ID: (PREDICTION_ID, "prediction.id"),
        PREDICTION_VALUE: (PREDICTION_VALUE, "model.output_prediction", "prediction.value"),
        PREDICTION_LABEL: (PREDICTION_LABEL, "prediction.label"),
        CONFIDENCE: (CONFIDENCE, "model.confidence", "prediction.confidence"),
        SCORE: (SCORE, "model.score"),
        GROUND_TRUTH: (GROUND_TRUTH, "ml.ground_truth"),
    }
)


def aliases_with(user_mappings: Mapping[str, list[str]]) -> dict[str, tuple[str, ...]]:
    """The alias table with the user's keys tried first for each canonical field."""
    merged = dict(DEFAULT_ALIASES)
    for canonical, keys in user_mappings.items():
        merged[canonical] = tuple(keys) + tuple(k for k in merged.get(canonical, ()) if k not in keys)
    return merged
