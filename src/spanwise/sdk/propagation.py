"""W3C trace context in and out of message headers, for services that talk over queues.

HTTP is covered by OpenTelemetry's instrumentations (or by `inject`/`extract` on a plain
dict of headers). Kafka-style headers are a list of `(key, bytes)` pairs; both shapes work.
The globally configured propagators are used (W3C tracecontext and baggage by default,
`OTEL_PROPAGATORS` to change them).
"""

from __future__ import annotations

from typing import Any, MutableMapping, Union

from opentelemetry import propagate
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter

#: A dict of headers, or a Kafka-style list of (key, value) pairs with bytes or str values.
Headers = Union[MutableMapping[str, Any], list[tuple[str, Any]]]


class _HeaderSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        if isinstance(carrier, list):
            carrier[:] = [(k, v) for k, v in carrier if k != key]
            carrier.append((key, value.encode("utf-8")))
        else:
            carrier[key] = value


class _HeaderGetter(Getter[Headers]):
    def get(self, carrier: Headers, key: str) -> list[str] | None:
        pairs = carrier if isinstance(carrier, list) else list(carrier.items())
        found = [_text(v) for k, v in pairs if k.lower() == key.lower()]
        return found or None

    def keys(self, carrier: Headers) -> list[str]:
        return [k for k, _ in carrier] if isinstance(carrier, list) else list(carrier)


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, (bytes, bytearray)) else str(value)


_SETTER, _GETTER = _HeaderSetter(), _HeaderGetter()


def inject(headers: Headers | None = None, context: Context | None = None) -> Headers:
    """Write the current (or given) trace context into `headers` and return them; a new
    dict when None is given."""
    carrier: Headers = {} if headers is None else headers
    propagate.inject(carrier, context=context, setter=_SETTER)
    return carrier


def extract(headers: Headers | None) -> Context:
    """The trace context carried by `headers` (an empty context when there is none)."""
    return propagate.extract(headers if headers is not None else {}, getter=_GETTER)
