"""Log records as the native API's JSON (`/api/v1/logs`, `/api/v1/traces/{id}/logs`)."""

from __future__ import annotations

from typing import Any

from spanwise.query.logs import LogRecord


def log_json(record: LogRecord) -> dict[str, Any]:
    """One record with OTel field names; attributes and resource as JSON objects."""
    return {
        "timeUnixNano": record.time_ns,
        "traceId": record.trace_id,
        "spanId": record.span_id,
        "severityText": record.severity_text,
        "severityNumber": record.severity_number,
        "serviceName": record.service,
        "body": record.body,
        "attributes": dict(record.attributes),
        "resource": dict(record.resource),
        "scope": {"name": record.scope_name, "version": record.scope_version},
    }
