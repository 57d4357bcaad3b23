"""The log renderer: OTel field names, the API's key order, attributes in stored order."""

from __future__ import annotations

from spanwise.query.logs import LogRecord
from spanwise.serve.logs_json import log_json

RECORD = LogRecord(
    time_ns=1_700_000_000_000_000_007, trace_id="ab" * 16, span_id="cd" * 8, severity_text="WARN",
    severity_number=13, service="checkout", body="slow", attributes=(("z", "1"), ("a", "2")),
    resource=(("service.name", "checkout"),), scope_name="app", scope_version="1.0",
)


def test_a_log_record_keeps_otel_names_and_attribute_order() -> None:
    assert log_json(RECORD) == {
        "timeUnixNano": 1_700_000_000_000_000_007, "traceId": "ab" * 16, "spanId": "cd" * 8, "severityText": "WARN",
        "severityNumber": 13, "serviceName": "checkout", "body": "slow", "attributes": {"z": "1", "a": "2"},
        "resource": {"service.name": "checkout"}, "scope": {"name": "app", "version": "1.0"},
    }
    assert list(log_json(RECORD)) == ["timeUnixNano", "traceId", "spanId", "severityText", "severityNumber",
                                      "serviceName", "body", "attributes", "resource", "scope"]
    assert list(log_json(RECORD)["attributes"]) == ["z", "a"]
