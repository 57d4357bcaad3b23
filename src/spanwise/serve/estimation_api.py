"""Estimated performance (CBPE) under `/api/v1/models/{name}/estimated-quality`:
quality from scores before labels arrive, beside realized quality, with the check of
whether the scores are calibrated enough to trust it (`analyze.performance_estimation`)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.routing import Route

from spanwise.analyze.performance_estimation import (
    Calibration, EstimatedQuality, EstimatedWindow, PerformanceEstimationService, QualityMetrics,
)
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery
from spanwise.serve.native_api import endpoint
from spanwise.serve.params import (
    MAX_NS, REFERENCE, STEP, VERSION, Param, parse_duration_ns, parse_int, time_params, time_range,
)
from spanwise.store.protocols import ScoreQuery


def estimation_routes(estimator: PerformanceEstimationService) -> list[Route]:
    def estimated_quality(request: Request) -> Any:
        """
        ---
        summary: Estimated accuracy, precision, recall, F1 and ROC AUC per window from the scores of every prediction (CBPE), beside realized quality where labels exist.
        description: >
          Query parameters positive_label (required unless the model predicts exactly two
          classes; then the greater label), version, start/end (Unix ns) or lookback (default
          7d), step (seconds or e.g. 1d; default: the whole range is one window),
          reference_start/reference_end (Unix ns; default the analysis range): the labelled
          predictions the calibration check uses. `calibration.trustworthy` false says why
          the estimate should not be relied on.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: windows with estimated and realized metrics}, 400: {description: bad parameter}, 404: {description: no classification predictions}}
        """
        params = request.query_params
        start, end = time_range(params, "7d")
        step = params.get("step") or "0"
        step_s = int(step) if step.isdigit() else parse_duration_ns(step, "step") // 10**9
        query = ScoreQuery(request.path_params["name"], params.get("version") or None, start, end, step_s,
                           params.get("positive_label") or "")
        return estimated_json(estimator.estimated_quality(query, _reference(params)))

    return [Route("/api/v1/models/{name}/estimated-quality", endpoint(estimated_quality, query=_ESTIMATED))]


_ESTIMATED = (
    Param("positive_label", "the positive class"), VERSION, STEP, *time_params("7d"),
    *REFERENCE,
)


def estimated_json(found: EstimatedQuality) -> dict[str, Any]:
    """The answer of the route: the query, the calibration check and the windows."""
    return {
        "name": found.name, "version": found.version, "method": found.method, "positive_label": found.positive_label,
        "step_seconds": found.step_s, "calibration": _calibration_json(found.calibration),
        "windows": [_window_json(w) for w in found.windows],
    }


def _calibration_json(c: Calibration) -> dict[str, Any]:
    return {
        "trustworthy": c.trustworthy, "reason": c.reason, "labelled": c.labelled,
        "realized_accuracy": c.realized_accuracy, "estimated_accuracy": c.estimated_accuracy,
        "expected_calibration_error": c.expected_calibration_error,
        "reference_start_ns": c.reference_start_ns, "reference_end_ns": c.reference_end_ns,
    }


def _window_json(w: EstimatedWindow) -> dict[str, Any]:
    return {
        "start_unix_nano": w.start_ns, "version": w.version, "scored": w.scored, "predictions": w.predictions,
        "labelled": w.labelled, "estimated": _metrics_json(w.estimated),
        "realized": _metrics_json(w.realized) if w.realized else None,
    }


def _metrics_json(m: QualityMetrics) -> dict[str, float | None]:
    return {"accuracy": m.accuracy, "precision": m.precision, "recall": m.recall, "f1": m.f1, "roc_auc": m.roc_auc}


def _reference(params: Any) -> tuple[int, int] | None:
    ref_start = parse_int(params.get("reference_start"), "reference_start", None, 0, MAX_NS)
    ref_end = parse_int(params.get("reference_end"), "reference_end", None, 0, MAX_NS)
    if (ref_start is None) != (ref_end is None):
        raise InvalidQuery("give both reference_start and reference_end, or neither")
    if ref_start is None or ref_end is None:
        return None
    check_time_range(ref_start, ref_end, what="reference range")
    return ref_start, ref_end
