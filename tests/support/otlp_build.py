"""Building OTLP protobuf requests by hand in tests: one way to set span attributes."""

from __future__ import annotations

from typing import Any, Mapping


def add_attributes(span: Any, attributes: Mapping[str, Any]) -> None:
    """Append `attributes` to a protobuf span: strings as string values, every other value
    as a double (as the analytics tests send features and outputs)."""
    for key, value in attributes.items():
        kv = span.attributes.add()
        kv.key = key
        if isinstance(value, str):
            kv.value.string_value = value
        else:
            kv.value.double_value = value
