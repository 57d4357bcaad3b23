"""Builds the processor chain from config: one builder per processor name.

A builder returns None when its processor has nothing to do under the given config
(say, forwarding without an endpoint), so the chain holds only working processors.
"""

from __future__ import annotations

from typing import Callable

from spanwise.config import Config
from spanwise.process.api import SpanProcessor
from spanwise.process.chain import ProcessorChain
from spanwise.process.enrichment import Enricher
from spanwise.process.forward import ForwardProcessor
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.process.redaction import redaction_processor
from spanwise.process.sampling import HeadSampler, HeadSamplingSettings

Builder = Callable[[Config], SpanProcessor | None]


def _ml_fields(config: Config) -> SpanProcessor | None:
    return MlFieldsProcessor(config.ml.mappings)


def _sampling(config: Config) -> SpanProcessor | None:
    settings = config.sampling
    if not settings.enabled and not settings.tail.enabled:
        return None
    head = settings.enabled
    return HeadSampler(
        HeadSamplingSettings(
            settings.default_rate if head else 1.0,
            settings.service_rates if head else {},
            settings.budget_spans_per_s if head else 0.0,
            settings.budget_window_s,
            defer_to_tail=settings.tail.enabled,
        )
    )


def _enrichment(config: Config) -> SpanProcessor | None:
    return Enricher(config.enrichment.rules) if config.enrichment.rules else None


def _forward(config: Config) -> SpanProcessor | None:
    return ForwardProcessor(config.forward) if config.forward.endpoint else None


#: processor name -> builder. Names not here yet build nothing.
BUILDERS: dict[str, Builder] = {
    "ml_fields": _ml_fields,
    "enrichment": _enrichment,
    "redaction": redaction_processor,
    "sampling": _sampling,
    "forward": _forward,
}


def build_chain(config: Config) -> ProcessorChain:
    """The processors of `config.pipeline.processors`, in that order."""
    processors = []
    for name in config.pipeline.processors:
        builder = BUILDERS.get(name)
        processor = builder(config) if builder else None
        if processor is not None:
            processors.append(processor)
    return ProcessorChain(processors)
