"""The SDK's value conversions: ml.* attributes, tables, training CSV, config, sampling."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from spanwise.sdk import attributes as attrs
from spanwise.sdk import explain, tables
from spanwise.sdk.config import resolve
from spanwise.sdk.training import training_csv


def test_features_become_one_attribute_each_and_missing_values_are_left_out() -> None:
    found = attrs.features({"age": np.int64(42), "income": np.float32(1.5), "plan": "pro", "gap": None,
                            "nan": float("nan"), "vip": True})
    assert found == {"ml.feature.age": 42, "ml.feature.income": 1.5, "ml.feature.plan": "pro", "ml.feature.vip": True}
    assert type(found["ml.feature.age"]) is int


def test_output_labels_values_scores_and_confidence() -> None:
    assert attrs.output(value=np.float64(3.25)) == {"ml.prediction.value": 3.25}
    assert attrs.output(value="spam") == {"ml.prediction.label": "spam"}
    assert attrs.output(label=np.int64(1), scores={0: 0.2, 1: 0.8}) == {
        "ml.prediction.label": "1", "ml.prediction.proba.0": 0.2, "ml.prediction.proba.1": 0.8,
        "ml.prediction.confidence": 0.8}
    assert attrs.output(label=1.0, confidence=0.6)["ml.prediction.label"] == "1"
    assert attrs.explanations({"a": np.float64(-0.5), "b": "x"}) == {"ml.explanation.a": -0.5}
    assert attrs.identity("m", "", "p1") == {"ml.model.name": "m", "ml.prediction.id": "p1"}


def test_label_text_matches_the_servers_feedback_rule() -> None:
    assert [attrs.label_text(v) for v in (1, 1.0, True, "yes", np.int64(0), 2.5)] == ["1", "1", "true", "yes", "0", "2.5"]


def test_rows_of_dataframes_arrays_and_records() -> None:
    frame = pd.DataFrame({"a": [1.0, None], "b": ["x", "y"]})
    assert tables.rows(frame)[0] == ["a", "b"]
    assert tables.rows(frame)[1][1][1] == "y" and math.isnan(tables.rows(frame)[1][1][0])
    assert tables.rows(np.array([[1, 2], [3, 4]])) == (["f0", "f1"], [[1, 2], [3, 4]])
    assert tables.rows(np.array([[1, 2]]), ["p", "q"]) == (["p", "q"], [[1, 2]])
    assert tables.rows([{"a": 1, "b": 2}]) == (["a", "b"], [[1, 2]])
    types, nulls = tables.column_profile(frame) or ({}, {})
    assert (types["a"], nulls) == ("float64", {"a": 1, "b": 0})
    assert tables.column_profile([{"a": 1, "b": None}, {"a": None, "b": "x"}]) == ({"a": "int", "b": "str"}, {"a": 1, "b": 1})


def test_training_csv_has_features_outputs_and_labels() -> None:
    text = training_csv(["a", "b"], [[1.5, "x"], [None, "y"]], predictions=[0.1, 0.2], labels=[1, 0]).decode()
    assert text.splitlines() == ["a,b,prediction,label", "1.5,x,0.1,1", ",y,0.2,0"]
    classes = training_csv(["a"], [[1]], predictions=[np.int64(1)], labels=[1], classes=True).decode()
    assert classes.splitlines()[0] == "a,prediction_label,label"


def test_config_from_arguments_environment_and_defaults() -> None:
    default = resolve(environ={})
    assert (default.protocol, default.traces_url, default.api_url) == (
        "http/protobuf", "http://localhost:4318/v1/traces", "http://localhost:16686")
    grpc = resolve(endpoint="otel.example:4317", environ={})
    assert (grpc.protocol, grpc.grpc_target, grpc.api_url) == ("grpc", ("otel.example:4317", True), "http://otel.example:16686")
    env = resolve(environ={"OTEL_EXPORTER_OTLP_ENDPOINT": "https://x:443", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
                           "OTEL_SERVICE_NAME": "svc", "OTEL_EXPORTER_OTLP_HEADERS": "a=b%20c", "SPANWISE_API_URL": "http://api:1/"})
    assert (env.service_name, env.grpc_target, env.headers, env.api_url) == ("svc", ("x:443", False), {"a": "b c"}, "http://api:1")
    assert resolve(service_name="arg", environ={"OTEL_SERVICE_NAME": "env"}).service_name == "arg"
    with pytest.raises(ValueError):
        resolve(protocol="http/json", environ={})


def test_explanation_sampling_is_deterministic_and_near_the_rate() -> None:
    ids = [attrs.new_prediction_id() for _ in range(4000)]
    share = sum(explain.sampled(i, 0.25) for i in ids) / len(ids)
    assert 0.2 < share < 0.3
    assert [explain.sampled(i, 0.25) for i in ids[:50]] == [explain.sampled(i, 0.25) for i in ids[:50]]
    assert explain.attributions(lambda rows: np.asarray(rows) * 2, ["a", "b"], [[1, 2]]) == [{"a": 2.0, "b": 4.0}]
