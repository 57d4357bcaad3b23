"""Canonical AI columns from the names users already send."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests


def _spans(*specs: tuple[int, int | None, dict[str, Any]], processor: MlFieldsProcessor | None = None) -> dict[str, dict[str, Any]]:
    request = ExportTraceServiceRequest()
    rs = request.resource_spans.add()
    kv = rs.resource.attributes.add()
    kv.key, kv.value.string_value = "service.name", "svc"
    ss = rs.scope_spans.add()
    for span_id, parent, attrs in specs:
        span = ss.spans.add()
        span.trace_id, span.span_id = b"\x01" * 16, span_id.to_bytes(8, "big")
        if parent:
            span.parent_span_id = parent.to_bytes(8, "big")
        span.name = f"s{span_id}"
        attrs = dict(attrs)
        if attrs.pop("status.error", False):
            span.status.code = 2
        for key, value in attrs.items():
            item = span.attributes.add()
            item.key = key
            if isinstance(value, str):
                item.value.string_value = value
            elif isinstance(value, bool):
                item.value.bool_value = value
            elif isinstance(value, float):
                item.value.double_value = value
            else:
                item.value.int_value = value
    decoded = decode_export_requests([request.SerializeToString()])
    table = (processor or MlFieldsProcessor()).process(decoded.batch).spans
    return {row["SpanName"]: row for row in table.to_pylist()}


def test_seed_names_and_ancestor_version() -> None:
    rows = _spans(
        (1, None, {"model.version": "v2"}),
        (2, 1, {}),
        (3, 2, {"model.input_features": "{'a': 0.5, 'b': 2, 'c': 'x', 'd': True}", "model.output_prediction": 1.5, "model.confidence": 0.9}),
    )
    prediction = rows["s3"]
    assert prediction["IsPrediction"] and prediction["ModelVersion"] == "v2"
    assert prediction["ModelName"] == "svc"  # no name anywhere: the service name
    assert dict(prediction["Features"]) == {"a": 0.5, "b": 2.0}
    assert dict(prediction["StringFeatures"]) == {"c": "x", "d": "True"}
    assert prediction["PredictionValue"] == 1.5 and prediction["Confidence"] == 0.9
    assert prediction["PredictionId"] == "01" * 16 + ":" + f"{3:016x}"
    assert not rows["s1"]["IsPrediction"] and not rows["s2"]["IsPrediction"]
    assert rows["s2"]["ModelVersion"] == ""  # only predictions inherit


def test_json_feature_dict_and_string_prediction_is_a_label() -> None:
    rows = _spans((1, None, {"features.data": '{"x": 1.25}', "model.output_prediction": "spam"}))
    row = rows["s1"]
    assert dict(row["Features"]) == {"x": 1.25}
    assert row["PredictionLabel"] == "spam" and row["PredictionValue"] is None and row["IsPrediction"]


def test_numeric_strings_are_numbers_and_scores_make_a_prediction() -> None:
    rows = _spans(
        (1, None, {"ml.prediction.value": "0.75", "ml.prediction.confidence": "1e-1"}),
        (2, None, {"ml.prediction.proba.cat": 0.6, "ml.prediction.score": 0.2, "ml.explanation.age": -0.1}),
    )
    assert rows["s1"]["PredictionValue"] == 0.75 and rows["s1"]["Confidence"] == 0.1
    assert rows["s2"]["IsPrediction"] and dict(rows["s2"]["Scores"]) == {"cat": 0.6, "score": 0.2}
    assert dict(rows["s2"]["Attributions"]) == {"age": -0.1}


def test_unparseable_feature_dicts_are_counted_not_fatal() -> None:
    processor = MlFieldsProcessor()
    rows = _spans(
        (1, None, {"model.input_features": "__import__('os').system('echo pwned')", "model.confidence": 0.5}),
        (2, None, {"features.data": "[1, 2]"}),
        processor=processor,
    )
    assert dict(rows["s1"]["Features"]) == {} and rows["s1"]["IsPrediction"]
    assert processor.stats["unparseable_feature_dicts"] == 2


def test_user_mappings_win_over_defaults() -> None:
    processor = MlFieldsProcessor({"ml.model.version": ["my.rev"], "ml.prediction.confidence": ["p"]})
    rows = _spans((1, None, {"my.rev": "r9", "model.version": "ignored", "p": 0.3}), processor=processor)
    assert rows["s1"]["ModelVersion"] == "r9" and rows["s1"]["Confidence"] == 0.3


def test_spans_without_ai_attributes_are_not_predictions() -> None:
    rows = _spans((1, None, {"http.method": "GET", "retries": 3, "ok": True}))
    row = rows["s1"]
    assert not row["IsPrediction"] and row["ModelName"] == "" and row["PredictionId"] == ""
    assert row["SampleWeight"] == 1.0


def test_failed_model_calls_are_predictions_without_output() -> None:
    named = {"ml.model.name": "churn", "ml.model.version": "v2", "ml.prediction.id": "p-1"}
    rows = _spans(
        (1, None, {**named, "ml.feature.tenure": 3.0, "status.error": True}),  # failed before an output
        (2, None, {**named, "ml.prediction.id": "p-2"}),  # no output, no error: not a prediction
        (3, None, {"ml.model.name": "churn", "status.error": True}),  # no prediction id: a plain error span
    )
    failed = rows["s1"]
    assert failed["IsPrediction"] and failed["StatusCode"] == "Error"
    assert (failed["ModelName"], failed["ModelVersion"], failed["PredictionId"]) == ("churn", "v2", "p-1")
    assert failed["PredictionValue"] is None and failed["PredictionLabel"] == ""
    assert not rows["s2"]["IsPrediction"] and not rows["s3"]["IsPrediction"]
