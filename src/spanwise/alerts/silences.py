"""Silences: label matchers with an expiry; a silenced alert keeps its state but is not sent."""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from spanwise.errors import InvalidQuery

SILENCE_KIND = "silence"
MAX_SILENCE_S = 366 * 86_400


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: list[dict[str, Any]]  # {"name", "value", "regex": bool}
    starts_at_ms: int
    ends_at_ms: int
    comment: str = ""
    created_by: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def active(self, now_ms: int) -> bool:
        return self.starts_at_ms <= now_ms < self.ends_at_ms

    def matches(self, labels: dict[str, str]) -> bool:
        for m in self.matchers:
            value = labels.get(m["name"], "")
            if not (re.fullmatch(m["value"], value) if m.get("regex") else value == m["value"]):
                return False
        return True

    def to_json(self, now_ms: int) -> dict[str, Any]:
        status = "active" if self.active(now_ms) else "expired" if now_ms >= self.ends_at_ms else "pending"
        return {**asdict(self), "status": status}


def parse_silence(body: Any, now_ms: int) -> Silence:
    """A silence from JSON: matchers (required), ends_at_ms or duration_s, comment, created_by."""
    if not isinstance(body, dict):
        raise InvalidQuery("a silence is a JSON object")
    matchers = body.get("matchers")
    if not isinstance(matchers, list) or not matchers:
        raise InvalidQuery("matchers: a non-empty list of {name, value, regex?}")
    for index, m in enumerate(matchers):
        if not (isinstance(m, dict) and isinstance(m.get("name"), str) and isinstance(m.get("value"), str)):
            raise InvalidQuery(f"matchers[{index}]: needs string name and value")
        if m.get("regex"):
            try:
                re.compile(m["value"])
            except (re.error, RecursionError, OverflowError) as exc:  # deep nesting; a{4294967296}
                raise InvalidQuery(f"matchers[{index}].value: invalid regex: {exc}") from exc
    starts = int(_number(body.get("starts_at_ms") or now_ms, "starts_at_ms"))
    if "ends_at_ms" in body:
        ends = int(_number(body["ends_at_ms"], "ends_at_ms"))
    else:
        ends = starts + int(_number(body.get("duration_s", 3600), "duration_s") * 1000)
    if not starts < ends <= now_ms + MAX_SILENCE_S * 1000:
        raise InvalidQuery("ends_at_ms: after starts_at_ms and at most a year ahead")
    clean = [{"name": m["name"], "value": m["value"], "regex": bool(m.get("regex"))} for m in matchers]
    return Silence(uuid.uuid4().hex, clean, starts, ends, str(body.get("comment", ""))[:1000],
                   str(body.get("created_by", ""))[:200])


def _number(value: Any, name: str) -> float:
    """A finite number (or its text): a list, null, NaN or an infinity is a 400 naming the
    field, not an error deeper down (`int(inf)` raises OverflowError)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidQuery(f"{name}: a number, got {type(value).__name__}") from None
    if isinstance(value, bool) or not math.isfinite(number):
        raise InvalidQuery(f"{name}: a finite number, got {value!r}")
    return number
