"""The generic half of the configuration: YAML with the line of every key, environment
variables mapped onto nested dataclass keys, and dataclass building that collects every
problem (`key: message`) instead of stopping at the first. It knows no section: the
schemas and `load_config` are in `spanwise.config`."""

from __future__ import annotations

import dataclasses
import types
from dataclasses import fields
from typing import Any, Mapping, Union, get_args, get_origin, get_type_hints

import yaml

from spanwise.errors import ConfigError


def read_yaml(path: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The YAML document and the line of every key path (for error messages)."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        data = yaml.safe_load(text) or {}
        node = yaml.compose(text)
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    lines: dict[str, int] = {}
    _key_lines(node, "", lines)
    return data, lines


def _key_lines(node: Any, prefix: str, lines: dict[str, int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = f"{prefix}.{key_node.value}" if prefix else str(key_node.value)
            lines[key] = key_node.start_mark.line + 1
            _key_lines(value_node, key, lines)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            key = f"{prefix}[{index}]"
            lines[key] = item.start_mark.line + 1
            _key_lines(item, key, lines)


def from_environ(environ: Mapping[str, str], root: type) -> dict[str, Any]:
    """`SPANWISE_<SECTION>_<KEY>` variables as a nested mapping. Keys of nested sections
    are joined with underscores (`SPANWISE_SAMPLING_TAIL_ENABLED` is `sampling.tail.enabled`);
    lists and mappings are given in YAML flow style (`[a, b]`, `{k: v}`) or, for a list
    of strings, comma-separated. A variable naming a section but no key is reported as an
    unknown key; other `SPANWISE_*` variables (the SDK's) are not configuration."""
    result: dict[str, Any] = {}
    sections = {f.name: f for f in fields(root)}
    hints = get_type_hints(root)
    for name, value in environ.items():
        if not name.startswith("SPANWISE_"):
            continue
        rest = name[len("SPANWISE_"):].lower()
        section = next((s for s in sorted(sections, key=len, reverse=True) if rest.startswith(s + "_")), None)
        if section is None:
            continue
        path, hint = _env_path(hints[section], rest[len(section) + 1:])
        target = result.setdefault(section, {})
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = _env_value(hint, value)
    return result


def _env_path(cls: Any, rest: str) -> tuple[list[str], Any]:
    """The key path `rest` (underscore-joined) names inside dataclass `cls`, and its type;
    an unmatched `rest` comes back whole (reported as an unknown key)."""
    if not (isinstance(cls, type) and dataclasses.is_dataclass(cls)):
        return [rest], None
    hints = get_type_hints(cls)
    for name in sorted((f.name for f in fields(cls)), key=len, reverse=True):
        if rest == name:
            return [name], hints[name]
        if rest.startswith(name + "_") and isinstance(hints[name], type) and dataclasses.is_dataclass(hints[name]):
            path, hint = _env_path(hints[name], rest[len(name) + 1:])
            return [name, *path], hint
    return [rest], None


def _env_value(hint: Any, value: str) -> Any:
    """An environment string as YAML for list and mapping keys; scalars stay strings
    (converted with the declared type like YAML values)."""
    if get_origin(hint) not in (list, dict):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    if get_origin(hint) is list and isinstance(parsed, str):
        return [item.strip() for item in parsed.split(",") if item.strip()]
    return parsed


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


BAD = object()


def build(cls: type, data: Any, where: str, errors: list[tuple[str, str]]) -> Any:
    """A dataclass from a mapping; problems are appended to `errors`, defaults kept."""
    if not isinstance(data, dict):
        errors.append((where, f"expected a mapping, got {type(data).__name__}"))
        return BAD
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    for name in sorted(set(data) - known):
        errors.append((f"{where}.{name}" if where else name, f"unknown key; known: {', '.join(sorted(known))}"))
    values = {}
    for name, value in data.items():
        if name in known:
            converted = _convert(hints[name], value, f"{where}.{name}" if where else name, errors)
            if converted is not BAD:
                values[name] = converted
    missing = [f.name for f in fields(cls) if f.name not in values and _required(f)]
    if missing:
        errors.append((where, f"missing required key(s) {', '.join(missing)}"))
        return BAD
    try:
        return cls(**values)
    except ValueError as exc:  # a dataclass's own __post_init__ validation
        errors.append((where, str(exc)))
        return BAD


def _required(item: dataclasses.Field[Any]) -> bool:
    return item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING


def _convert(hint: Any, value: Any, path: str, errors: list[tuple[str, str]]) -> Any:
    """A YAML or environment value (strings) as the declared type, or BAD."""
    origin, args = get_origin(hint), get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return build(hint, value, path, errors)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _convert(next(a for a in args if a is not type(None)), value, path, errors)
    if origin is list:
        if not isinstance(value, list):
            errors.append((path, f"expected a list, got {value!r}"))
            return BAD
        items = [_convert(args[0], item, f"{path}[{i}]", errors) for i, item in enumerate(value)]
        return BAD if any(item is BAD for item in items) else items
    if origin is dict:
        if not isinstance(value, dict):
            errors.append((path, f"expected a mapping, got {value!r}"))
            return BAD
        entries = {str(k): _convert(args[1], v, f"{path}.{k}", errors) for k, v in value.items()}
        return BAD if any(item is BAD for item in entries.values()) else entries
    scalar = _scalar(hint, value)
    if scalar is BAD:
        errors.append((path, f"expected {getattr(hint, '__name__', hint)}, got {value!r}"))
    return scalar


def _scalar(hint: Any, value: Any) -> Any:
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "1", "yes", "false", "0", "no"):
                return str(value).lower() in ("true", "1", "yes")
            return BAD
        if hint is int and not isinstance(value, (bool, float)):
            return int(value)
        if hint is float and not isinstance(value, bool):
            return float(value)
        if hint is str and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
    except (TypeError, ValueError):
        pass
    return BAD
