"""Data-pipeline steps as spans (row counts, schema, null counts) and the lineage refs
that let a prediction link (a span link) to the pipeline run that produced its features.

A `LineageRef` is a span's identity; it survives being stored next to the features (as a
W3C traceparent string) so a model server in another process can link to the run later.
`GET /api/v1/lineage/{trace_id}/predictions` then lists the predictions of a run.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanContext, TraceFlags, Tracer

from spanwise.sdk import tables
from spanwise.sdk.spans import end_span

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class LineageRef:
    """A pipeline run's or step's span, by trace and span id (hex)."""

    trace_id: str
    span_id: str

    @classmethod
    def of(cls, span_context: SpanContext) -> "LineageRef":
        return cls(f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}")

    def to_traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-01"

    @classmethod
    def from_traceparent(cls, text: str) -> "LineageRef":
        parts = text.strip().split("-")
        if len(parts) != 4 or len(parts[1]) != 32 or len(parts[2]) != 16:
            raise ValueError(f"not a W3C traceparent: {text!r}")
        return cls(parts[1].lower(), parts[2].lower())

    def span_context(self) -> SpanContext:
        return SpanContext(int(self.trace_id, 16), int(self.span_id, 16), is_remote=True,
                           trace_flags=TraceFlags(TraceFlags.SAMPLED))


def as_link(target: Any) -> Link | None:
    """A span link to a `LineageRef`, `SpanContext` or traceparent string (None for a
    malformed one, which is not worth failing a prediction for)."""
    try:
        if isinstance(target, str):
            target = LineageRef.from_traceparent(target)
        if isinstance(target, LineageRef):
            target = target.span_context()
    except ValueError:
        return None
    return Link(target, {"link.type": "lineage"}) if isinstance(target, SpanContext) and target.is_valid else None


def current_lineage() -> LineageRef | None:
    """The current span as a lineage ref (None outside a recorded span)."""
    context = trace.get_current_span().get_span_context()
    return LineageRef.of(context) if context.is_valid else None


class PipelineStep:
    """A span for one pipeline run (`kind="run"`, a new trace) or step (a child).
    `record(data)` describes the data it produced; `ref` is its lineage ref."""

    def __init__(self, tracer: Tracer, name: str, kind: str = "step", attributes: Mapping[str, Any] | None = None) -> None:
        self._tracer, self._name, self._kind = tracer, name, kind
        self._attributes = {"pipeline.kind": kind, f"pipeline.{kind}": name, **dict(attributes or {})}
        self.span: Span = trace.INVALID_SPAN
        self._token: object | None = None

    @property
    def ref(self) -> LineageRef:
        return LineageRef.of(self.span.get_span_context())

    def __enter__(self) -> "PipelineStep":
        parent = otel_context.Context() if self._kind == "run" else None
        span_name = f"pipeline {self._name}" if self._kind == "run" else self._name
        self.span = self._tracer.start_span(span_name, context=parent, attributes=self._attributes)
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self

    def record(self, data: Any, prefix: str = "pipeline.output") -> None:
        """Rows, schema (column -> type, as JSON) and null counts of `data`."""
        self.span.set_attributes(describe(data, prefix))

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        end_span(self.span, self._token, error)


def describe(data: Any, prefix: str) -> dict[str, Any]:
    """`<prefix>.rows`, `.schema`, `.nulls` (total) and `.nulls.<column>` (when not zero)."""
    found: dict[str, Any] = {}
    count = tables.row_count(data)
    if count is not None:
        found[f"{prefix}.rows"] = count
    profile = tables.column_profile(data)
    if profile is not None:
        types, nulls = profile
        found[f"{prefix}.schema"] = json.dumps(types, sort_keys=True)
        found[f"{prefix}.columns"] = len(types)
        found[f"{prefix}.nulls"] = sum(nulls.values())
        found.update({f"{prefix}.nulls.{c}": n for c, n in nulls.items() if n})
    return found


def step_decorator(tracer_of: Callable[[], Tracer], name: str | None = None) -> Callable[[F], F]:
    """Decorator: the call is a pipeline step; its first argument (when table-like) is
    described as input and its return value as output."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with PipelineStep(tracer_of(), name or function.__name__) as step:
                if args and tables.row_count(args[0]) is not None:
                    step.record(args[0], "pipeline.input")
                result = function(*args, **kwargs)
                step.record(result)
                return result

        return wrapper  # type: ignore[return-value]

    return decorate
