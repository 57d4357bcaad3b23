"""Custom metrics aggregated per label group over a window (`CustomMetricQueries`, what
custom_metric alert rules read), for every backend: counted from every span (sampled out
too), over the minutes the window touches, each project reading only its own spans."""

from __future__ import annotations

from typing import Any

import pytest
from metric_spans import NOW, export_request, write

from spanwise.core.metrics import COUNTER, HISTOGRAM, CustomMetric, MetricsSpec
from spanwise.query.custom_metrics import CustomMetricQueries
from spanwise.request_context import acting, for_project
from spanwise.store import Store
from spanwise.store.protocols import MetricsReader

PROTOCOLS = (MetricsReader,)
MINUTE = 60 * 10**9
MODEL, TOKENS = "gen_ai.request.model", "gen_ai.usage.total_tokens"
CUSTOM = (CustomMetric("llm_requests", COUNTER, MODEL, (MODEL,)),
          CustomMetric("tokens", HISTOGRAM, TOKENS, (MODEL,), (100.0, 1000.0, 10000.0)))


@pytest.fixture(scope="module")
def store_options() -> dict[str, Any]:
    return {"metrics": MetricsSpec(custom=CUSTOM)}


@pytest.fixture(scope="module")
def queries(store: Store) -> CustomMetricQueries:
    def call(model: str, tokens: int, start: int = NOW) -> dict[str, Any]:
        return {"ms": 5, "name": "chat", "start": start, "attrs": {MODEL: model, TOKENS: tokens}}

    with acting(for_project("red")):
        write(store, export_request("chat", [*(call("gpt", 50) for _ in range(8)), call("gpt", 5000),
                                             *(call("claude", 500) for _ in range(3)),
                                             call("claude", 9000, NOW - 10 * MINUTE)]), weight=0.0)
    with acting(for_project("blue")):
        write(store, export_request("chat", [call("gpt", 50)]))
    return CustomMetricQueries(store, CUSTOM)


def test_counters_and_histograms_per_label_group(queries: CustomMetricQueries) -> None:
    with acting(for_project("red")):
        requests = queries.groups("llm_requests", "increase", NOW - MINUTE, NOW + 10**9, (MODEL,))
        assert [(g.attributes, g.value, g.count) for g in requests] == [
            (((MODEL, "claude"),), 3.0, 3), (((MODEL, "gpt"),), 9.0, 9)]
        mean = queries.groups("tokens", "mean", NOW - MINUTE, NOW + 10**9, ("gen_ai_request_model",))
        assert [(g.attributes, round(g.value, 3)) for g in mean] == [(((MODEL, "claude"),), 500.0),
                                                                    (((MODEL, "gpt"),), round(5400 / 9, 3))]
        p95 = queries.groups("tokens", "quantile", NOW - MINUTE, NOW + 10**9, where=((MODEL, "gpt"),), quantile=0.95)
        assert [(g.attributes, g.count) for g in p95] == [((), 9)] and 1000 < p95[0].value <= 10000
        wide = queries.groups("llm_requests", "rate", NOW - 20 * MINUTE, NOW, (MODEL,))  # the older call too
        assert [(dict(g.attributes)[MODEL], g.value) for g in wide] == [("claude", 4 / 1200), ("gpt", 9 / 1200)]


def test_each_project_counts_only_its_spans(queries: CustomMetricQueries) -> None:
    with acting(for_project("blue")):
        found = queries.groups("llm_requests", "increase", NOW - MINUTE, NOW + 10**9, (MODEL,))
        assert [(g.attributes, g.value) for g in found] == [(((MODEL, "gpt"),), 1.0)]
