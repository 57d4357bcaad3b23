"""PII redaction: real-looking PII in every place a span carries text is redacted before
the AI fields are derived; lookalikes are left alone; actions, key rules, counters and
the keyed hash behave as configured."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue

from spanwise.config import Config, RedactionConfig, load_config
from spanwise.errors import ConfigError
from spanwise.core.spans import SpanBatch
from spanwise.process.chain import ProcessorChain
from spanwise.process.factory import build_pipelines
from spanwise.process.ml_fields import MlFieldsProcessor
from spanwise.process.pii_detectors import DETECTOR_NAMES, DETECTORS, iban_valid, luhn_valid
from spanwise.process.redaction import HashedSearch, RedactionProcessor, redaction_processor
from spanwise.process.redactor import hash_value
from spanwise.receive.decode import decode_export_requests

#: (detector, real-looking value): test numbers of the card networks and banks, the
#: reserved 555-01xx phone range, documentation IP ranges, published example keys.
PII = [
    ("email", "alice.smith@example.com"),
    ("email", "j.oneil+tag@mail.example.co.uk"),
    ("phone", "+1 415 555 0100"),
    ("phone", "+44 20 7946 0958"),
    ("phone", "+33 6 12 34 56 78"),
    ("phone", "+4915112345678"),
    ("phone", "(415) 555-0100"),
    ("phone", "415-555-0100"),
    ("credit_card", "4111 1111 1111 1111"),
    ("credit_card", "5555555555554444"),
    ("credit_card", "3782-822463-10005"),
    ("credit_card", "6011000990139424"),
    ("iban", "DE89 3704 0044 0532 0130 00"),
    ("iban", "GB82WEST12345698765432"),
    ("iban", "FR1420041010050500013M02606"),
    ("us_ssn", "536-22-1234"),
    ("ipv4", "203.0.113.42"),
    ("ipv4", "192.168.1.23"),
    ("ipv6", "2001:db8::8a2e:370:7334"),
    ("ipv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334"),
    ("ipv6", "fe80::1ff:fe23:4567:890a"),
    ("jwt", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
    ("api_key", "AKIAIOSFODNN7EXAMPLE"),
    ("api_key", "ghp_a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"),
    ("api_key", "xoxb-1234567890-abcdefghij"),
    ("api_key", "sk-proj-abcdefghijklmnopqrstuvwx"),
    ("api_key", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("api_key", "AIzaSyA-1234567890abcdefghijklmnopqrstu"),
]

#: Values that look like PII to a careless pattern and must survive untouched.
LOOKALIKES = [
    "ORD-2024-000123", "INV-000123456789", "1.2.3", "v2.10.4", "python-3.11.4", "build 2024.11.25",
    "2024-11-25", "2024-11-25T10:00:00.123Z", "2024-11-25 10:00:00+01:00", "10:30:00", "+12:00",
    "1732492800", "1732492800123", "1732492800123456", "1732492800123456789",
    "123e4567-e89b-12d3-a456-426614174000", "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7",
    "0.6113618375878653", "0.4111111111111111", "3.14159265358979", "-122.4194", "1,234,567.89",
    "4111111111111112", "12345678901234567890", "user_12345", "GET /api/v1/orders/12345", "HTTP/1.1",
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "std::vector",
    "12:34:56:78", "0x7ffeefbff5c8", "ABC123DEF456GHI", "tcp://backend:8080", "Mozilla/5.0 (X11; Linux x86_64)",
]

HASH_KEY = "test-secret"


def _kv(key: str, value: Any) -> KeyValue:
    item = KeyValue(key=key)
    if isinstance(value, int):
        item.value.int_value = value
    else:
        item.value.string_value = value
    return item


def _batch(values: list[str]) -> SpanBatch:
    """One span per value, carrying it in every place a span holds text."""
    request = ExportTraceServiceRequest()
    for i, value in enumerate(values):
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.extend([_kv("service.name", "checkout"), _kv("deployment.owner", value)])
        span = resource_spans.scope_spans.add().spans.add()
        span.trace_id, span.span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        span.name = f"lookup {value}"
        span.start_time_unix_nano, span.end_time_unix_nano = 10**18, 10**18 + 1000
        span.attributes.extend(
            [
                _kv("customer.note", f"call {value} today"),
                _kv("ml.feature.contact_attr", value),
                _kv("model.input_features", str({"contact": value, "age": 42})),
                _kv("model.output_prediction", 1),
            ]
        )
        event = span.events.add(name="audit", time_unix_nano=10**18)
        event.attributes.append(_kv("detail", value))
        link = span.links.add(trace_id=b"\x09" * 16, span_id=b"\x09" * 8)
        link.attributes.append(_kv("peer", value))
    return decode_export_requests([request.SerializeToString()]).batch


def _processor(**settings: Any) -> RedactionProcessor:
    processor = redaction_processor(Config(redaction=RedactionConfig(**settings)), environ={})
    assert processor is not None
    return processor


def _places(batch: SpanBatch) -> list[dict[str, Any]]:
    """Per span: the text of every place, after redaction and ml_fields."""
    rows = batch.spans.to_pylist()
    return [
        {
            "resource": dict(row["ResourceAttributes"]).get("deployment.owner"),
            "name": row["SpanName"],
            "attribute": dict(row["SpanAttributes"]).get("customer.note"),
            "event": dict(row["Events.Attributes"][0]).get("detail"),
            "link": dict(row["Links.Attributes"][0]).get("peer"),
            "dict_feature": dict(row["StringFeatures"]).get("contact"),
            "attribute_feature": dict(row["StringFeatures"]).get("contact_attr"),
        }
        for row in rows
    ]


def _run(processor: RedactionProcessor, values: list[str]) -> SpanBatch:
    return ProcessorChain([processor, MlFieldsProcessor()]).run(_batch(values)).batch


def test_pii_is_masked_in_every_place_and_in_the_parsed_features() -> None:
    processor = _processor()
    places = _places(_run(processor, [value for _, value in PII]))
    for (detector, value), found in zip(PII, places):
        mask = f"[REDACTED:{detector}]"
        expected = {
            "resource": mask, "name": f"lookup {mask}", "attribute": f"call {mask} today", "event": mask,
            "link": mask, "dict_feature": mask, "attribute_feature": mask,
        }
        assert found == expected, value
    assert processor.stats["python_values"] < 12 * len(PII)


def test_every_redaction_is_counted_per_rule() -> None:
    processor = _processor()
    _run(processor, [value for _, value in PII])
    places = 7  # resource, name, note, ml.feature.*, feature dict, event, link
    for name in DETECTOR_NAMES:
        expected = sum(1 for detector, _ in PII if detector == name) * places
        assert processor.stats[f"detector.{name}"] == expected, name


@pytest.mark.parametrize("value", LOOKALIKES)
def test_lookalikes_are_left_alone(value: str) -> None:
    processor = _processor()
    (found,) = _places(_run(processor, [value]))
    assert found["resource"] == value and found["name"] == f"lookup {value}"
    assert found["attribute"] == f"call {value} today" and found["event"] == value and found["link"] == value
    assert found["attribute_feature"] == value
    assert not any(key.startswith("detector.") for key in processor.stats)


def test_drop_removes_the_attribute_and_masks_where_nothing_can_be_dropped() -> None:
    processor = _processor(actions={"email": "drop"})
    batch = _run(processor, ["alice@example.com"])
    (row,) = batch.spans.to_pylist()
    assert "customer.note" not in dict(row["SpanAttributes"]) and "deployment.owner" not in dict(row["ResourceAttributes"])
    assert dict(row["Events.Attributes"][0]) == {} and "contact" not in dict(row["StringFeatures"])
    assert row["SpanName"] == "lookup [REDACTED:email]"
    assert "customer.note" not in batch.attributes.column("key").to_pylist()
    assert batch.attributes.num_rows == len(row["SpanAttributes"])


def test_hash_is_stable_keyed_and_joins_across_spans() -> None:
    processor = _processor(actions={"email": "hash"}, hash_key=HASH_KEY)
    places = _places(_run(processor, ["alice@example.com", "alice@example.com", "bob@example.com"]))
    alice = hash_value(HASH_KEY.encode(), "alice@example.com")
    assert alice.startswith("hmac-sha256:") and "alice" not in alice
    assert places[0]["attribute"] == places[1]["attribute"] == f"call {alice} today"
    assert places[0]["dict_feature"] == places[0]["event"] == alice
    assert places[2]["event"] == hash_value(HASH_KEY.encode(), "bob@example.com") != alice
    assert hash_value(b"another key", "alice@example.com") != alice


def test_hashing_needs_a_key_which_may_come_from_the_environment() -> None:
    config = Config(redaction=RedactionConfig(actions={"email": "hash"}, hash_key_env="PII_KEY"))
    with pytest.raises(ConfigError, match="hash key"):
        redaction_processor(config, environ={})
    processor = redaction_processor(config, environ={"PII_KEY": HASH_KEY})
    assert processor is not None
    (found,) = _places(_run(processor, ["alice@example.com"]))
    assert found["event"] == hash_value(HASH_KEY.encode(), "alice@example.com")


def test_key_rules_exact_glob_regex_and_the_allow_list() -> None:
    rules = [
        RedactionConfig.KeyRule("customer.note", "exact", "mask", "note"),
        RedactionConfig.KeyRule("deployment.*", "glob", "drop", "deployment"),
        RedactionConfig.KeyRule("^ml\\.feature\\.contact", "regex", "hash", "contact"),
    ]
    processor = _processor(key_rules=rules, allow_keys=["detail"], hash_key=HASH_KEY)
    batch = _run(processor, ["order 7", "alice@example.com"])
    places = _places(batch)
    assert [p["attribute"] for p in places] == ["[REDACTED:note]"] * 2
    assert [p["resource"] for p in places] == [None, None]
    assert [p["attribute_feature"] for p in places] == [hash_value(HASH_KEY.encode(), v) for v in ("order 7", "alice@example.com")]
    assert places[1]["event"] == "alice@example.com"  # allow-listed: never redacted
    assert places[1]["link"] == "[REDACTED:email]"
    assert processor.stats["key_rule.note"] == 2 and processor.stats["key_rule.deployment"] == 2
    assert processor.stats["key_rule.contact"] == 2


def test_default_key_rule_masks_credentials_by_key_and_allow_list_keeps_service_name() -> None:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.append(_kv("service.name", "ops@example.com"))
    span = resource_spans.scope_spans.add().spans.add(name="login", trace_id=b"\x01" * 16, span_id=b"\x01" * 8)
    span.attributes.extend([_kv("db.password", "hunter2"), _kv("http.request.header.authorization", "Basic YWxhZGRpbg==")])
    processor = _processor()
    (row,) = processor.process(decode_export_requests([request.SerializeToString()]).batch).spans.to_pylist()
    assert dict(row["SpanAttributes"]) == {
        "db.password": "[REDACTED:secret_key]", "http.request.header.authorization": "[REDACTED:secret_key]"
    }
    assert dict(row["ResourceAttributes"])["service.name"] == row["ServiceName"] == "ops@example.com"


def test_a_redacted_typed_value_becomes_a_string_everywhere() -> None:
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource_spans.resource.attributes.extend([_kv("card", 4111111111111111), _kv("pid", 4242)])
    span = resource_spans.scope_spans.add().spans.add(name="pay", trace_id=b"\x01" * 16, span_id=b"\x01" * 8)
    span.attributes.extend([_kv("ml.feature.card", 4111111111111111), _kv("http.status_code", 200)])
    batch = _run(_processor(), [])  # warm: an empty batch passes through
    assert batch.num_spans == 0
    batch = ProcessorChain([_processor(), MlFieldsProcessor()]).run(
        decode_export_requests([request.SerializeToString()]).batch
    ).batch
    (row,) = batch.spans.to_pylist()
    assert dict(row["SpanAttributes"])["ml.feature.card"] == "[REDACTED:credit_card]"
    assert dict(row["SpanAttributeTypes"]) == {"http.status_code": "int64"}
    assert dict(row["ResourceAttributeTypes"]) == {"pid": "int64"}
    assert dict(row["StringFeatures"]) == {"card": "[REDACTED:credit_card]"} and dict(row["Features"]) == {}
    card_row = batch.attributes.filter(pa.compute.equal(batch.attributes.column("key"), "ml.feature.card"))
    assert card_row.column("type").to_pylist() == ["string"] and card_row.column("number").to_pylist() == [None]


def test_search_values_are_hashed_like_stored_ones() -> None:
    config = Config(redaction=RedactionConfig(actions={"email": "hash"}, hash_key=HASH_KEY))
    search = HashedSearch.from_config(config)
    assert search is not None
    assert search("user.email", "alice@example.com") == hash_value(HASH_KEY.encode(), "alice@example.com")
    assert search("user.id", "user_123") == "user_123"
    assert search("user.phone", "+1 415 555 0100") == "+1 415 555 0100"  # masked: a mask matches everyone
    assert HashedSearch.from_config(Config()) is None  # nothing is hashed by default


def test_redaction_runs_before_ml_fields_and_forward_and_is_on_by_default(tmp_path: Any) -> None:
    config = load_config(overrides={"forward": {"endpoint": "http://127.0.0.1:9"}})
    names = build_pipelines(config).traces.names
    assert names.index("redaction") < names.index("ml_fields")
    if "forward" in names:
        assert names.index("redaction") < names.index("forward")
    disabled = load_config(environ={"SPANWISE_REDACTION_ENABLED": "false"})
    assert "redaction" not in build_pipelines(disabled).traces.names


def test_config_errors_name_the_problem(tmp_path: Any) -> None:
    path = tmp_path / "spanwise.yaml"
    path.write_text("redaction:\n  detectors: [email, passport]\n  key_rules:\n    - {pattern: 'a(', match: regex}\n")
    with pytest.raises(ConfigError) as error:
        load_config(str(path))
    assert "passport" in str(error.value) and "invalid regex" in str(error.value)


def test_each_hint_matches_wherever_its_pattern_does() -> None:
    """The prefilter is the union of the hints: a hint that missed a match would let PII
    through unseen."""
    texts = [v for _, v in PII] + LOOKALIKES + [f"x {v}, y" for _, v in PII] + ["4111 1111 1111 1111 111", "1.2.3.4"]
    for detector in DETECTORS:
        hint = re.compile(detector.hint, re.ASCII)
        for text in texts:
            if detector.compiled.search(text):
                assert hint.search(text), (detector.name, text)


def test_several_kinds_of_pii_in_one_value_and_repeated_values() -> None:
    processor = _processor()
    value = "alice@example.com called +1 415 555 0100 from 203.0.113.42"
    places = _places(_run(processor, [value, value, "ORD-2024-000123"]))
    expected = "[REDACTED:email] called [REDACTED:phone] from [REDACTED:ipv4]"
    assert places[0]["event"] == places[1]["event"] == expected and places[2]["event"] == "ORD-2024-000123"
    assert processor.stats["detector.email"] == processor.stats["detector.phone"] == 2 * 7


def test_check_digits() -> None:
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00") and not iban_valid("DE88 3704 0044 0532 0130 00")
