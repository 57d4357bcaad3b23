"""Erasure of a data subject: the value in every form it was stored in, and the store's
report of what went.

The redaction processor may have stored the value as its keyed hash
(`process.redaction.HashedSearch` computes that form with the same key and rules), so
rows holding either form under the attribute are erased. The store does the erasing
(`store.protocols.SubjectEraser`), in the named project only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Mapping

from spanwise.errors import NotFound
from spanwise.store.protocols import SubjectEraser

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureRequest:
    """Whom to erase: `value` under the attribute key `attribute`, in `project`. The edge
    that builds one (`serve.erasure_api`) checks each field; none is empty, since an empty
    value would match every row that lacks the attribute. The value is left out of the
    repr, so no log line or traceback keeps what is being erased."""

    project: str
    attribute: str
    value: str = field(repr=False)


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed: rows per table and their total, and whether the value's
    hashed form was erased too. Never the value."""

    project: str
    attribute: str
    hashed_form_erased: bool
    removed: Mapping[str, int]
    total: int


class ErasureService:
    """`hashed(key, value)` is the stored form of a value under a key (the value itself
    where redaction does not hash it; None: nothing is hashed); `projects()` names the
    projects that exist."""

    def __init__(self, store: SubjectEraser, hashed: Callable[[str, str], str] | None,
                 projects: Callable[[], list[str]]) -> None:
        self._store = store
        self._hashed = hashed
        self._projects = projects

    def erase(self, request: ErasureRequest) -> ErasureReport:
        """Erase the subject a request names; NotFound for a project that does not exist."""
        project, attribute, value = request.project, request.attribute, request.value
        if project not in self._projects():
            raise NotFound(f"project: no project {project!r}")
        forms = [value]
        stored = self._hashed(attribute, value) if self._hashed else value
        if stored != value:
            forms.append(stored)
        removed = self._store.erase_subject(project, attribute, forms)
        total = sum(removed.values())
        log.info("erasure in project %s of attribute %s: %d rows", project, attribute, total)
        return ErasureReport(project, attribute, len(forms) > 1, removed, total)
