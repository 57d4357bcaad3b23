"""Recording predictions as spans carrying the canonical `ml.*` attributes.

Three shapes: `record()` for a prediction that already happened (explicit times work, for
backfills), `Prediction`, a context manager timing the model call, and `predicts`, a
decorator over a predict function. Each returns or exposes the prediction id for later
feedback (generated when the caller gives none).
"""

from __future__ import annotations

import contextvars
import functools
from typing import Any, Callable, Iterable, Mapping, TypeVar, Union

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode, Tracer

from spanwise.sdk import attributes as attrs
from spanwise.sdk.pipelines import LineageRef, as_link
from spanwise.sdk.spans import end_span

#: Something a prediction can link to: a pipeline run/step (`LineageRef`), a span
#: context, or a W3C traceparent string.
LinkTarget = Union[LineageRef, SpanContext, str]
F = TypeVar("F", bound=Callable[..., Any])

_last_id: contextvars.ContextVar[str] = contextvars.ContextVar("spanwise_last_prediction_id", default="")


def last_prediction_id() -> str:
    """The id of the latest prediction recorded in this thread/task ('' if none)."""
    return _last_id.get()


def span_links(targets: Iterable[LinkTarget] | None) -> list[Link]:
    """The OTel links to `targets` (those that name no span are left out)."""
    return [link for link in (as_link(t) for t in targets or ()) if link is not None]


def record(
    tracer: Tracer, model: str, version: str = "", *, features: Mapping[str, Any] | None = None,
    value: Any = None, label: Any = None, confidence: float | None = None,
    scores: Mapping[Any, float] | None = None, attributions: Mapping[str, float] | None = None,
    prediction_id: str | None = None, attributes: Mapping[str, Any] | None = None,
    links: Iterable[LinkTarget] | None = None, start_time: int | None = None, end_time: int | None = None,
    error: str | None = None, name: str = "predict", context: otel_context.Context | None = None,
    span: Span | None = None,
) -> str:
    """Record one finished prediction as a span (child of the current span) and return
    its prediction id. `start_time`/`end_time` are Unix ns (default: now); `context` is
    the parent (default: the current span). With `span` (already started, e.g. current
    while the model ran), the attributes go on it and it is ended instead (`links`,
    `start_time`, `name` and `context` then do not apply)."""
    pid = prediction_id or attrs.new_prediction_id()
    values: dict[str, Any] = {**attrs.identity(model, version, pid), **attrs.features(features),
                              **attrs.output(value, label, confidence, scores), **attrs.explanations(attributions)}
    values.update({k: v for k, v in (attributes or {}).items() if attrs.scalar(v) is not None})
    if span is None:
        span = tracer.start_span(name, context=context, kind=SpanKind.INTERNAL, attributes=values,
                                 links=span_links(links), start_time=start_time)
    else:
        span.set_attributes(values)
    if error:
        span.set_status(Status(StatusCode.ERROR, error))
    span.end(end_time=end_time)
    _last_id.set(pid)
    return pid


class Prediction:
    """`with Prediction(tracer, "churn", "v2", features=x) as p: p.set_output(...)`:
    a span around the model call; an exception marks it as an error and propagates."""

    def __init__(
        self, tracer: Tracer, model: str, version: str = "", *, features: Mapping[str, Any] | None = None,
        prediction_id: str | None = None, links: Iterable[LinkTarget] | None = None,
        attributes: Mapping[str, Any] | None = None, name: str = "predict",
    ) -> None:
        self.prediction_id = prediction_id or attrs.new_prediction_id()
        self._tracer, self._name = tracer, name
        self._attributes: dict[str, Any] = {**attrs.identity(model, version, self.prediction_id),
                                            **attrs.features(features), **dict(attributes or {})}
        self._links = span_links(links)
        self.span: Span = trace.INVALID_SPAN
        self._token: object | None = None

    def __enter__(self) -> "Prediction":
        self.span = self._tracer.start_span(self._name, attributes=self._attributes, links=self._links)
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self

    def set_features(self, features: Mapping[str, Any]) -> None:
        self.span.set_attributes(attrs.features(features))

    def set_output(
        self, value: Any = None, label: Any = None, confidence: float | None = None,
        scores: Mapping[Any, float] | None = None,
    ) -> None:
        self.span.set_attributes(attrs.output(value, label, confidence, scores))

    def set_result(self, result: Any) -> None:
        """Take a predict function's return value: a number (value), text (label), or a
        dict with `value`/`label`/`confidence`/`scores` keys."""
        if isinstance(result, Mapping):
            self.set_output(result.get("value"), result.get("label"), result.get("confidence"), result.get("scores"))
        else:
            self.set_output(result)

    def explain(self, attributions: Mapping[str, float]) -> None:
        self.span.set_attributes(attrs.explanations(attributions))

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        end_span(self.span, self._token, error)
        _last_id.set(self.prediction_id)


def predicts(
    tracer_of: Callable[[], Tracer], model: str, version: str = "", features_arg: int | str | None = 0,
) -> Callable[[F], F]:
    """Decorator: each call is a prediction; the argument `features_arg` (position or
    name) is the feature dict, the return value the output (see `set_result`). The id is
    `last_prediction_id()` after the call."""

    def decorate(function: F) -> F:
        @functools.wraps(function)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            features = _argument(args, kwargs, features_arg)
            with Prediction(tracer_of(), model, version, features=features if isinstance(features, Mapping) else None,
                            name=function.__name__) as prediction:
                result = function(*args, **kwargs)
                prediction.set_result(result)
                return result

        return wrapper  # type: ignore[return-value]

    return decorate


def _argument(args: tuple[Any, ...], kwargs: dict[str, Any], which: int | str | None) -> Any:
    if isinstance(which, int):
        return args[which] if len(args) > which else None
    return kwargs.get(which) if which else None
