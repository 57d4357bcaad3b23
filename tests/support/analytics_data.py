"""Deterministic predictions of a `fraud` model with known injected changes, for the data
quality, explanation and version-comparison tests.

Four minutes of data, 40 predictions per minute and version; queries use 60 s windows
starting at `START_NS` (windows 0, 1, 2), so minute -1 is window 0's preceding window.
Version v1 (data quality and explanations):
- `amount` (numeric) and `country` (categorical) repeat the same values every minute: never flagged;
- `age`: missing in a quarter of window 1's predictions;
- `score_in`: a quarter of window 2's values above the range of window 1;
- `zip`: a string, but numeric in half of window 2's predictions (a type change);
- `country`: a new category `BR` in window 1;
- `device`: appears in window 2; `legacy`: vanishes in window 1;
- attributions: `age`'s triple in window 2, `amount`'s never change.
Version v2 is the same model, 20 ms slower per prediction; errors, labels, confidence,
prediction values and accuracy are identical in both versions.
"""

from __future__ import annotations

import time
from typing import Any

from model_data import Prediction, export_request  # noqa: F401 - re-exported for the analytics suite

MINUTE = 60 * 10**9
#: Window 0 starts here; the first data minute (-1) starts one minute earlier, all in the past.
START_NS = (time.time_ns() - 10 * MINUTE) // 10**9 * 10**9
END_NS = START_NS + 3 * MINUTE - 1
PER_MINUTE = 40


def fraud_predictions() -> list[Prediction]:
    made = []
    for version, slower in (("v1", 0.0), ("v2", 20.0)):
        for minute in (-1, 0, 1, 2):
            for i in range(PER_MINUTE):
                made.append(Prediction(
                    f"fraud-{version}-{minute}-{i}", "fraud", version,
                    START_NS + minute * MINUTE + i * 10**9 + 10**6, 10.0 + (i * 7 % 20) + slower, i % 10 == 0,
                    _attributes(minute, i), span_label="fraud" if i % 4 == 0 else "ok",
                ))
    return made


def _attributes(minute: int, i: int) -> dict[str, Any]:
    found: dict[str, Any] = {
        "ml.prediction.value": (i % 10) / 10,
        "ml.prediction.label": "fraud" if i % 5 == 0 else "ok",
        "ml.prediction.confidence": 0.5 + (i % 10) / 20,
        "ml.feature.amount": float(i % 20),
        "ml.feature.country": ("US", "DE", "FR")[i % 3],
        "ml.feature.score_in": float(i % 20),
        "ml.feature.zip": str(10000 + i % 5),
        "ml.explanation.amount": (i % 8 - 4) / 10,
        "ml.explanation.age": (i % 5 - 2) / 20 * (3 if minute == 2 else 1),
    }
    if not (minute == 1 and i % 4 == 0):
        found["ml.feature.age"] = float(20 + i % 30)
    if minute == 2 and i % 2 == 0:
        found["ml.feature.score_in"] = float(i % 20 + 10)
    if minute == 2 and i % 2 == 0:
        found["ml.feature.zip"] = float(10000 + i % 5)
    if minute == 1 and i % 10 == 0:
        found["ml.feature.country"] = "BR"
    if minute == 2:
        found["ml.feature.device"] = "ios" if i % 2 else "android"
    if minute < 1:
        found["ml.feature.legacy"] = 1.0
    return found


def in_window(rows: list[Prediction], version: str, window: int) -> list[Prediction]:
    """Predictions of a version in window `window` (-1: the reference minute)."""
    lo = START_NS + window * MINUTE
    return [p for p in rows if p.version == version and lo <= p.start_ns < lo + MINUTE]
