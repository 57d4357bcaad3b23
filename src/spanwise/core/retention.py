"""How long each project's data is kept, per kind of data: the plain value the config
builds and the store turns into table TTL rules (`store.clickhouse.retention`).

A project without its own setting for a kind keeps that kind as long as the platform's
default (`store.retention_days`); 0 days means forever. The kinds: spans (with their
trace-id index), logs, OTLP metric points, predictions (with the model signals computed
from them) and labels. Span and model metrics are counters and are kept forever.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

SPANS, LOGS, METRICS, PREDICTIONS, LABELS = "spans", "logs", "metrics", "predictions", "labels"
KINDS = (SPANS, LOGS, METRICS, PREDICTIONS, LABELS)
#: The longest retention anyone may configure (a century), so a typo cannot overflow a date.
MAX_DAYS = 36_500


@dataclass(frozen=True)
class RetentionPolicy:
    """`default_days` for every project and kind (0: forever), except where
    `projects[project][kind]` says otherwise."""

    default_days: int = 0
    projects: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def days(self, project: str, kind: str) -> int:
        """Days `project` keeps `kind` (0: forever)."""
        return self.projects.get(project, {}).get(kind, self.default_days)

    def exceptions(self, kind: str) -> dict[str, int]:
        """The projects whose retention of `kind` differs from the default, and theirs."""
        found = {project: self.days(project, kind) for project in self.projects}
        return {project: days for project, days in sorted(found.items()) if days != self.default_days}

    def of_project(self, project: str) -> dict[str, int]:
        """Every kind's days for one project (what `GET /api/v1/retention` answers)."""
        return {kind: self.days(project, kind) for kind in KINDS}
