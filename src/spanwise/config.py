"""One typed, validated configuration, loaded once at the edge and passed down.

Sources, later ones winning: defaults, a YAML file (`--config`), environment variables
`SPANWISE_<SECTION>_<KEY>` (e.g. `SPANWISE_SERVER_HTTP_PORT=14318`), command-line flags.
Unknown keys and wrong types are errors that name the offending key.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field, fields, replace
from typing import Any, Mapping, get_type_hints

import yaml

from spanwise.errors import ConfigError


@dataclass(frozen=True)
class ServerConfig:
    """Where Spanwise listens and keeps its data."""

    data_dir: str = "./spanwise-data"
    store: str = ""  # store URL; empty means chdb://<data_dir>
    host: str = "0.0.0.0"
    grpc_port: int = 4317
    http_port: int = 4318
    query_port: int = 16686
    max_body_bytes: int = 20 * 1024 * 1024
    log_level: str = "info"

    @property
    def store_url(self) -> str:
        return self.store or f"chdb://{os.path.abspath(self.data_dir)}"


@dataclass(frozen=True)
class IngestConfig:
    """The ingest log: how often and how much to move into the store, how much may wait
    (beyond it, senders are told to retry later), and whether to fsync every append."""

    flush_interval_ms: float = 500.0
    flush_rows: int = 100_000
    max_pending_rows: int = 500_000
    fsync: bool = False


@dataclass(frozen=True)
class StoreConfig:
    """Retention: days to keep spans; 0 keeps them forever."""

    retention_days: int = 0


@dataclass(frozen=True)
class MlConfig:
    """Extra attribute names for canonical AI fields: canonical -> [user keys]."""

    mappings: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    ml: MlConfig = field(default_factory=MlConfig)


def load_config(
    path: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Config:
    """Build the configuration from a YAML file, the environment and explicit overrides."""
    raw: dict[str, Any] = {}
    if path:
        raw = _read_yaml(path)
    merged = _merge(raw, _from_environ(os.environ if environ is None else environ))
    merged = _merge(merged, {k: dict(v) for k, v in (overrides or {}).items()})
    return _build(Config, merged, "")


def _read_yaml(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def _from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    result: dict[str, dict[str, Any]] = {}
    for section in fields(Config):
        prefix = f"SPANWISE_{section.name.upper()}_"
        for key, value in environ.items():
            if key.startswith(prefix):
                result.setdefault(section.name, {})[key[len(prefix) :].lower()] = value
    return result


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where or 'config'}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        path = f"{where}.{name}" if where else name
        is_section = isinstance(hint, type) and dataclasses.is_dataclass(hint)
        values[name] = _build(hint, value, path) if is_section else _coerce(hint, value, path)
    return cls(**values)


def _coerce(hint: Any, value: Any, path: str) -> Any:
    """Values from YAML or the environment (strings) into the declared type."""
    try:
        if hint is int and not isinstance(value, bool):
            return int(value)
        if hint is float and not isinstance(value, bool):
            return float(value)
        if hint is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes", "false", "0", "no"):
                return str(value).lower() in ("true", "1", "yes")
        if hint is str and isinstance(value, (str, int, float)):
            return str(value)
    except ValueError:
        pass
    if getattr(hint, "__origin__", None) is dict and isinstance(value, dict):
        if all(isinstance(k, str) and isinstance(v, list) and all(isinstance(i, str) for i in v) for k, v in value.items()):
            return value
    raise ConfigError(f"{path}: expected {getattr(hint, '__name__', hint)}, got {value!r}")


def with_server(config: Config, **changes: Any) -> Config:
    """The same configuration with some server settings replaced."""
    return replace(config, server=replace(config.server, **changes))
