"""Alerting under `/api/v1/alerts` (spanwise.alerts): rules, alerts, history, silences and
a receiver test. Documented in the native API's OpenAPI description. Every route answers
for the caller's project (the engine reads it from the request context)."""

from __future__ import annotations

from typing import Any

import orjson

from starlette.requests import Request
from starlette.routing import Route

from spanwise.alerts.engine import AlertEngine
from spanwise.errors import MalformedPayload
from spanwise.serve.body import read_body
from spanwise.core.alert_rules import CONDITIONS, OPERATORS, QUERY_METRICS
from spanwise.core.otlp_metrics import AGGREGATIONS
from spanwise.serve.native_api import component, endpoint
from spanwise.serve.params import LIMIT, Param, parse_limit, time_params, time_range
from spanwise.serve.platform_json import state_change_json

#: A rule or silence is small; a bigger body is refused before it is parsed.
MAX_BODY_BYTES = 64 * 1024


async def _json(request: Request) -> tuple[Any]:
    """The body as JSON. orjson, not `json`: it refuses NaN, Infinity and numbers beyond a
    double (1e400), which `json` reads as floats a stored rule could not be answered with."""
    raw = await read_body(request, MAX_BODY_BYTES)
    try:
        return (orjson.loads(raw or b"null"),)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"the body is not JSON: {exc}") from exc


_TEXT = {"type": "string"}
_NUMBER = {"type": "number"}
_LABELS = {"type": "object", "additionalProperties": _TEXT}
component("AlertRule", {
    "type": "object", "required": ["name", "query"],
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,128}$"},
        "query": {"type": "object", "required": ["kind"], "properties": {
            "kind": {"type": "string", "enum": list(QUERY_METRICS)}, "metric": _TEXT,
            "by": {"type": "string", "enum": ["", "service", "operation"]},
            **{name: _TEXT for name in ("service", "operation", "model", "version", "feature", "search", "severity")},
            "aggregation": {"type": "string", "enum": sorted({a for names in AGGREGATIONS.values() for a in names})},
            "quantile": {"type": "number", "minimum": 0, "maximum": 1, "exclusiveMinimum": True, "exclusiveMaximum": True},
            "attributes": _LABELS, "group_by": {"type": "array", "items": _TEXT},
            "window_s": {"type": "number", "minimum": 1, "maximum": 604800},
        }},
        "condition": {"type": "object", "properties": {
            "type": {"type": "string", "enum": list(CONDITIONS)}, "op": {"type": "string", "enum": list(OPERATORS)},
            **{name: _NUMBER for name in ("threshold", "low", "high", "resolve_threshold", "lookback_s")},
            **{name: {"type": "integer"} for name in ("min_samples", "baseline_days", "min_baseline")},
        }},
        "interval_s": _NUMBER, "for_s": _NUMBER, "labels": _LABELS, "annotations": _LABELS,
        "receivers": {"type": "array", "items": _TEXT}, "enabled": {"type": "boolean"},
    },
})


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
        requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/AlertRule"}}}}
        responses: {200: {description: the rule}, 400: {description: invalid; the message names the field}}
        """
        return engine.put_rule(body)

    def replace_rule(request: Request, body: Any) -> Any:
        """
        ---
        summary: Replace an alert rule made through the API.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        requestBody: {required: true, content: {application/json: {schema: {$ref: "#/components/schemas/AlertRule"}}}}
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
        responses: {200: {description: "points, series and thresholds"}, 400: {description: "bad range, or the rule cannot be evaluated (the message says why, as the rule's error does)"}, 404: {description: unknown rule}}
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
        changes = engine.history(start, end, request.query_params.get("rule", ""), limit)
        return {"history": [state_change_json(c) for c in changes]}

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
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [matchers]
                properties:
                  matchers:
                    type: array
                    minItems: 1
                    items:
                      type: object
                      required: [name, value]
                      properties: {name: {type: string}, value: {type: string}, regex: {type: boolean}}
                  starts_at_ms: {type: integer, description: "Unix ms (default now)"}
                  ends_at_ms: {type: integer, description: "Unix ms, at most a year ahead"}
                  duration_s: {type: number, description: "instead of ends_at_ms (default 3600)"}
                  comment: {type: string}
                  created_by: {type: string}
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
