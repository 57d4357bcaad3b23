"""Enrichment rules on span attributes, and their validation in config."""

from __future__ import annotations

import os
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from spanwise.config import EnrichmentRuleConfig as Rule
from spanwise.config import load_config
from spanwise.errors import ConfigError
from spanwise.process.chain import ProcessorChain
from spanwise.process.enrichment import EnrichmentProcessor
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests


def _run(rules: list[Rule], *span_attrs: dict[str, Any], resource: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    for key, value in (resource or {}).items():
        kv = resource_spans.resource.attributes.add()
        kv.key = key
        if isinstance(value, int):
            kv.value.int_value = value
        else:
            kv.value.string_value = value
    ss = resource_spans.scope_spans.add()
    for i, attrs in enumerate(span_attrs):
        span = ss.spans.add()
        span.trace_id, span.span_id, span.name = b"\x01" * 16, (i + 1).to_bytes(8, "big"), f"s{i}"
        for key, value in attrs.items():
            kv = span.attributes.add()
            kv.key = key
            if isinstance(value, int):
                kv.value.int_value = value
            else:
                kv.value.string_value = value
    batch = decode_export_requests([request.SerializeToString()]).batch
    out = ProcessorChain([EnrichmentProcessor(rules), MlFieldsProcessor()]).run(batch).batch
    assert out.attributes.num_rows == sum(len(r) for r in out.spans.column("SpanAttributes").to_pylist())
    return out.spans.to_pylist()


def test_set_only_where_missing_unless_overwrite() -> None:
    rows = _run([Rule("set", "env", value="prod")], {"env": "dev"}, {})
    assert dict(rows[0]["SpanAttributes"])["env"] == "dev" and dict(rows[1]["SpanAttributes"])["env"] == "prod"
    rows = _run([Rule("set", "env", value="prod", overwrite=True)], {"env": "dev", "a": "1"}, {})
    assert [dict(r["SpanAttributes"]) for r in rows] == [{"a": "1", "env": "prod"}, {"env": "prod"}]


def test_rename_to_canonical_names_feeds_the_ai_fields() -> None:
    rules = [Rule("rename", "ml.model.version", source="mdl_ver"), Rule("copy", "ml.prediction.confidence", source="score")]
    rows = _run(rules, {"mdl_ver": "v9", "score": "0.7", "other": 3})
    attrs = dict(rows[0]["SpanAttributes"])
    assert "mdl_ver" not in attrs and attrs["ml.model.version"] == "v9" and attrs["score"] == "0.7"
    assert rows[0]["ModelVersion"] == "v9" and rows[0]["Confidence"] == 0.7 and rows[0]["IsPrediction"]
    assert dict(rows[0]["SpanAttributeTypes"]) == {"other": "int64"}


def test_copy_keeps_the_type_and_derive_rewrites() -> None:
    rules = [Rule("copy", "retries.copy", source="retries"), Rule("derive", "team", source="svc", pattern=r"^(\w+)-.*$", replacement=r"\1")]
    rows = _run(rules, {"retries": 3, "svc": "payments-api"}, {"svc": "nodash"})
    assert dict(rows[0]["SpanAttributeTypes"]) == {"retries": "int64", "retries.copy": "int64"}
    assert dict(rows[0]["SpanAttributes"])["team"] == "payments" and "team" not in dict(rows[1]["SpanAttributes"])


def test_sources_are_span_then_resource_attributes() -> None:
    """The README's `derive` from `service.name` (a resource attribute) fires; a span
    attribute of the same name wins over the resource's."""
    rules = [Rule("derive", "team", source="service.name", pattern=r"^(\w+)-.*$", replacement=r"\1"), Rule("copy", "pid", source="process.pid")]
    rows = _run(rules, {}, {"service.name": "billing-api"}, resource={"service.name": "payments-api", "process.pid": 42})
    assert dict(rows[0]["SpanAttributes"]) == {"team": "payments", "pid": "42"}
    assert dict(rows[0]["SpanAttributeTypes"]) == {"pid": "int64"}
    assert dict(rows[1]["SpanAttributes"])["team"] == "billing"
    rows = _run([Rule("rename", "svc", source="service.name")], {}, resource={"service.name": "payments-api"})
    assert dict(rows[0]["SpanAttributes"]) == {"svc": "payments-api"} and dict(rows[0]["ResourceAttributes"])["service.name"] == "payments-api"


def test_invalid_rules_are_config_errors_with_lines(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "c.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("enrichment:\n  rules:\n    - action: explode\n      key: a\n    - action: copy\n      key: b\n    - key: c\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    message = str(error.value)
    assert f"{path}:3: enrichment.rules[0]: action must be one of" in message
    assert "enrichment.rules[1]: action copy needs a `source` key" in message
    assert "enrichment.rules[2]: missing required key(s) action" in message


def test_validate_warns_on_sources_that_never_match(tmp_path: os.PathLike[str], capsys: pytest.CaptureFixture[str]) -> None:
    """`config validate` passes the README's rules silently and warns, without failing, on a
    span field used as a source, a source written only by a later rule, and a renamed-away one."""
    from spanwise.cli import main

    path = os.path.join(tmp_path, "c.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            "enrichment:\n  rules:\n"
            "    - {action: derive, source: service.name, key: team, pattern: '^(\\w+)-.*$', replacement: '\\1'}\n"
            "    - {action: rename, source: mdl_ver, key: ml.model.version}\n"
        )
    assert main(["config", "validate", path]) == 0
    assert capsys.readouterr() == (f"{path}: OK\n", "")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            "enrichment:\n  rules:\n"
            "    - {action: derive, source: name, key: op, pattern: '^(\\w+)'}\n"
            "    - {action: copy, source: team, key: owner}\n"
            "    - {action: rename, source: svc, key: team}\n"
            "    - {action: copy, source: svc, key: svc2}\n"
        )
    assert main(["config", "validate", path]) == 0
    out, err = capsys.readouterr()
    assert out == f"{path}: OK (3 warning(s))\n"
    lines = err.splitlines()
    assert lines[0].startswith(f"{path}: warning: enrichment.rules[0]: source 'name' is a span field, not an attribute")
    assert lines[1].startswith(f"{path}: warning: enrichment.rules[1]: source 'team' is only written by rule 2")
    assert lines[2].startswith(f"{path}: warning: enrichment.rules[3]: source 'svc' was renamed away")
    assert all("span attribute, else the resource attribute" in line for line in lines) and len(lines) == 3
