"""The processor chain accounts for every span and survives failing processors."""

from __future__ import annotations

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.core.spans import SpanBatch
from spanwise.process.chain import ProcessorChain
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests


def _batch(count: int) -> SpanBatch:
    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add()
    for i in range(count):
        span = spans.spans.add()
        span.trace_id, span.span_id, span.name = b"\x01" * 16, (i + 1).to_bytes(8, "big"), "op"
    return decode_export_requests([request.SerializeToString()]).batch


class Exploding:
    name = "exploding"

    def process(self, batch: SpanBatch) -> SpanBatch:
        raise ValueError("bad regex state")


class KeepFirst:
    name = "keep_first"

    def process(self, batch: SpanBatch) -> SpanBatch:
        return SpanBatch(batch.spans.slice(0, 1), batch.attributes.slice(0, 0))


def test_processors_run_in_order_and_filtering_is_counted() -> None:
    chain = ProcessorChain([MlFieldsProcessor(), KeepFirst()])
    result = chain.run(_batch(3))
    assert result.batch.num_spans == 1 and result.dropped == 0
    assert "IsPrediction" in result.batch.spans.schema.names
    assert chain.stats["keep_first.filtered_spans"] == 2 and chain.stats["ml_fields.spans_in"] == 3


def test_a_failing_processor_drops_the_batch_and_is_counted() -> None:
    chain = ProcessorChain([MlFieldsProcessor(), Exploding(), KeepFirst()])
    result = chain.run(_batch(4))
    assert result.batch.num_spans == 0 and result.dropped == 4
    assert "exploding failed: bad regex state" in result.message
    assert chain.stats["exploding.failures"] == 1 and chain.stats["exploding.dropped_spans"] == 4
    assert chain.run(_batch(2)).dropped == 2  # and it keeps working batch after batch
