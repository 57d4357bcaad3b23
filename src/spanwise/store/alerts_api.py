"""The alerting capability of a store (implemented by `store.sql_alerts.SqlAlerts`)."""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from spanwise.store.api import RedSummary


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

    def append_alert_history(self, rows: list[dict[str, Any]]) -> None:
        """Append state changes: at_ms, rule, fingerprint, from_state, to_state, value, labels (JSON)."""
        ...

    def alert_history(self, start_ns: int, end_ns: int, rule: str = "", limit: int = 1000) -> list[dict[str, Any]]:
        """State changes in [start, end], newest first, at most `limit`."""
        ...


@runtime_checkable
class SpanWindowReader(Protocol):
    """Optional capability: RED figures of stored spans over an exact window (the span
    metrics have minute resolution; alert rules may watch a few seconds)."""

    def span_window(self, start_ns: int, end_ns: int, service: str | None = None) -> list[RedSummary]: ...
