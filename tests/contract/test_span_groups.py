"""Span metrics grouped by service, operation, span kind and configured dimensions over a
window (`SpanGroupQueries`, what grouped span-metric alert rules read), for every backend."""

from __future__ import annotations

from typing import Any, Callable, Iterator

import pytest
from metric_spans import NOW, export_request, write

from spanwise.errors import InvalidQuery
from spanwise.core.metrics import MetricsSpec
from spanwise.query.span_groups import SpanGroupQueries
from spanwise.store import Store
from spanwise.store.protocols import MetricsReader

PROTOCOLS = (MetricsReader,)
DIMENSIONS = ("deployment.environment",)
MINUTE = 60 * 10**9
SERVER, CLIENT = 2, 3


@pytest.fixture(scope="module")
def store_options() -> dict[str, Any]:
    return {"metrics": MetricsSpec(dimensions=DIMENSIONS)}


@pytest.fixture(scope="module")
def groups(store: Store) -> Iterator[SpanGroupQueries]:
    prod, canary = {"deployment.environment": "prod"}, {"deployment.environment": "canary"}
    write(store, export_request("checkout", [
        *({"ms": 20, "kind": SERVER, "name": "GET /cart", "attrs": prod} for _ in range(8)),
        *({"ms": 900, "kind": SERVER, "name": "GET /cart", "attrs": canary} for _ in range(2)),
        *({"ms": 5, "kind": CLIENT, "name": "call payments", "status": 2, "attrs": prod} for _ in range(3)),
        {"ms": 5, "kind": CLIENT, "name": "call payments", "attrs": prod},
        {"ms": 5, "kind": SERVER, "name": "GET /cart", "start": NOW - 10 * MINUTE},  # before the window
    ]), weight=0.0)  # sampled out: the span metrics still count every span
    write(store, export_request("payments", [{"ms": 7, "kind": SERVER, "name": "charge"}]))
    yield SpanGroupQueries(store, DIMENSIONS)


def table(found: list[Any]) -> dict[tuple[tuple[str, str], ...], tuple[int, int]]:
    return {g.labels: (g.calls, g.errors) for g in found}


def test_by_service_and_span_kind(groups: SpanGroupQueries) -> None:
    found = groups.groups(NOW - MINUTE, NOW + 30 * 10**9, ("service", "span_kind"))
    assert table(found) == {
        (("service", "checkout"), ("span_kind", "SPAN_KIND_CLIENT")): (4, 3),
        (("service", "checkout"), ("span_kind", "SPAN_KIND_SERVER")): (10, 0),
        (("service", "payments"), ("span_kind", "SPAN_KIND_SERVER")): (1, 0),
    }


def test_by_dimension_of_one_service_and_operation(groups: SpanGroupQueries) -> None:
    found = groups.groups(NOW - MINUTE, NOW + 30 * 10**9, ("deployment_environment",), "checkout", "GET /cart")
    assert table(found) == {(("deployment_environment", "canary"),): (2, 0),
                            (("deployment_environment", "prod"),): (8, 0)}
    slow = {g.labels[0][1]: g.quantile_ms(0.95) for g in found}
    assert 800 < slow["canary"] <= 1000 and slow["prod"] <= 50  # from the duration buckets
    # the attribute key names the same dimension; spans without it group under ""
    wide = groups.groups(NOW - 20 * MINUTE, NOW, ("deployment.environment",), "checkout")
    assert table(wide)[(("deployment_environment", ""),)] == (1, 0)


def test_unknown_dimension_is_refused(groups: SpanGroupQueries) -> None:
    with pytest.raises(InvalidQuery, match="group_by: 'region' is neither"):
        groups.groups(NOW - MINUTE, NOW, ("region",))
