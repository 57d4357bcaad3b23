"""Environment overrides reach every key, as the README says: nested sections, lists."""

from __future__ import annotations

import pytest

from spanwise.config import load_config
from spanwise.errors import ConfigError


def test_nested_keys_lists_and_scalars_are_set_from_the_environment() -> None:
    config = load_config(environ={
        "SPANWISE_SAMPLING_TAIL_ENABLED": "true",
        "SPANWISE_SAMPLING_TAIL_MAX_PENDING_TRACES": "77",
        "SPANWISE_SERVER_HTTP_PORT": "14318",
        "SPANWISE_SERVER_ALLOWED_HOSTS": "a.example, b.example",
        "SPANWISE_INGEST_MAX_AGE_DAYS": "7",
        "SPANWISE_API_URL": "http://localhost:16686",  # the SDK's variable, not configuration
    })
    assert config.sampling.tail.enabled is True and config.sampling.tail.max_pending_traces == 77
    assert config.server.http_port == 14318
    assert config.server.allowed_hosts == ["a.example", "b.example"]
    assert config.ingest.max_age_days == 7.0


def test_a_yaml_list_from_the_environment() -> None:
    config = load_config(environ={"SPANWISE_SERVER_ALLOWED_HOSTS": "[c.example]"})
    assert config.server.allowed_hosts == ["c.example"]


@pytest.mark.parametrize("name, where", [
    ("SPANWISE_SAMPLING_TAIL_NOPE", "sampling.tail.nope"),
    ("SPANWISE_SERVER_NOPE", "server.nope"),
])
def test_an_unknown_key_is_named(name: str, where: str) -> None:
    with pytest.raises(ConfigError, match=f"{where}: unknown key"):
        load_config(environ={name: "1"})


def test_a_wrong_type_names_the_nested_key() -> None:
    with pytest.raises(ConfigError, match="sampling.tail.enabled: expected bool"):
        load_config(environ={"SPANWISE_SAMPLING_TAIL_ENABLED": "maybe"})
