"""Alerting under `/api/v1/alerts` (spanwise.alerts): rules, alerts, history, silences and
a receiver test. Documented in the native API's OpenAPI description."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from spanwise.alerts.engine import AlertEngine
from spanwise.alerts.sources import Sources
from spanwise.analyze.models import ModelService
from spanwise.config import Config
from spanwise.errors import MalformedPayload
from spanwise.query.logs import LogQueryService
from spanwise.query.otlp_metrics import OtlpMetricQueries
from spanwise.query.service import QueryService
from spanwise.query.span_groups import SpanGroupQueries
from spanwise.serve.body import read_body
from spanwise.serve.native_api import endpoint
from spanwise.serve.params import LIMIT, Param, parse_limit, time_params, time_range
from spanwise.store.alerts_api import AlertStore, SpanWindowReader
from spanwise.store.api import FeedbackWriter, LogStore, MetricsReader, ModelReader, OtlpMetricStore, SignalStore

#: A rule or silence is small; a bigger body is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024


async def _json(request: Request) -> tuple[Any]:
    raw = await read_body(request, MAX_BODY_BYTES)
    try:
        return (json.loads(raw or b"null"),)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedPayload(f"the body is not JSON: {exc}") from exc


def alerts_routes(engine: AlertEngine) -> list[Route]:
    def rules(request: Request) -> Any:
        """
        ---
        summary: Alert rules (from the config file and made through the API) with their state.
        responses: {200: {description: rules}}
        """
        return {"rules": engine.rule_states()}

    def create_rule(request: Request, body: Any) -> Any:
        """
        ---
        summary: Create an alert rule (name, query, condition, interval_s, for_s, labels, annotations, receivers).
        responses: {200: {description: the rule}, 400: {description: invalid; the message names the field}}
        """
        return engine.put_rule(body)

    def replace_rule(request: Request, body: Any) -> Any:
        """
        ---
        summary: Replace an alert rule made through the API.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: the rule}, 400: {description: invalid}, 404: {description: unknown rule}}
        """
        return engine.put_rule(body, request.path_params["name"])

    def delete_rule(request: Request) -> Any:
        """
        ---
        summary: Delete an alert rule made through the API; its firing alerts resolve.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: deleted}, 404: {description: unknown rule}}
        """
        engine.delete_rule(request.path_params["name"])
        return {"deleted": request.path_params["name"]}

    def alerts(request: Request) -> Any:
        """
        ---
        summary: Pending and firing alerts, one per rule and label set.
        responses: {200: {description: alerts}}
        """
        return {"alerts": engine.alerts(), "receivers": engine.receivers()}

    def series(request: Request) -> Any:
        """
        ---
        summary: A rule's evaluated series per label set (what its condition compared, at up to 60 points) with its threshold lines. Query parameters start/end (Unix ns) or lookback (default 1h).
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: points, series and thresholds}, 404: {description: unknown rule}}
        """
        start, end = time_range(request.query_params, "1h")
        return engine.series(request.path_params["name"], start, end)

    def history(request: Request) -> Any:
        """
        ---
        summary: Alert state changes, newest first. Query parameters rule, start/end (Unix ns) or lookback (default 24h), limit.
        responses: {200: {description: state changes}}
        """
        start, end = time_range(request.query_params, "24h")
        limit = parse_limit(request.query_params.get("limit"), 10_000)
        return {"history": engine.history(start, end, request.query_params.get("rule", ""), limit)}

    def silences(request: Request) -> Any:
        """
        ---
        summary: Silences (active, pending and expired).
        responses: {200: {description: silences}}
        """
        return {"silences": engine.silences()}

    def add_silence(request: Request, body: Any) -> Any:
        """
        ---
        summary: Silence alerts matching labels (matchers [{name, value, regex}], duration_s or ends_at_ms, comment).
        responses: {200: {description: the silence}, 400: {description: invalid}}
        """
        return engine.add_silence(body)

    def delete_silence(request: Request) -> Any:
        """
        ---
        summary: Expire a silence now.
        parameters: [{name: id, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: deleted}, 404: {description: unknown silence}}
        """
        engine.delete_silence(request.path_params["id"])
        return {"deleted": request.path_params["id"]}

    def test_receiver(request: Request) -> Any:
        """
        ---
        summary: Send a test notification to one receiver now.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: sent}, 404: {description: unknown receiver}, 503: {description: the receiver refused}}
        """
        return engine.test_receiver(request.path_params["name"])

    return [
        Route("/api/v1/alerts/rules", endpoint(rules)),
        Route("/api/v1/alerts/rules", endpoint(create_rule, _json), methods=["POST"]),
        Route("/api/v1/alerts/rules/{name}", endpoint(replace_rule, _json), methods=["PUT"]),
        Route("/api/v1/alerts/rules/{name}", endpoint(delete_rule), methods=["DELETE"]),
        Route("/api/v1/alerts/rules/{name}/series", endpoint(series, query=time_params("1h"))),
        Route("/api/v1/alerts", endpoint(alerts)),
        Route("/api/v1/alerts/history", endpoint(history, query=(Param("rule"), *time_params("24h"), LIMIT))),
        Route("/api/v1/alerts/silences", endpoint(silences)),
        Route("/api/v1/alerts/silences", endpoint(add_silence, _json), methods=["POST"]),
        Route("/api/v1/alerts/silences/{id}", endpoint(delete_silence), methods=["DELETE"]),
        Route("/api/v1/alerts/receivers/{name}/test", endpoint(test_receiver), methods=["POST"]),
    ]


def build_alert_engine(config: Config, store: object) -> AlertEngine | None:
    """The started alert engine over whatever the store can answer, or None when alerting
    is off or the store cannot keep alert state."""
    if not config.alerts.enabled or not isinstance(store, AlertStore):
        return None
    has_models = isinstance(store, ModelReader) and isinstance(store, FeedbackWriter)
    spec = config.metrics.spec()
    sources = Sources(
        QueryService(store),  # type: ignore[arg-type]
        ModelService(store) if has_models else None,  # type: ignore[arg-type]
        store if isinstance(store, SignalStore) else None,
        LogQueryService(store) if isinstance(store, LogStore) else None,
        store if isinstance(store, SpanWindowReader) else None,
        span_groups=SpanGroupQueries(store, spec.dimensions) if spec.enabled and isinstance(store, MetricsReader) else None,
        otlp=OtlpMetricQueries(store) if isinstance(store, OtlpMetricStore) else None,
    )
    engine = AlertEngine(config.alerts, store, sources)
    engine.start()
    return engine
