"""Configuration loading and query-parameter parsing."""

from __future__ import annotations

import os

import pytest

from spanwise.config import load_config
from spanwise.errors import ConfigError, InvalidQuery
from spanwise.serve.params import parse_duration_ns, parse_tags


def test_defaults_file_environment_and_overrides_layer(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "c.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("server:\n  http_port: 1111\n  grpc_port: 2222\ningest:\n  fsync: yes\n")
    config = load_config(path, environ={"SPANWISE_SERVER_GRPC_PORT": "3333"}, overrides={"server": {"query_port": 4444}})
    assert (config.server.http_port, config.server.grpc_port, config.server.query_port) == (1111, 3333, 4444)
    assert config.ingest.fsync is True
    assert config.server.max_body_bytes == 20 * 1024 * 1024
    assert config.server.store_url.startswith("chdb:///")


@pytest.mark.parametrize(
    "text, message",
    [
        ("server:\n  nope: 1\n", "c.yaml:2: server.nope: unknown key"),
        ("server:\n  http_port: abc\n", "c.yaml:2: server.http_port: expected int"),
        ("ingest: 5\n", "ingest: expected a mapping"),
        ("- a\n", "top level must be a mapping"),
        ("server: [\n", "invalid YAML"),
    ],
)
def test_invalid_config_names_the_key(tmp_path: os.PathLike[str], text: str, message: str) -> None:
    path = os.path.join(tmp_path, "c.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config(path, environ={})


@pytest.mark.parametrize(
    "text, expected",
    [("1.2s", 1_200_000_000), ("100ms", 100_000_000), ("1h30m", 5_400_000_000_000), ("500us", 500_000), ("7ns", 7)],
)
def test_go_style_durations(text: str, expected: int) -> None:
    assert parse_duration_ns(text, "d") == expected


@pytest.mark.parametrize("text", ["", "abc", "10", "1.2.3s", "5 m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(InvalidQuery):
        parse_duration_ns(text, "d")


def test_tags_from_json_and_repeated_params() -> None:
    assert parse_tags('{"a": "1", "b": true, "c": 2}', ["d:x:y"]) == (("a", "1"), ("b", "true"), ("c", "2"), ("d", "x:y"))
    with pytest.raises(InvalidQuery):
        parse_tags("[1]", [])
    with pytest.raises(InvalidQuery):
        parse_tags(None, ["novalue"])


def test_every_error_is_reported_with_its_line(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "c.yaml")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("server:\n  http_port: x\n  grpc_port: 1\n  colour: red\ningest:\n  fsync: maybe\n")
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    lines = str(error.value).splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{path}:4: server.colour: unknown key")
    assert lines[1].startswith(f"{path}:2: server.http_port: expected int")
    assert lines[2].startswith(f"{path}:6: ingest.fsync: expected bool")
