"""Explainers of every documented shape give `ml.explanation.<feature>` on a wrapped model's
predictions; one that raises or returns nonsense never breaks `predict`: it is logged once,
counted, marked on the call's span, and the predictions are recorded without attributions."""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sklearn.linear_model import LogisticRegression

from spanwise.sdk import Spanwise
from spanwise.sdk.explain import per_row

NAMES = ["x0", "x1"]
X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
CLF = LogisticRegression().fit(np.array([[0.0, 0.0], [1.0, 1.0], [6.0, 6.0], [7.0, 7.0]]), [0, 0, 1, 1])


@pytest.fixture()
def memory() -> Iterator[tuple[Spanwise, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    sw = Spanwise("unit", "http://127.0.0.1:9", exporter=exporter, feedback_interval_s=60, logs=False, metrics=False)
    yield sw, exporter
    sw.shutdown(1)


SHAPES: dict[str, Callable[[list[list[Any]]], Any]] = {
    "array": lambda rows: np.asarray(rows) / 10,
    "nested lists": lambda rows: [[v / 10 for v in row] for row in rows],
    "dict per row": lambda rows: [{"x0": row[0] / 10, "x1": row[1] / 10} for row in rows],
    "DataFrame": lambda rows: pd.DataFrame(np.asarray(rows) / 10, columns=NAMES),
}


@pytest.mark.parametrize("shape", list(SHAPES))
def test_each_documented_shape_is_recorded(memory: tuple[Spanwise, InMemorySpanExporter], shape: str) -> None:
    sw, exporter = memory
    model = sw.wrap(CLF, "m", "v1", feature_names=NAMES, explainer=SHAPES[shape], explain_sample_rate=1.0)
    assert list(model.predict(X)) == list(CLF.predict(X))
    sw.provider.force_flush()
    rows = sorted((dict(s.attributes or {}) for s in exporter.get_finished_spans() if s.name == "predict"),
                  key=lambda a: a["ml.feature.x0"])
    assert [(a["ml.explanation.x0"], a["ml.explanation.x1"]) for a in rows] == [(0.1, 0.2), (0.3, 0.4), (0.5, 0.6)]
    assert model.explainer_failures == 0


def test_a_single_row_may_be_one_dict_and_shap_explanations_unwrap() -> None:
    assert per_row({"x0": 1, "x1": 2}, NAMES, 1) == [{"x0": 1.0, "x1": 2.0}]

    class Explanation:  # what shap.Explainer returns: .values and .base_values
        values = np.array([[0.5, -0.5]])
        base_values = np.array([0.1])

    assert per_row(Explanation(), NAMES, 1) == [{"x0": 0.5, "x1": -0.5}]
    with pytest.raises(ValueError, match="explainer returned 1 for 2 rows"):
        per_row([[1, 2]], NAMES, 2)
    with pytest.raises(ValueError, match="expected 2 values"):
        per_row([[1, 2, 3]], NAMES, 1)


BROKEN: dict[str, Callable[[list[list[Any]]], Any]] = {
    "raises": lambda rows: 1 / 0,
    "wrong row count": lambda rows: np.zeros((len(rows) + 1, 2)),
    "text values": lambda rows: [{"x0": "high"} for _ in rows],
    "3-D (per class)": lambda rows: np.zeros((len(rows), 2, 2)),
}


@pytest.mark.parametrize("kind", list(BROKEN))
def test_a_failing_explainer_never_breaks_the_prediction(
        memory: tuple[Spanwise, InMemorySpanExporter], kind: str, caplog: pytest.LogCaptureFixture) -> None:
    sw, exporter = memory
    model = sw.wrap(CLF, "m", "v1", feature_names=NAMES, explainer=BROKEN[kind], explain_sample_rate=1.0)
    with caplog.at_level(logging.WARNING, logger="spanwise.sdk.sklearn"):
        assert list(model.predict(X)) == list(CLF.predict(X))
        assert list(model.predict(X[:1])) == list(CLF.predict(X[:1]))
    assert model.explainer_failures == 2
    assert len([r for r in caplog.records if "explainer of m v1 failed" in r.getMessage()]) == 1
    sw.provider.force_flush()
    spans = exporter.get_finished_spans()
    predictions = [s for s in spans if s.name == "predict"]
    assert len(predictions) == 4 and all("ml.prediction.label" in (s.attributes or {}) for s in predictions)
    assert not any(k.startswith("ml.explanation.") for s in predictions for k in (s.attributes or {}))
    marked = [s for s in spans if "ml.explainer.error" in (s.attributes or {})]
    assert sorted(s.name for s in marked) == ["predict", "predict_batch"]
