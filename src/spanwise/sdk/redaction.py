"""Client-side redaction: a hook that sees every span attribute, and every log record's
attributes and text body (key `body`), before they leave the process, in the export
thread (the user's threads pay nothing).

A redactor is `f(key, value) -> value | None`: return the value (changed or not), or None
to drop the attribute. A redactor that raises drops the attribute (fail closed: a bug in
the hook must not leak what it was meant to hide) and is logged.
"""

from __future__ import annotations

import copy
import dataclasses
import fnmatch
import logging
import re
from typing import Any, Callable, Mapping, Sequence

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link
from opentelemetry.sdk.trace import Event

log = logging.getLogger(__name__)

Redactor = Callable[[str, Any], Any]


def drop_keys(*patterns: str) -> Redactor:
    """A redactor dropping attributes whose key matches a glob (`user.*`, `*email*`)."""

    def redact(key: str, value: Any) -> Any:
        return None if any(fnmatch.fnmatchcase(key, p) for p in patterns) else value

    return redact


def mask_values(pattern: str, replacement: str = "[REDACTED]") -> Redactor:
    """A redactor replacing matches of a regex inside string values."""
    compiled = re.compile(pattern)

    def redact(key: str, value: Any) -> Any:
        return compiled.sub(replacement, value) if isinstance(value, str) else value

    return redact


def chain(*redactors: Redactor) -> Redactor:
    """Apply redactors in order; a dropped attribute stays dropped."""

    def redact(key: str, value: Any) -> Any:
        for redactor in redactors:
            if value is None:
                return None
            value = redactor(key, value)
        return value

    return redact


def redact_attributes(redactor: Redactor, attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The attributes as the redactor leaves them."""
    kept: dict[str, Any] = {}
    for key, value in (attributes or {}).items():
        try:
            changed = redactor(key, value)
        except Exception:  # the hook is user code: fail closed, say so
            log.exception("redactor failed on attribute %r; the attribute is dropped", key)
            continue
        if changed is not None:
            kept[key] = changed
    return kept


class RedactingExporter(SpanExporter):
    """Wraps an exporter: span, event and link attributes pass the redactor first."""

    def __init__(self, inner: SpanExporter, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._inner.export([self._redacted(span) for span in spans])

    def _redacted(self, span: ReadableSpan) -> ReadableSpan:
        redact = self._redactor
        return ReadableSpan(
            name=span.name, context=span.context, parent=span.parent, resource=span.resource,
            attributes=redact_attributes(redact, span.attributes),
            events=[Event(e.name, redact_attributes(redact, e.attributes), e.timestamp) for e in span.events],
            links=[Link(link.context, redact_attributes(redact, link.attributes)) for link in span.links],
            kind=span.kind, status=span.status, start_time=span.start_time, end_time=span.end_time,
            instrumentation_scope=span.instrumentation_scope,
        )

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)


class RedactingLogExporter(LogRecordExporter):
    """Wraps a log exporter: each record's attributes, and its body when it is text (as
    the attribute `body`), pass the redactor first."""

    def __init__(self, inner: LogRecordExporter, redactor: Redactor) -> None:
        self._inner = inner
        self._redactor = redactor

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return self._inner.export([self._redacted(record) for record in batch])

    def _redacted(self, record: ReadableLogRecord) -> ReadableLogRecord:
        inner = copy.copy(record.log_record)
        inner.attributes = redact_attributes(self._redactor, inner.attributes)
        if isinstance(inner.body, str):
            inner.body = redact_attributes(self._redactor, {"body": inner.body}).get("body")
        return dataclasses.replace(record, log_record=inner)

    def shutdown(self) -> None:
        self._inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._inner.force_flush(timeout_millis)
