"""A backend's lifecycle (`TraceStore.start`/`shutdown`) on every backend in conftest.py:
both are safe to call twice, and what a write acknowledged is there when the store is
opened again in the same directory."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from metric_spans import NOW, export_request, write

from spanwise.store import Store
from spanwise.store.protocols import TraceStore

PROTOCOLS = (TraceStore,)


def test_start_and_shutdown_are_safe_twice_and_writes_outlive_them(
    open_backend: Callable[..., Store], tmp_path: Path
) -> None:
    first = open_backend(tmp_path)
    first.start()
    write(first, export_request("c-durable", [{"ms": 1, "name": "kept"}]))
    first.shutdown()
    first.shutdown()
    again = open_backend(tmp_path)
    try:
        assert again.services() == ["c-durable"]
        assert [o.name for o in again.operations("c-durable")] == ["kept"]
        red = again.red_summary(NOW - 10**9, NOW + 10**9)
        assert [(r.name, r.count) for r in red] == [("c-durable", 1)]
    finally:
        again.shutdown()
