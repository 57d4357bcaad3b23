"""Sampled SHAP attributions from the real `shap` package on a scikit-learn model: the
sampled share of rows carries one `ml.explanation.<feature>` per feature, and they obey
SHAP's efficiency property (they add up to the row's output minus the expected output)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sklearn.linear_model import LogisticRegression

from spanwise import sdk
from spanwise.sdk import Spanwise


def test_sampled_shap_attributions_add_up_to_the_output() -> None:
    rng = np.random.default_rng(5)
    X = pd.DataFrame({"tenure": rng.normal(30, 10, 400), "spend": rng.normal(100, 30, 400), "tickets": rng.poisson(2, 400)})
    y = (X["tenure"] < 25) | (X["tickets"] > 3)
    clf = LogisticRegression(max_iter=1000).fit(X, y)
    background = X.to_numpy()[:100]
    exporter = InMemorySpanExporter()
    sw = Spanwise("unit", "http://127.0.0.1:9", exporter=exporter, feedback_interval_s=60)
    try:
        model = sw.wrap(clf, "churn", "v1", explainer=sdk.shap_explainer(clf, background), explain_sample_rate=0.5)
        rows = X.iloc[:60]
        model.predict(rows)
        sw.provider.force_flush()
        spans = [s for s in exporter.get_finished_spans() if s.attributes and "ml.prediction.id" in s.attributes]
    finally:
        sw.shutdown(1)
    assert len(spans) == 60
    explained = [s for s in spans if any(k.startswith("ml.explanation.") for k in (s.attributes or {}))]
    assert 15 <= len(explained) <= 45, "about half the rows are explained"
    expected_output = clf.predict_proba(X.iloc[:100])[:, -1].mean()
    for span in explained:
        attributes: dict[str, Any] = dict(span.attributes or {})
        values = [attributes[f"ml.feature.{name}"] for name in X.columns]
        shap_sum = sum(attributes[f"ml.explanation.{name}"] for name in X.columns)
        output = clf.predict_proba(pd.DataFrame([values], columns=X.columns))[0, -1]
        assert abs(shap_sum - (output - expected_output)) < 1e-6


def test_shap_explains_a_pipeline_with_a_text_column() -> None:
    """SHAP's maskers need numbers: text columns are coded for SHAP and decoded for the
    estimator, and the attributions still add up (an unseen category is `__unknown__`)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(3)
    X = pd.DataFrame({"tenure": rng.normal(10, 3, 300), "plan": rng.choice(["basic", "pro", "max"], 300)})
    y = (X["tenure"] > 10) ^ (X["plan"] == "pro")
    encode = ColumnTransformer([("n", StandardScaler(), ["tenure"]), ("c", OneHotEncoder(handle_unknown="ignore"), ["plan"])])
    clf = make_pipeline(encode, LogisticRegression()).fit(X, y)
    explain = sdk.shap_explainer(clf, X, max_background=50)
    rows = X.iloc[:5].to_numpy().tolist() + [[9.0, "enterprise"]]
    values = explain(rows)
    expected = clf.predict_proba(X.iloc[:50])[:, -1].mean()
    outputs = clf.predict_proba(pd.DataFrame(rows, columns=X.columns))[:, -1]
    assert values.shape == (6, 2) and np.allclose(values.sum(axis=1), outputs - expected, atol=1e-9)
