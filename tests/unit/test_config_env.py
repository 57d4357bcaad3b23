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


def test_tls_from_the_environment() -> None:
    config = load_config(environ={"SPANWISE_TLS_CERT_FILE": "/certs/s.pem", "SPANWISE_TLS_KEY_FILE": "/certs/s.key",
                                  "SPANWISE_TLS_CLIENT_CA_FILE": "/certs/ca.pem", "SPANWISE_TLS_RELOAD_INTERVAL_S": "2"})
    assert config.tls.enabled and config.tls.cert_file == "/certs/s.pem" and config.tls.key_file == "/certs/s.key"
    assert config.tls.client_ca_file == "/certs/ca.pem" and config.tls.reload_interval_s == 2.0
    assert not load_config(environ={}).tls.enabled


@pytest.mark.parametrize("environ, message", [
    ({"SPANWISE_TLS_CERT_FILE": "s.pem"}, "tls: cert_file and key_file go together"),
    ({"SPANWISE_TLS_CLIENT_CA_FILE": "ca.pem"}, "tls: client_ca_file .mutual TLS. needs cert_file"),
    ({"SPANWISE_TLS_CERT_FILE": "s.pem", "SPANWISE_TLS_KEY_FILE": "s.key", "SPANWISE_TLS_RELOAD_INTERVAL_S": "0"},
     "tls: reload_interval_s must be between"),
    ({"SPANWISE_TLS_RELOAD_INTERVAL_S": "soon"}, "tls.reload_interval_s: expected float"),
])
def test_tls_mistakes_name_the_key(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(environ=environ)
