"""Parsing of query-string values shared by the Jaeger and native APIs."""

from __future__ import annotations

import re
import time
from typing import Mapping

import orjson

from spanwise.errors import InvalidQuery

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


def parse_duration_ns(text: str, name: str) -> int:
    """Go-style durations as Jaeger accepts them: `1.2s`, `100ms`, `1h30m`, `500us`."""
    value = text.strip()
    parts = _DURATION_PART.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise InvalidQuery(f"{name}: invalid duration {text!r} (use e.g. 1.2s, 100ms, 1h30m)")
    return int(sum(float(number) * _UNIT_NS[unit] for number, unit in parts))


def parse_int(text: str | None, name: str, default: int | None = None) -> int | None:
    if text is None or text == "":
        return default
    try:
        return int(text)
    except ValueError:
        raise InvalidQuery(f"{name}: expected an integer, got {text!r}") from None


def parse_limit(text: str | None, default: int = 20) -> int:
    """A result limit; `default` when absent (0 or negative is an error, not 'default')."""
    limit = parse_int(text, "limit", default)
    assert limit is not None
    return limit


def parse_float(text: str | None, name: str) -> float | None:
    if text is None or text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidQuery(f"{name}: expected a number, got {text!r}") from None


def parse_tags(tags_json: str | None, tag_params: list[str]) -> tuple[tuple[str, str], ...]:
    """Jaeger's `tags={"k":"v"}` JSON object and repeated `tag=k:v` parameters."""
    pairs: list[tuple[str, str]] = []
    if tags_json:
        try:
            decoded = orjson.loads(tags_json)
        except orjson.JSONDecodeError:
            raise InvalidQuery(f"tags: malformed JSON object {tags_json!r}") from None
        if not isinstance(decoded, dict):
            raise InvalidQuery("tags: expected a JSON object of key/value pairs")
        pairs.extend((str(k), _tag_text(v)) for k, v in decoded.items())
    for tag in tag_params:
        key, sep, value = tag.partition(":")
        if not sep or not key:
            raise InvalidQuery(f"tag: expected key:value, got {tag!r}")
        pairs.append((key, value))
    return tuple(pairs)


def _tag_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def time_range(params: Mapping[str, str], lookback: str = "1h") -> tuple[int, int]:
    """`start`/`end` (Unix ns), or the request's `lookback` (else `lookback`) before `end`
    (default now)."""
    end = parse_int(params.get("end"), "end") or time.time_ns()
    start = parse_int(params.get("start"), "start")
    if start is None:
        start = end - parse_duration_ns(params.get("lookback", lookback), "lookback")
    return start, end
