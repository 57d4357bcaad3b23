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
from spanwise.process.enrichment import Enricher
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.receive.decode import decode_export_requests


def _run(rules: list[Rule], *span_attrs: dict[str, Any]) -> list[dict[str, Any]]:
    request = ExportTraceServiceRequest()
    ss = request.resource_spans.add().scope_spans.add()
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
    out = ProcessorChain([Enricher(rules), MlFieldsProcessor()]).run(batch).batch
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
