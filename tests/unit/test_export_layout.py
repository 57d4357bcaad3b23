"""Wide and long export layouts of the store's export rows (`spanwise.analyze.export`)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from spanwise.analyze.export import MAX_WIDE_COLUMNS, flatten_export, long_export
from spanwise.errors import InvalidQuery

NUMBERS = pa.map_(pa.string(), pa.float64())
TEXTS = pa.map_(pa.string(), pa.string())


def rows(features: list[list[tuple[str, float]]], chunks: int = 1) -> pa.Table:
    """Export rows as the store answers them, one per feature list, in `chunks` chunks."""
    n = len(features)
    columns: dict[str, Any] = {
        "TimestampNs": pa.array(range(n), pa.int64()), "PredictionId": pa.array([f"p{i}" for i in range(n)]),
        "TraceId": pa.array(["t"] * n), "SpanId": pa.array(["s"] * n), "ServiceName": pa.array(["svc"] * n),
        "ModelName": pa.array(["m"] * n), "ModelVersion": pa.array(["v1"] * n),
        "Features": pa.array(features, NUMBERS), "StringFeatures": pa.array(([[("color", "red")]] + [[]] * n)[:n], TEXTS),
        "PredictionValue": pa.array([1.0] * n), "PredictionLabel": pa.array([""] * n),
        "Confidence": pa.array([None] * n, pa.float64()), "Scores": pa.array([[]] * n, NUMBERS),
        "Attributions": pa.array([[]] * n, NUMBERS), "Label": pa.array([None] * n, pa.string()),
        "LabelTimestampNs": pa.array([None] * n, pa.int64()), "LabelSource": pa.array([None] * n, pa.string()),
    }
    table = pa.table(columns)
    size = max(1, -(-n // chunks))
    return pa.concat_tables([table.slice(i, size) for i in range(0, n, size)]) if n else table


def test_wide_is_refused_past_the_column_limit_and_long_keeps_everything() -> None:
    features = [[(f"f{i}", float(i))] for i in range(MAX_WIDE_COLUMNS + 1)]
    with pytest.raises(InvalidQuery, match="layout=long"):
        flatten_export(rows(features))
    assert "feature.f0" in flatten_export(rows(features[: MAX_WIDE_COLUMNS - 1])).column_names
    long = long_export(rows(features, chunks=3)).to_pylist()
    assert [(r["prediction_id"], r["key"], r["value"], r["value_text"]) for r in long[:3]] == [
        ("p0", "color", None, "red"), ("p0", "f0", 0.0, None), ("p1", "f1", 1.0, None)]  # features by name
    assert len(long) == len(features) + 1


def test_long_keeps_predictions_without_entries_and_a_slice_stays_a_slice() -> None:
    table = rows([[("a", 1.0), ("b", 2.0)], [], [("c", 3.0)]]).slice(1)
    long = long_export(table).to_pylist()
    assert [(r["prediction_id"], r["kind"], r["key"]) for r in long] == [("p1", None, None), ("p2", "feature", "c")]
    assert long_export(rows([])).num_rows == 0
