"""The state machine of one alert (one rule, one label set), as a JSON-able value.

inactive -> pending (condition true, waiting `for_s`) -> firing -> resolved; pending
falls back to inactive when the condition stops holding. Timestamps are milliseconds.
`sent` records, per receiver, the last state it accepted and when, so a restart knows
what was already told (nothing is told twice) and what was not yet (nothing is lost).
An alert belongs to its rule's project, named by its `project` label, so every receiver,
silence and fingerprint tells the alerts of two projects apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any

from spanwise.request_context import DEFAULT_PROJECT

INACTIVE, PENDING, FIRING, RESOLVED = "inactive", "pending", "firing", "resolved"
_VALUE = re.compile(r"\{\{\s*\$value\s*\}\}")
#: The label naming the project an alert belongs to (set by the engine, never by a rule).
PROJECT_LABEL = "project"
_LABEL = re.compile(r"\{\{\s*\$labels\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def fingerprint(labels: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(labels, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class Alert:
    rule: str
    labels: dict[str, str]
    state: str = INACTIVE
    value: float = 0.0
    active_at_ms: int = 0
    fired_at_ms: int = 0
    resolved_at_ms: int = 0
    annotations: dict[str, str] = field(default_factory=dict)
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # receiver -> {"state", "at_ms"}
    series: list[list[str]] = field(default_factory=list)  # the source's label set, as (name, value) pairs

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.labels)

    @property
    def project(self) -> str:
        return self.labels.get(PROJECT_LABEL, DEFAULT_PROJECT)

    @property
    def key(self) -> str:
        return f"{self.rule}/{self.fingerprint}"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, body: str) -> "Alert":
        return cls(**json.loads(body))

    def step(self, active: bool, value: float, now_ms: int, for_ms: int) -> str | None:
        """Advance on one evaluation; the previous state when it changed, else None."""
        before = self.state
        self.value = value
        if active and self.state in (INACTIVE, RESOLVED):
            self.state, self.active_at_ms, self.resolved_at_ms = PENDING, now_ms, 0
        if active and self.state == PENDING and now_ms - self.active_at_ms >= for_ms:
            self.state, self.fired_at_ms = FIRING, now_ms
        if not active and self.state == PENDING:
            self.state = INACTIVE
        elif not active and self.state == FIRING:
            self.state, self.resolved_at_ms = RESOLVED, now_ms
        return before if self.state != before else None

    def settled(self) -> bool:
        """Nothing left to tell anyone: the state can be forgotten."""
        if self.state == INACTIVE:
            return True
        return self.state == RESOLVED and all(s["state"] != FIRING for s in self.sent.values())


def render(template: str, value: float, labels: dict[str, str]) -> str:
    """Prometheus-style `{{ $value }}` and `{{ $labels.name }}` substitution."""
    text = _VALUE.sub(f"{value:.4g}", template)
    return _LABEL.sub(lambda m: labels.get(m.group(1), ""), text)
