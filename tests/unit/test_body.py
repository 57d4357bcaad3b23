"""serve.body: multi-member gunzip in linear time with its limits, and the in-flight budget;
serve.host_check: which Host names the query API answers."""

from __future__ import annotations

import gzip
import time

import pytest

from spanwise.config import ServerConfig
from spanwise.errors import MalformedPayload, PayloadTooLarge, PipelineFull
from spanwise.serve.body import MAX_GZIP_MEMBERS, InflightBytes, gunzip
from spanwise.serve.host_check import RequestGuard, allowed_hosts


def test_gunzip_joins_every_member() -> None:
    big = bytes(range(256)) * 2000
    assert gunzip(gzip.compress(b"abc") + gzip.compress(b"") + gzip.compress(big), 10**6) == b"abc" + big


@pytest.mark.parametrize("body,error,fragment", [
    (b"", MalformedPayload, "empty"),
    (b"not gzip at all", MalformedPayload, "invalid gzip body"),
    (gzip.compress(b"a" * 500, mtime=0)[:-4], MalformedPayload, "truncated"),
    (gzip.compress(b"a", mtime=0) + b"trailing junk", MalformedPayload, "invalid gzip body"),
    (gzip.compress(b"a" * 1001, mtime=0), PayloadTooLarge, "limit of 1000"),
    (gzip.compress(b"a" * 600, mtime=0) * 2, PayloadTooLarge, "limit of 1000"),
    (gzip.compress(b"", mtime=0) * (MAX_GZIP_MEMBERS + 1), MalformedPayload, "gzip members"),
])
def test_gunzip_refuses(body: bytes, error: type[Exception], fragment: str) -> None:
    with pytest.raises(error, match=fragment):
        gunzip(body, 1000)


def test_gunzip_at_exactly_the_limit() -> None:
    assert gunzip(gzip.compress(b"a" * 1000), 1000) == b"a" * 1000


def test_gunzip_of_a_member_flood_is_fast() -> None:
    """19 MB of empty members copied the rest once per member (minutes) before."""
    flood = gzip.compress(b"") * (19 * 2**20 // 20)
    began = time.monotonic()
    with pytest.raises(MalformedPayload):
        gunzip(flood, 20 * 2**20)
    assert time.monotonic() - began < 0.5


def test_inflight_budget_refuses_past_the_limit_and_gives_back() -> None:
    budget = InflightBytes(100)
    with budget.hold() as first:
        first(150)  # alone: always proceeds (bounded by the body limit)
        with budget.hold() as second, pytest.raises(PipelineFull, match="max_inflight_bytes"):
            second(1)
        assert budget.used == 150
    assert budget.used == 0
    with budget.hold() as take:
        take(60)
        with budget.hold() as other:
            other(40)
            assert budget.used == 100
    assert budget.used == 0


def guard_refusal(host: str, config: ServerConfig, method: str = "GET", **headers: str) -> tuple[int, str] | None:
    raw = [(b"host", host.encode())] + [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    guard = RequestGuard(lambda *a: None, allowed_hosts(config))  # type: ignore[arg-type]
    return guard.refusal({"type": "http", "method": method, "headers": raw})


@pytest.mark.parametrize("host,allowed", [
    ("localhost:16686", True), ("127.0.0.1:16686", True), ("[::1]:16686", True), ("192.168.1.9", True),
    ("LOCALHOST", True), ("", True), ("evil.example", False), ("evil.example:16686", False),
    ("localhost.evil.example", False),
])
def test_host_names_on_the_default_listen_address(host: str, allowed: bool) -> None:
    assert (guard_refusal(host, ServerConfig()) is None) is allowed


def test_listen_host_and_configured_names_are_allowed_and_star_allows_any() -> None:
    config = ServerConfig(host="spanwise.lan", allowed_hosts=["Grafana.Internal"])
    assert guard_refusal("spanwise.lan:16686", config) is None
    assert guard_refusal("grafana.internal", config) is None
    assert guard_refusal("other.lan", config) is not None
    assert guard_refusal("anything.example", ServerConfig(allowed_hosts=["*"])) is None


def test_writes_need_same_origin_and_an_api_content_type() -> None:
    config = ServerConfig()
    assert guard_refusal("127.0.0.1:1", config, "POST", origin="http://127.0.0.1:1") is None
    assert guard_refusal("127.0.0.1:1", config, "POST", origin="http://evil.example")[0] == 403  # type: ignore[index]
    assert guard_refusal("127.0.0.1:1", config, "POST", content_length="3")[0] == 415  # type: ignore[index]
    assert guard_refusal("127.0.0.1:1", config, "POST", content_length="3", content_type="text/plain")[0] == 415  # type: ignore[index]
    assert guard_refusal("127.0.0.1:1", config, "POST", content_length="3", content_type="application/json") is None
    assert guard_refusal("127.0.0.1:1", config, "GET", content_type="text/plain") is None
