"""Erasure of a data subject: the request checked, the value in every form it was stored
in, and the store's report of what went.

The redaction processor may have stored the value as its keyed hash
(`process.redaction.HashedSearch` computes that form with the same key and rules), so
rows holding either form under the attribute are erased. The store does the erasing
(`store.protocols.SubjectEraser`), in the named project only.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Mapping

from spanwise.errors import InvalidQuery, NotFound
from spanwise.store.protocols import SubjectEraser

log = logging.getLogger(__name__)
MAX_ATTRIBUTE_CHARS = 256
MAX_VALUE_CHARS = 4096


class ErasureService:
    """`hashed(key, value)` is the stored form of a value under a key (the value itself
    where redaction does not hash it; None: nothing is hashed); `projects()` names the
    projects that exist."""

    def __init__(self, store: SubjectEraser, hashed: Callable[[str, str], str] | None,
                 projects: Callable[[], list[str]]) -> None:
        self._store = store
        self._hashed = hashed
        self._projects = projects

    def erase(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """Erase the subject a request names (`{"project", "attribute", "value"}`);
        answers what was removed, per table. Never echoes the value."""
        project, attribute, value = _checked(request)
        if project not in self._projects():
            raise NotFound(f"project: no project {project!r}")
        forms = [value]
        stored = self._hashed(attribute, value) if self._hashed else value
        if stored != value:
            forms.append(stored)
        removed = self._store.erase_subject(project, attribute, forms)
        log.info("erasure in project %s of attribute %s: %d rows", project, attribute, sum(removed.values()))
        return {"project": project, "attribute": attribute, "hashed_form_erased": len(forms) > 1,
                "removed": removed, "total": sum(removed.values())}


def _checked(request: Mapping[str, Any]) -> tuple[str, str, str]:
    """project, attribute and value as strings, or an InvalidQuery naming the field. An
    empty value is refused: it would match every row that lacks the attribute."""
    unknown = sorted(set(request) - {"project", "attribute", "value"})
    if unknown:
        raise InvalidQuery(f"unknown field(s) {', '.join(unknown)}; expected project, attribute, value")
    project, attribute, value = request.get("project"), request.get("attribute"), request.get("value")
    if not isinstance(project, str) or not project:
        raise InvalidQuery("project: expected the name of a project")
    if not isinstance(attribute, str) or not 0 < len(attribute) <= MAX_ATTRIBUTE_CHARS or not attribute.isprintable():
        raise InvalidQuery(f"attribute: expected an attribute key (1 to {MAX_ATTRIBUTE_CHARS} printable characters), e.g. user.id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_VALUE_CHARS:
        raise InvalidQuery(f"value: expected a non-empty string (at most {MAX_VALUE_CHARS} characters) or an integer")
    for name, text in (("attribute", attribute), ("value", value)):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidQuery(f"{name}: not valid Unicode (a lone surrogate escape)") from None
    return project, attribute, value
