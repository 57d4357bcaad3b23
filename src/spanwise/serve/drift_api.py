"""Reference baselines and drift under `/api/v1/models/{name}/`. Documented in the native
API's OpenAPI description (each docstring's YAML after `---`)."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.routing import Route

from spanwise.analyze import drift_stats
from spanwise.analyze.drift import DriftService
from spanwise.analyze.drift_rule import DriftRule
from spanwise.errors import InvalidQuery, UnsupportedContentType
from spanwise.serve.body import read_body
from spanwise.serve.drift_json import baseline_json, baselines_json, drift_json
from spanwise.serve.native_api import endpoint
from spanwise.serve.params import (
    REFERENCE, VERSION, Param, parse_duration_ns, parse_float, parse_time, time_params, time_range,
)

MAX_BASELINE_BYTES = 256 * 1024 * 1024
_FORMATS = {
    "application/json": "json", "text/csv": "csv", "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet", "application/octet-stream": "parquet",
}


_UPLOAD = (VERSION, Param("name", "the baseline's name for a file upload (default training)"))
_DRIFT = (
    VERSION, *time_params("1d"), Param("baseline", "a baseline name"),
    *REFERENCE,
    Param("method", "auto (default) or a fixed-threshold method", choices=drift_stats.METHODS),
    Param("threshold", type="number"),
    Param("alpha", "default 0.01", "number"), Param("min_effect", "default 0.1", "number"),
    Param("feature_method", "feature:method[:threshold]", repeated=True),
)


def drift_routes(drift: DriftService) -> list[Route]:
    def baselines(request: Request) -> Any:
        """
        ---
        summary: The model's reference baselines (latest per version and name).
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: baselines}}
        """
        return baselines_json(request.path_params["name"], drift.baselines(request.path_params["name"]))

    async def read_baseline(request: Request) -> tuple[bytes, str]:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type not in _FORMATS:
            raise UnsupportedContentType(
                f"unsupported content type {content_type or '(none)'!r}: use application/json, text/csv or "
                "application/vnd.apache.parquet"
            )
        return await read_body(request, MAX_BASELINE_BYTES), _FORMATS[content_type]

    def set_baseline(request: Request, body: bytes, file_format: str) -> Any:
        """
        ---
        summary: Set a reference baseline for a model version.
        description: >
          JSON body {"name", "version" (optional; none = every version), "kind": "window" with
          "start"/"end" (Unix ns; profiled once now and reused), or "rolling" with "lookback"
          (e.g. 7d: the lookback before each drift request's window)}. Or a training file
          (Content-Type text/csv or application/vnd.apache.parquet; query parameters version
          and name, default "training"): one row per example, a column per feature, and
          optional prediction / prediction_label / label columns; stored as a profile (quantile
          bin edges and counts, min/max/count/missing and a sample of at most 10k values per
          numeric column, category counts otherwise), never as rows.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        requestBody:
          required: true
          content:
            application/json:
              schema:
                type: object
                required: [name, kind]
                properties:
                  name: {type: string}
                  version: {type: string}
                  kind: {type: string, enum: [window, rolling]}
                  start: {type: integer, description: "Unix ns (kind window)"}
                  end: {type: integer, description: "Unix ns (kind window)"}
                  lookback: {type: string, description: "e.g. 7d (kind rolling)"}
            text/csv: {schema: {type: string}}
            application/vnd.apache.parquet: {schema: {type: string, format: binary}}
        responses: {200: {description: the baseline}, 400: {description: malformed definition or file}}
        """
        model = request.path_params["name"]
        params = request.query_params
        if file_format != "json":
            uploaded = drift.upload_baseline(model, params.get("version", ""), params.get("name") or "training", body,
                                             file_format)
            return baseline_json(uploaded)
        try:
            spec = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise InvalidQuery(f"malformed JSON body: {exc}") from exc
        if not isinstance(spec, dict):
            raise InvalidQuery("the body must be a JSON object")
        lookback = spec.get("lookback")
        return baseline_json(drift.set_window_baseline(
            model, _text(spec, "version"), _text(spec, "name"), _text(spec, "kind"),
            parse_time(str(spec.get("start", "")), "start") or 0, parse_time(str(spec.get("end", "")), "end") or 0,
            parse_duration_ns(str(lookback), "lookback") // 10**9 if lookback else 0,
        ))

    def drift_report(request: Request) -> Any:
        """
        ---
        summary: Data drift per feature, prediction drift and label drift between a reference and the current window.
        description: >
          Query parameters version, start/end (Unix ns) or lookback (default 1d), baseline (a
          baseline name; default the version's newest baseline, else the preceding window of
          equal length) or a fixed reference range reference_start/reference_end (Unix ns);
          `note` says when the reference is empty (then nothing is flagged). Numeric features: PSI over the reference's 10 quantile bins
          (empty-bin share 1e-4; drifted > 0.2), two-sample KS on samples of at most 10k per
          side (p < 0.05), Jensen-Shannon distance of the bin shares (> 0.1) and Wasserstein
          distance / reference std (> 0.1). Categorical: chi-squared p-value (< 0.05), PSI and
          Jensen-Shannon over the union of categories. A feature's `drifted` and `reason` come
          from method `auto` unless `method` (one of auto, psi, ks, wasserstein, jensenshannon,
          chi2; optional `threshold`) or `feature_method=feature:method[:threshold]`
          (repeatable) names another: `auto` flags when the KS (numeric) or pooled
          chi-squared (categorical) p-value, Benjamini-Hochberg adjusted across the model's
          features, is below `alpha` (default 0.01) and the effect (Wasserstein / std,
          Jensen-Shannon distance) is at least `min_effect` (default 0.1). `drifted` (top
          level): any input feature drifted.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: drift report}, 404: {description: no predictions or unknown baseline}}
        """
        start, end = time_range(request.query_params, "1d")
        params = request.query_params
        ref_start = parse_time(params.get("reference_start"), "reference_start")
        ref_end = parse_time(params.get("reference_end"), "reference_end")
        if (ref_start is None) != (ref_end is None):
            raise InvalidQuery("give both reference_start and reference_end, or neither")
        window = (ref_start, ref_end) if ref_start is not None and ref_end is not None else None
        rule = DriftRule.parse(params.get("method") or None, parse_float(params.get("threshold"), "threshold"),
                               parse_float(params.get("alpha"), "alpha"), parse_float(params.get("min_effect"), "min_effect"),
                               params.getlist("feature_method"))
        return drift_json(drift.drift(request.path_params["name"], params.get("version") or None, start, end,
                                      params.get("baseline") or None, window, rule))

    return [
        Route("/api/v1/models/{name}/baselines", endpoint(baselines), methods=["GET"]),
        Route("/api/v1/models/{name}/baselines", endpoint(set_baseline, read_baseline, _UPLOAD), methods=["POST"]),
        Route("/api/v1/models/{name}/drift", endpoint(drift_report, query=_DRIFT)),
    ]


def _text(spec: dict[str, Any], key: str) -> str:
    """A string field of a baseline definition ("" when absent): a list or an object is a
    400, not a baseline named "['x']"."""
    value = spec.get(key) or ""
    if not isinstance(value, str):
        raise InvalidQuery(f"{key}: expected a string, got {type(value).__name__}")
    return value
