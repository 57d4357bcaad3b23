"""Builds each signal's processor chain from config, as the OpenTelemetry Collector does.

Every processor name has a factory that declares the signals it handles by the builders
it has (the Collector's `WithTraces`/`WithLogs`/`WithMetrics`). The one list
`pipeline.processors` orders them; the chain of a signal holds the listed processors whose
factory handles that signal, each built once per signal (their counters are per signal).

Redaction handles all three signals, so nothing is stored unredacted. The others handle
traces only: AI fields, sampling and forwarding are about spans, and enrichment's rules
are written against span attributes (their canonical `ml.*` names feed `ml_fields`).

A builder returns None when its processor has nothing to do under the given config
(say, forwarding without an endpoint), so a chain holds only working processors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

import pyarrow as pa

from spanwise.config import Config
from spanwise.core.otlp_metrics import MetricPoints
from spanwise.core.spans import SpanBatch
from spanwise.process.api import LOGS, METRICS, TRACES, Processor, Signal, SpanProcessor
from spanwise.process.chain import LOG_RECORDS, POINTS, SPANS, Items, ProcessorChain
from spanwise.process.enrichment import EnrichmentProcessor
from spanwise.process.forward import ForwardProcessor
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.process.redaction import log_redaction_processor, metric_redaction_processor, redaction_processor
from spanwise.process.sampling import HeadSamplingProcessor, HeadSamplingSettings

Batch = TypeVar("Batch")
Builder = Callable[[Config], Processor[Batch] | None]


@dataclass(frozen=True)
class ProcessorFactory:
    """A processor's builder for each signal it handles (None: it does not)."""

    traces: Builder[SpanBatch] | None = None
    logs: Builder[pa.Table] | None = None
    metrics: Builder[MetricPoints] | None = None

    @property
    def signals(self) -> tuple[Signal, ...]:
        built = {TRACES: self.traces, LOGS: self.logs, METRICS: self.metrics}
        return tuple(signal for signal, builder in built.items() if builder is not None)


def _ml_fields(config: Config) -> SpanProcessor | None:
    return MlFieldsProcessor(config.ml.mappings)


def _sampling(config: Config) -> SpanProcessor | None:
    settings = config.sampling
    if not settings.enabled and not settings.tail.enabled:
        return None
    head = settings.enabled
    return HeadSamplingProcessor(
        HeadSamplingSettings(
            settings.default_rate if head else 1.0,
            settings.service_rates if head else {},
            settings.budget_spans_per_s if head else 0.0,
            settings.budget_window_s,
            defer_to_tail=settings.tail.enabled,
        )
    )


def _enrichment(config: Config) -> SpanProcessor | None:
    return EnrichmentProcessor(config.enrichment.rules) if config.enrichment.rules else None


def _forward(config: Config) -> SpanProcessor | None:
    return ForwardProcessor(config.forward) if config.forward.endpoint else None


#: processor name -> its factory. Names not here yet build nothing.
FACTORIES: dict[str, ProcessorFactory] = {
    "ml_fields": ProcessorFactory(traces=_ml_fields),
    "enrichment": ProcessorFactory(traces=_enrichment),
    "redaction": ProcessorFactory(traces=redaction_processor, logs=log_redaction_processor,
                                  metrics=metric_redaction_processor),
    "sampling": ProcessorFactory(traces=_sampling),
    "forward": ProcessorFactory(traces=_forward),
}


@dataclass(frozen=True)
class Pipelines:
    """One processor chain per signal, from the same `pipeline.processors`."""

    traces: ProcessorChain[SpanBatch]
    logs: ProcessorChain[pa.Table]
    metrics: ProcessorChain[MetricPoints]


def build_pipelines(config: Config) -> Pipelines:
    """The processors of `config.pipeline.processors`, in that order, per signal."""
    names = config.pipeline.processors
    return Pipelines(
        _chain(config, [FACTORIES[n].traces for n in names if n in FACTORIES], SPANS),
        _chain(config, [FACTORIES[n].logs for n in names if n in FACTORIES], LOG_RECORDS),
        _chain(config, [FACTORIES[n].metrics for n in names if n in FACTORIES], POINTS),
    )


def _chain(config: Config, builders: list[Builder[Batch] | None], items: Items[Batch]) -> ProcessorChain[Batch]:
    built = [builder(config) for builder in builders if builder is not None]
    return ProcessorChain([processor for processor in built if processor is not None], items)
