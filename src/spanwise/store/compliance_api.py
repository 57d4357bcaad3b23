"""Compliance capabilities of a store: erasing a data subject and retention per project.

Separate Protocols (STYLE.md: optional features are their own interfaces), implemented
by `sql_erasure.SqlErasure` and `sql_retention.SqlRetention` for every ClickHouse backend.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from spanwise.model.retention import RetentionPolicy


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
