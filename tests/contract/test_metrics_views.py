"""The metric views follow the spec a store is started with (every backend in conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from metric_spans import export_request, write
from test_metrics_store import SPEC

from spanwise.core.metrics import MetricsSpec
from spanwise.store import Store
from spanwise.store.protocols import MetricsReader

PROTOCOLS = (MetricsReader,)


def test_views_follow_the_spec_given_at_start(open_backend: Callable[..., Store], tmp_path: Path) -> None:
    first = open_backend(tmp_path, metrics=SPEC)
    write(first, export_request("m-shop", [{"ms": 1, "attrs": {"order.id": "a", "tier": "gold"}}]))
    first.shutdown()
    second = open_backend(tmp_path, metrics=MetricsSpec(dimensions=("tier",)))
    write(second, export_request("m-shop", [{"ms": 1, "attrs": {"order.id": "b", "tier": "gold"}}]))
    totals = second.metric_totals()
    assert sorted(s.dimensions for s in totals.spans) == [(("deployment.environment", ""),), (("tier", "gold"),)]
    assert [c.values.total for c in totals.custom] == [1]  # the orders view is gone; old data stays
    second.shutdown()
    third = open_backend(tmp_path, metrics=MetricsSpec(enabled=False))
    write(third, export_request("m-shop", [{"ms": 1}]))
    assert sum(s.duration_ms.count for s in third.metric_totals().spans) == 2
    third.shutdown()
