"""Parsing of query-string values shared by the Jaeger and native APIs.

Every number is checked against what the store can hold (Int64 nanoseconds: 1970 to
2262) and against the API's bounds, so a huge, negative or NaN value is a 400 naming the
parameter instead of an overflow deeper down.
"""

from __future__ import annotations

import difflib
import math
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import orjson
from starlette.datastructures import QueryParams

from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery

_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h|d)")
_UNIT_NS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}


#: The largest Int64: the latest nanosecond timestamp (2262-04-11) and longest duration.
MAX_NS = 2**63 - 1
#: The most results one request may ask for (`limit`).
MAX_LIMIT = 100_000


def parse_duration_ns(text: str, name: str) -> int:
    """Go-style durations as Jaeger accepts them: `1.2s`, `100ms`, `1h30m`, `500us`."""
    value = text.strip()
    parts = _DURATION_PART.findall(value)
    if not value or "".join(n + u for n, u in parts) != value:
        raise InvalidQuery(f"{name}: invalid duration {text!r} (use e.g. 1.2s, 100ms, 1h30m)")
    duration = sum(float(number) * _UNIT_NS[unit] for number, unit in parts)
    if duration > MAX_NS:
        raise InvalidQuery(f"{name}: duration {text!r} is longer than the store can hold (about 292 years)")
    return int(duration)


def parse_int(
    text: str | None, name: str, default: int | None = None, low: int = -MAX_NS, high: int = MAX_NS
) -> int | None:
    """An integer in [low, high]; `default` when absent."""
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidQuery(f"{name}: expected an integer, got {text!r}") from None
    if not low <= value <= high:
        raise InvalidQuery(f"{name}: {value} is out of range (allowed: {low} to {high})")
    return value


def parse_limit(text: str | None, default: int = 20) -> int:
    """A result limit from 1 to MAX_LIMIT; `default` when absent (0 or negative is an error, not 'default')."""
    limit = parse_int(text, "limit", default, 1, MAX_LIMIT)
    assert limit is not None
    return limit


def parse_float(text: str | None, name: str) -> float | None:
    """A finite number; NaN and infinities are errors (they compare false with everything)."""
    if text is None or text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidQuery(f"{name}: expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise InvalidQuery(f"{name}: expected a finite number, got {text!r}")
    return value


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
    """`start`/`end` (Unix ns, 0 to MAX_NS), or the request's `lookback` (else `lookback`)
    before `end` (default now); a lookback reaching before 1970 starts at 0."""
    end = parse_int(params.get("end"), "end", None, 0, MAX_NS) or time.time_ns()
    start = parse_int(params.get("start"), "start", None, 0, MAX_NS)
    if start is None:
        start = max(0, end - parse_duration_ns(params.get("lookback", lookback), "lookback"))
    check_time_range(start, end)
    return start, end


@dataclass(frozen=True)
class Param:
    """A query parameter a route accepts. The route's declaration is the one list both the
    400 for an unknown parameter (`check_params`) and the OpenAPI description read."""

    name: str
    description: str = ""
    type: str = "string"  # OpenAPI schema type
    required: bool = False
    repeated: bool = False
    #: The values the route accepts, when it names them (an `enum`), and a number's range.
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None

    def openapi(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.choices:
            schema["enum"] = list(self.choices)
        schema.update({k: v for k, v in (("minimum", self.minimum), ("maximum", self.maximum)) if v is not None})
        if self.repeated:
            schema = {"type": "array", "items": schema}
        found: dict[str, Any] = {"name": self.name, "in": "query", "required": self.required, "schema": schema}
        if self.description:
            found["description"] = self.description
        return found


def time_params(lookback: str = "1h") -> tuple[Param, ...]:
    """`start`/`end` (Unix ns) or `lookback`, as `time_range` reads them."""
    return (
        Param("start", "Unix ns; default end - lookback", "integer", minimum=0, maximum=MAX_NS),
        Param("end", "Unix ns; default now", "integer", minimum=0, maximum=MAX_NS),
        Param("lookback", f"duration before end, e.g. 1h (default {lookback})"),
    )


LIMIT = Param("limit", "most results to return", "integer", minimum=1, maximum=MAX_LIMIT)
#: A fixed reference window (drift, data quality, concept drift, estimated quality).
REFERENCE = (Param("reference_start", "Unix ns", "integer", minimum=0, maximum=MAX_NS),
             Param("reference_end", "Unix ns", "integer", minimum=0, maximum=MAX_NS))


def parse_time(text: str | None, name: str) -> int | None:
    """A Unix-ns timestamp the store can hold (1970 to 2262); None when absent."""
    return parse_int(text, name, None, 0, MAX_NS)
VERSION = Param("version", "one model version (default: all)")
STEP = Param("step", "window length in seconds or e.g. 5m")


def check_params(params: QueryParams, allowed: Sequence[Param], strict: bool = True) -> None:
    """A 400 naming the first unknown parameter (with close matches and the allowed
    names) instead of silently ignoring it; with `strict`, also a single-valued parameter
    given twice (which value would win is not obvious)."""
    known = {p.name: p for p in allowed}
    for name in params.keys():
        if name not in known:
            raise InvalidQuery(_unknown(name, sorted(known)))
        if strict and not known[name].repeated and len(params.getlist(name)) > 1:
            raise InvalidQuery(f"parameter {name!r} is given {len(params.getlist(name))} times; give it once")


def _unknown(name: str, allowed: list[str]) -> str:
    if not allowed:
        return f"unknown parameter {name!r}; this endpoint takes no query parameters"
    folded = {_fold(a): a for a in allowed}
    key = _fold(name)
    matches = [key] if key in folded else difflib.get_close_matches(key, list(folded), n=3, cutoff=0.7)
    close = [folded[f] for f in matches]
    hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
    return f"unknown parameter {name!r}{hint}; allowed: {', '.join(allowed)}"


def _fold(name: str) -> str:
    """`minConfidence`, `min-confidence` and `min_confidence` compare equal."""
    return name.lower().replace("_", "").replace("-", "")
