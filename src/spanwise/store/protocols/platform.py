"""The storage seam for the platform's own state: alerting (rules, alerts, silences, history),
compliance (erasing a data subject, retention per project) and access control (tokens,
projects, the audit log). Each is its own Protocol (STYLE.md: optional features are their
own interfaces), implemented by `store.clickhouse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from spanwise.core.retention import RetentionPolicy
from spanwise.store.protocols.telemetry import RedSummary


@dataclass(frozen=True)
class AlertStateChange:
    """One alert's change of state: when (Unix ms), its rule, the fingerprint of its label
    set, the states before and after, the value that changed it and its labels as JSON text."""

    at_ms: int
    rule: str
    fingerprint: str
    from_state: str
    to_state: str
    value: float | None
    labels: str


@runtime_checkable
class AlertStore(Protocol):
    """Optional capability: alerting's state (spanwise.alerts). Objects (rules made through
    the API, per-label-set alert state, silences) are JSON bodies keyed by (kind, key) within
    a project; a put replaces the body and a None body deletes; reads see the newest write.
    Everything is the current project's (`request_context`): puts and appends go to it, reads
    see it (or, for the platform's own work, every project)."""

    def put_alert_objects(self, kind: str, bodies: dict[str, str | None]) -> None: ...

    def alert_objects(self, kind: str) -> dict[tuple[str, str], str]:
        """Live bodies of `kind` by (project, key)."""
        ...

    def append_alert_history(self, changes: list[AlertStateChange]) -> None:
        """Append state changes (an empty list writes nothing)."""
        ...

    def alert_history(self, start_ns: int, end_ns: int, rule: str = "", limit: int = 1000) -> list[AlertStateChange]:
        """State changes in [start, end], newest first, at most `limit`."""
        ...


@runtime_checkable
class SpanWindowReader(Protocol):
    """Optional capability: RED figures of stored spans over an exact window (the span
    metrics have minute resolution; alert rules may watch a few seconds)."""

    def span_window(self, start_ns: int, end_ns: int, service: str | None = None) -> list[RedSummary]: ...


@runtime_checkable
class SubjectEraser(Protocol):
    """Removes what the store holds about one data subject in one project."""

    def erase_subject(self, project: str, attribute: str, values: list[str]) -> dict[str, int]:
        """Delete, in `project` only, every stored row that carries one of `values` under the
        attribute key `attribute` (span, resource, log or metric point attributes; a
        prediction's string features), the predictions of erased spans and the spans of
        erased predictions, and the labels of erased predictions. Answers the rows removed
        per table. When it returns, no read finds any of them. `values` must be non-empty
        strings (an empty one would match every row without the attribute)."""
        ...


@runtime_checkable
class RetentionStore(Protocol):
    """Keeps each project's data only as long as its retention says."""

    def apply_retention(self, policy: RetentionPolicy) -> list[str]:
        """Make every table's TTL rules say what `policy` says (one rule per project that
        differs from the default, with a `WHERE Project` clause); answers the tables whose
        rules changed (none when the policy is what the store already applies). Called at
        start, before ingest; rows already past their retention go at the engine's next
        TTL merge."""
        ...


@dataclass(frozen=True)
class ApiToken:
    """An API token as stored: the SHA-256 `hash` of the token, never the token; the name,
    role and project it acts as; when it was created and when it expires (Unix ms; 0:
    never). A revocation is a newer version of the token with `revoked` set."""

    id: str
    hash: str
    name: str
    role: str
    project: str
    created_ms: int
    expires_ms: int
    revoked: bool


@dataclass(frozen=True)
class Project:
    """A project that exists (made through the API or at the first start), and when it was
    created (Unix ms)."""

    name: str
    created_ms: int


@dataclass(frozen=True)
class AuditEntry:
    """One audited action: when (Unix ms), who (`actor`, "" when nobody signed in), from
    which client address, what (`action`) and its details as JSON text."""

    at_ms: int
    actor: str
    address: str
    action: str
    detail: str


@runtime_checkable
class TokenStore(Protocol):
    """Tokens (hashed), projects and the audit log: the platform's tables, not a project's."""

    def prepare_tokens(self, audit_days: int = ...) -> None: ...

    def put_token(self, token: ApiToken) -> None:
        """Write a token's newest version."""
        ...

    def auth_tokens(self) -> list[ApiToken]:
        """The newest version of every token, oldest first."""
        ...

    def put_project(self, project: Project) -> None: ...

    def auth_projects(self) -> list[Project]:
        """Every project, by name."""
        ...

    def append_audit(self, entries: list[AuditEntry]) -> None: ...

    def audit_entries(self, start_ms: int, end_ms: int, action: str = "", limit: int = 1000) -> list[AuditEntry]:
        """Entries in [start, end] (of `action` when given), newest first, at most `limit`."""
        ...
