"""The metric views follow the spec a store is started with (every backend)."""

from __future__ import annotations

from typing import Any

import pytest
from metric_spans import export_request, write
from test_metrics_store import BACKENDS, SPEC, open_metered

from spanwise.core.metrics import MetricsSpec


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_views_follow_the_spec_given_at_start(backend: str, tmp_path: Any) -> None:
    first = open_metered(tmp_path, backend, SPEC)
    write(first, export_request("m-shop", [{"ms": 1, "attrs": {"order.id": "a", "tier": "gold"}}]))
    first.shutdown()
    second = open_metered(tmp_path, backend, MetricsSpec(dimensions=("tier",)))
    write(second, export_request("m-shop", [{"ms": 1, "attrs": {"order.id": "b", "tier": "gold"}}]))
    totals = second.metric_totals()
    assert sorted(s.dimensions for s in totals.spans) == [(("deployment.environment", ""),), (("tier", "gold"),)]
    assert [c.values.total for c in totals.custom] == [1]  # the orders view is gone; old data stays
    second.shutdown()
    third = open_metered(tmp_path, backend, MetricsSpec(enabled=False))
    write(third, export_request("m-shop", [{"ms": 1}]))
    assert sum(s.duration_ms.count for s in third.metric_totals().spans) == 2
    third.shutdown()
