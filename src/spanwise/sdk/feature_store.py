"""Feature-store lookups as spans: the values fetched and how old each one is, so a stale
feature shows up in the same trace as the prediction it fed.

Attributes: `feature_store.name`, `feature_store.entity_id`, `feature_store.value.<f>`,
`feature_store.age_s.<f>`, `feature_store.age_s` (the oldest), and with a `max_age_s`
`feature_store.stale` and `feature_store.stale_features`.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Callable, Mapping, Union

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Tracer

from spanwise.sdk.attributes import scalar
from spanwise.sdk.spans import end_span

#: When a feature was last written: Unix seconds or a datetime; one for all features or
#: one per feature.
UpdatedAt = Union[float, datetime, Mapping[str, Union[float, datetime]], None]


class FeatureLookup:
    """`with FeatureLookup(tracer, "user_features", "u42", max_age_s=3600) as f:
    values = store.get(...); f.record(values, updated_at=...)`."""

    def __init__(self, tracer: Tracer, store: str, entity_id: Any, max_age_s: float | None = None) -> None:
        self._tracer, self.max_age_s = tracer, max_age_s
        self._attributes = {"feature_store.name": store, "feature_store.entity_id": str(entity_id)}
        self.span: Span = trace.INVALID_SPAN
        self._token: object | None = None
        self.stale: list[str] = []

    def __enter__(self) -> "FeatureLookup":
        self.span = self._tracer.start_span("feature_lookup", kind=SpanKind.CLIENT, attributes=self._attributes)
        self._token = otel_context.attach(trace.set_span_in_context(self.span))
        return self

    def record(self, values: Mapping[str, Any], updated_at: UpdatedAt = None, now: float | None = None) -> list[str]:
        """Record the fetched values and their ages; returns the stale feature names."""
        clock = time.time() if now is None else now
        found: dict[str, Any] = {"feature_store.features": len(values)}
        ages: dict[str, float] = {}
        for name, value in values.items():
            converted = scalar(value)
            if converted is not None:
                found[f"feature_store.value.{name}"] = converted
            written = updated_at.get(name) if isinstance(updated_at, Mapping) else updated_at
            if written is not None:
                ages[name] = clock - (written.timestamp() if isinstance(written, datetime) else float(written))
                found[f"feature_store.age_s.{name}"] = ages[name]
        if ages:
            found["feature_store.age_s"] = max(ages.values())
        if self.max_age_s is not None:
            self.stale = sorted(n for n, age in ages.items() if age > self.max_age_s)
            found["feature_store.max_age_s"] = float(self.max_age_s)
            found["feature_store.stale"] = bool(self.stale)
            if self.stale:
                found["feature_store.stale_features"] = self.stale
        self.span.set_attributes(found)
        return self.stale

    def __exit__(self, kind: Any, error: BaseException | None, traceback: Any) -> None:
        end_span(self.span, self._token, error)


def lookup(
    tracer: Tracer, store: str, entity_id: Any, fetch: Callable[[Any], tuple[Mapping[str, Any], UpdatedAt]],
    max_age_s: float | None = None,
) -> Mapping[str, Any]:
    """Call `fetch(entity_id) -> (values, updated_at)` inside a traced lookup; returns the values."""
    with FeatureLookup(tracer, store, entity_id, max_age_s) as traced:
        values, updated_at = fetch(entity_id)
        traced.record(values, updated_at)
        return values
