"""`SubjectEraser` on a real store: values that need escaping are matched exactly, only in
the named project, whoever's context asks, and an empty value is refused (it would match
every row without the attribute)."""

from __future__ import annotations

from typing import Any

import pytest
from metric_spans import export_request, write

from spanwise.request_context import acting, for_project
from spanwise.store import open_store
from spanwise.store.protocols import SubjectEraser
from spanwise.store import Store
from spanwise.store.protocols import SubjectEraser

PROTOCOLS = (SubjectEraser,)
#: Values SQL text could mangle: quotes, backslashes, control characters, non-ASCII, braces.
HOSTILE = ["a'b\\'c", "\\", "x\ny\tz\x00", "é漢字", "{v:String}", "' OR 1=1 --"]


@pytest.fixture(scope="module", autouse=True)
def subjects(store: Store) -> None:
    for project in ("p", "q"):
        with acting(for_project(project)):
            spans = [{"ms": 1, "attrs": {"user.id": value}} for value in HOSTILE + ["bystander"]]
            write(store, export_request("svc", spans))


def _ids(store: Any, project: str) -> list[str]:
    with acting(for_project(project)):
        rows = store._query("SELECT SpanAttributes['user.id'] AS v FROM otel_traces ORDER BY v").to_pylist()
    return [r["v"] for r in rows]


def test_hostile_values_are_erased_exactly_and_only_in_their_project(store: Any) -> None:
    with acting(for_project("q")):  # an admin acting elsewhere erases in the named project
        for value in HOSTILE:
            removed = store.erase_subject("p", "user.id", [value])
            assert removed["otel_traces"] == 1, (value, removed)
            assert sum(removed.values()) == 1, removed
    assert _ids(store, "p") == ["bystander"]
    assert _ids(store, "q") == sorted(HOSTILE + ["bystander"])


def test_an_empty_value_or_attribute_is_refused(store: Any) -> None:
    for attribute, values in (("user.id", [""]), ("user.id", []), ("", ["x"])):
        with pytest.raises(ValueError):
            store.erase_subject("q", attribute, values)
    assert len(_ids(store, "q")) == len(HOSTILE) + 1
