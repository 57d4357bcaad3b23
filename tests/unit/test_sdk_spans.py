"""SDK spans on the real OpenTelemetry SDK (in-memory exporter): predictions, the
scikit-learn wrapper (every row a span), pipelines and lineage links, feature lookups,
propagation through dict and Kafka-style headers, and the redaction hook."""

from __future__ import annotations

from typing import Any, Iterator

import numpy as np
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sklearn.linear_model import LinearRegression, LogisticRegression

from spanwise import sdk
from spanwise.sdk import LineageRef, Spanwise


@pytest.fixture()
def memory() -> Iterator[tuple[Spanwise, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    instance = Spanwise("unit", "http://127.0.0.1:9", exporter=exporter, feedback_interval_s=60)
    yield instance, exporter
    instance.shutdown(1)


def _spans(sw: Spanwise, exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    sw.provider.force_flush()
    return list(exporter.get_finished_spans())


def test_record_prediction_returns_the_id_and_sets_canonical_attributes(memory: Any) -> None:
    sw, exporter = memory
    pid = sw.record_prediction("churn", "v2", features={"age": 41}, label="yes", confidence=0.9,
                               attributions={"age": 0.3}, start_time=1_000, end_time=2_000)
    given = sw.record_prediction("churn", "v2", prediction_id="mine", value=1.5)
    span, second = _spans(sw, exporter)
    assert dict(span.attributes or {}) == {
        "ml.model.name": "churn", "ml.model.version": "v2", "ml.prediction.id": pid, "ml.feature.age": 41,
        "ml.prediction.label": "yes", "ml.prediction.confidence": 0.9, "ml.explanation.age": 0.3}
    assert (span.start_time, span.end_time, given, sdk.last_prediction_id()) == (1_000, 2_000, "mine", "mine")
    assert second.attributes and second.attributes["ml.prediction.value"] == 1.5


def test_context_manager_and_decorator(memory: Any) -> None:
    sw, exporter = memory

    @sw.predicts("fraud", "v1")
    def score(features: dict[str, float]) -> dict[str, Any]:
        return {"label": "fraud", "confidence": 0.7}

    score({"amount": 12.5})
    with pytest.raises(RuntimeError):
        with sw.prediction("fraud", "v1", features={"amount": 1.0}) as p:
            raise RuntimeError("model crashed")
    decorated, failed = _spans(sw, exporter)
    assert decorated.name == "score" and decorated.attributes
    assert decorated.attributes["ml.feature.amount"] == 12.5 and decorated.attributes["ml.prediction.confidence"] == 0.7
    assert failed.status.status_code is StatusCode.ERROR and failed.attributes
    assert failed.attributes["ml.prediction.id"] == p.prediction_id


def test_sklearn_batch_records_every_row_under_one_batch_span(memory: Any) -> None:
    sw, exporter = memory
    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] > 0).astype(int)
    model = sw.wrap(LogisticRegression().fit(X, y), "clf", "v1", feature_names=["a", "b"],
                    explainer=lambda rows: np.asarray(rows), explain_sample_rate=1.0)
    predicted = model.predict(X)
    ids = model.last_prediction_ids
    spans = _spans(sw, exporter)
    rows = [s for s in spans if s.name == "predict"]
    batch = next(s for s in spans if s.name == "predict_batch")
    assert len(rows) == 300 and len(set(ids)) == 300 and batch.attributes and batch.attributes["ml.batch.size"] == 300
    assert all(s.parent and s.parent.span_id == batch.context.span_id for s in rows)
    first = dict(rows[0].attributes or {})
    assert first["ml.prediction.id"] == ids[0] and first["ml.prediction.label"] == str(predicted[0])
    assert first["ml.feature.a"] == X[0, 0] and first["ml.explanation.b"] == X[0, 1]
    assert set(first) >= {"ml.prediction.proba.0", "ml.prediction.proba.1", "ml.prediction.confidence"}
    assert model.coef_.shape == (1, 2)  # attributes pass through to the estimator


def test_sklearn_regressor_single_row_is_one_span_with_a_value(memory: Any) -> None:
    sw, exporter = memory
    model = sw.wrap(LinearRegression().fit([[0.0], [1.0]], [0.0, 2.0]), "price", "v3")
    value, ids = model.predict_with_ids(np.array([[0.5]]))
    (span,) = _spans(sw, exporter)
    assert span.attributes and span.attributes["ml.prediction.value"] == pytest.approx(value[0])
    assert span.attributes["ml.feature.f0"] == 0.5 and span.attributes["ml.prediction.id"] == ids[0]


def test_pipeline_steps_describe_data_and_predictions_link_to_the_run(memory: Any) -> None:
    sw, exporter = memory

    @sw.step("clean")
    def clean(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in rows if r["a"] is not None]

    with sw.pipeline_run("features", source="s3") as run:
        clean([{"a": 1, "b": None}, {"a": None, "b": 2}])
    carried = run.ref.to_traceparent()
    sw.record_prediction("m", "v1", value=1.0, links=[LineageRef.from_traceparent(carried), "garbage"])
    step, root, prediction = _spans(sw, exporter)
    assert root.parent is None and step.parent and step.parent.span_id == root.context.span_id
    assert step.attributes and step.attributes["pipeline.input.rows"] == 2 and step.attributes["pipeline.output.rows"] == 1
    assert step.attributes["pipeline.input.nulls.a"] == 1 and step.attributes["pipeline.output.nulls"] == 1
    assert [(link.context.trace_id, link.context.span_id) for link in prediction.links] == [
        (root.context.trace_id, root.context.span_id)]


def test_feature_lookup_records_values_ages_and_staleness(memory: Any) -> None:
    sw, exporter = memory
    with sw.feature_lookup("users", 42, max_age_s=60) as lookup:
        stale = lookup.record({"spend": 10.0, "visits": 3}, updated_at={"spend": 1000.0, "visits": 950.0}, now=1030.0)
    (span,) = _spans(sw, exporter)
    attributes = dict(span.attributes or {})
    assert stale == ["visits"] and span.kind is SpanKind.CLIENT
    assert attributes["feature_store.age_s.spend"] == 30.0 and attributes["feature_store.age_s"] == 80.0
    assert attributes["feature_store.stale"] is True and list(attributes["feature_store.stale_features"]) == ["visits"]


@pytest.mark.parametrize("headers", [{}, [("key", b"k1")]], ids=["dict", "kafka"])
def test_context_crosses_message_headers(memory: Any, headers: Any) -> None:
    sw, exporter = memory
    with sw.produce("orders publish", headers) as producer:
        pass
    with sw.consume("orders process", headers):
        sw.record_prediction("m", value=1.0)
    sent, prediction, received = _spans(sw, exporter)  # in the order they ended
    assert sent.kind is SpanKind.PRODUCER and received.kind is SpanKind.CONSUMER
    assert received.context.trace_id == producer.get_span_context().trace_id == prediction.context.trace_id
    assert received.parent and received.parent.span_id == sent.context.span_id
    if isinstance(headers, list):
        assert headers[0] == ("key", b"k1") and headers[1][0] == "traceparent" and isinstance(headers[1][1], bytes)


def test_redaction_hook_runs_before_export() -> None:
    exporter = InMemorySpanExporter()

    def broken(key: str, value: Any) -> Any:
        if key == "boom":
            raise ValueError("bug in the hook")
        return value

    redactor = sdk.chain(sdk.drop_keys("user.*"), sdk.mask_values(r"\S+@\S+"), broken)
    sw = Spanwise("unit", "http://127.0.0.1:9", exporter=exporter, redactor=redactor)
    sw.record_prediction("m", value=1.0, features={"note": "mail bob@example.com"},
                         attributes={"user.email": "bob@example.com", "boom": 1, "keep": 2})
    sw.shutdown(1)
    (span,) = exporter.get_finished_spans()
    attributes = dict(span.attributes or {})
    assert attributes["ml.feature.note"] == "mail [REDACTED]" and attributes["keep"] == 2
    assert "user.email" not in attributes and "boom" not in attributes
