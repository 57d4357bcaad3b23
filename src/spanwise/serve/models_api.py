"""Model intelligence under `/api/v1/`: inventory, operational metrics, prediction lookup
and lineage, ground-truth feedback and quality. Documented in the native API's OpenAPI
description (each docstring's YAML after `---`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from spanwise.analyze.feedback import parse_feedback
from spanwise.analyze.models import ModelService
from spanwise.core.ml_tasks import CLASSIFICATION, TASKS
from spanwise.errors import UnsupportedContentType
from spanwise.serve.body import read_body
from spanwise.serve.models_json import linked_json, metrics_json, model_json, prediction_json, quality_json, version_json
from spanwise.serve.native_api import endpoint
from spanwise.serve.params import LIMIT, STEP, VERSION, Param, parse_duration_ns, parse_limit, time_params, time_range
from spanwise.store.protocols import QualityQuery

MAX_FEEDBACK_BYTES = 16 * 1024 * 1024
_FEEDBACK_TYPES = ("application/json", "text/csv")


def _step(text: str | None, default: int) -> int:
    """Seconds, as a number (`300`) or a duration (`5m`)."""
    if text is None or text == "":
        return default
    if text.isdigit():
        return int(text)
    return parse_duration_ns(text, "step") // 10**9


#: `task`, as the quality and concept-drift routes take it.
TASK = Param("task", "classification (default) or regression", choices=TASKS)
QUALITY_PARAMS = (
    TASK, Param("positive_label", "the positive class: binary metrics, ROC AUC, log loss, calibration"),
    VERSION, STEP, *time_params("7d"),
)


def model_routes(models: ModelService) -> list[Route]:
    def inventory(request: Request) -> Any:
        """
        ---
        summary: Every model seen in predictions, with versions (first/last seen, prediction count, services) and features.
        responses: {200: {description: models}}
        """
        return [model_json(m) for m in models.models()]

    def model(request: Request) -> Any:
        """
        ---
        summary: One model with its versions and features.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: the model}, 404: {description: unknown model}}
        """
        return model_json(models.model(request.path_params["name"]))

    def version(request: Request) -> Any:
        """
        ---
        summary: One version of a model, with the features it received.
        parameters: [{name: name, in: path, required: true, schema: {type: string}},
                     {name: version, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: the version}, 404: {description: unknown model or version}}
        """
        return version_json(models.version(request.path_params["name"], request.path_params["version"]))

    def metrics(request: Request) -> Any:
        """
        ---
        summary: Per-step prediction count, latency p50/p95/p99 (ms), error rate, confidence and prediction distributions, per version.
        description: Query parameters version, start/end (Unix ns) or lookback (default 1h), step (seconds or e.g. 5m; default 60).
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: time series}, 404: {description: unknown model}}
        """
        start, end = time_range(request.query_params, "1h")
        step = _step(request.query_params.get("step"), 60)
        found = models.metrics(request.path_params["name"], request.query_params.get("version") or None, start, end, step)
        return metrics_json(found)

    def quality(request: Request) -> Any:
        """
        ---
        summary: Quality of labelled predictions per time window and version, with label coverage.
        description: >
          Query parameters task (classification|regression, default classification),
          positive_label (binary metrics, ROC AUC, log loss, calibration), version,
          start/end (Unix ns) or lookback (default 7d), step (seconds or e.g. 1h; default:
          the whole range is one window).
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: quality windows}, 404: {description: unknown model}}
        """
        params = request.query_params
        start, end = time_range(request.query_params, "7d")
        return quality_json(models.quality(QualityQuery(
            model=request.path_params["name"], version=params.get("version") or None, start_ns=start, end_ns=end,
            step_s=_step(params.get("step"), 0), task=params.get("task") or CLASSIFICATION,
            positive_label=params.get("positive_label") or None,
        )))

    def prediction(request: Request) -> Any:
        """
        ---
        summary: One prediction with features, output, scores, attributions, ground-truth label and span-link lineage.
        parameters: [{name: prediction_id, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: the prediction}, 404: {description: unknown prediction id}}
        """
        return prediction_json(models.prediction(request.path_params["prediction_id"]))

    def lineage(request: Request) -> Any:
        """
        ---
        summary: Predictions whose spans link to spans of this (pipeline-run) trace.
        description: >
          Searches stored prediction spans between start/end (Unix ns) or in lookback
          (default 7d); links of spans that sampling did not store cannot be found.
        parameters: [{name: trace_id, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: linked predictions}}
        """
        start, end = time_range(request.query_params, "7d")
        limit = parse_limit(request.query_params.get("limit"), 100)
        return linked_json(models.linked_predictions(request.path_params["trace_id"], start, end, limit))

    async def read_feedback(request: Request) -> tuple[bytes, str]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _FEEDBACK_TYPES:
            raise UnsupportedContentType(
                f"unsupported content type {content_type or '(none)'!r}: use application/json or text/csv"
            )
        return await read_body(request, MAX_FEEDBACK_BYTES), content_type

    def feedback(request: Request, body: bytes, content_type: str) -> Any:
        """
        ---
        summary: Ground-truth labels for earlier predictions (JSON array or CSV with a header).
        description: >
          Each record has prediction_id (or trace_id and span_id), label (class or number) and
          optionally timestamp (Unix seconds or ISO 8601; default now; more than 5 minutes
          ahead of the server's clock is set to now and counted in `clamped`). The latest
          timestamp wins per prediction. Labels of predictions not stored yet wait for them
          (`pending`, the first 100 in `pending_ids`; nothing to resend). Answers {accepted,
          updated (predictions whose label changed), pending, pending_ids, clamped}.
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: array
                items:
                  type: object
                  required: [label]
                  properties:
                    prediction_id: {type: string}
                    trace_id: {type: string}
                    span_id: {type: string}
                    label: {oneOf: [{type: string}, {type: number}]}
                    timestamp: {oneOf: [{type: number}, {type: string}], description: Unix seconds or ISO 8601}
            text/csv: {schema: {type: string}}
        responses: {200: {description: outcome}, 400: {description: malformed body (item or line named)}, 413: {description: body too large}}
        """
        outcome = models.add_feedback(parse_feedback(body, content_type))
        return dataclasses.asdict(outcome)

    return [
        Route("/api/v1/models", endpoint(inventory)),
        Route("/api/v1/models/{name}", endpoint(model)),
        Route("/api/v1/models/{name}/versions/{version}", endpoint(version)),
        Route("/api/v1/models/{name}/metrics", endpoint(metrics, query=(VERSION, STEP, *time_params()))),
        Route("/api/v1/models/{name}/quality", endpoint(quality, query=QUALITY_PARAMS)),
        Route("/api/v1/predictions/{prediction_id}", endpoint(prediction)),
        Route("/api/v1/lineage/{trace_id}/predictions", endpoint(lineage, query=(*time_params("7d"), LIMIT))),
        Route("/api/v1/feedback", endpoint(feedback, read_feedback), methods=["POST"]),
    ]
