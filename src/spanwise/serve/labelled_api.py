"""Concept drift and prediction export under `/api/v1/models/{name}/`. Documented in the
native API's OpenAPI description (each docstring's YAML after `---`).

Export answers Parquet (default; pyarrow), CSV or JSON, at most `limit` rows, oldest
first; `X-Spanwise-Truncated: true` says more rows matched (narrow the time range or
raise `limit`). Times are timestamps in Parquet, ISO 8601 text in UTC with nanoseconds
in CSV and JSON (`2026-11-01T12:00:00.123456789Z`).
"""

from __future__ import annotations

import io
import time
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from spanwise.analyze.concept_drift import DEFAULT_ALPHA, DEFAULT_MIN_COUNT
from spanwise.analyze.labelled import MAX_EXPORT_ROWS, LabelledService, reference_window
from spanwise.core.ml_tasks import CLASSIFICATION
from spanwise.errors import InvalidQuery, SpanwiseError
from spanwise.serve.labelled_json import concept_drift_json
from spanwise.serve.models_api import TASK
from spanwise.serve.native_api import declare, endpoint, error_response
from spanwise.serve.params import (
    MAX_NS, REFERENCE, VERSION, Param, check_params, parse_float, parse_int, parse_time, time_params, time_range,
)
from spanwise.store.protocols import ConceptWindows

DEFAULT_EXPORT_LIMIT = 100_000
_MEDIA = {"parquet": "application/vnd.apache.parquet", "csv": "text/csv", "json": "application/json"}


def encode(table: pa.Table, fmt: str) -> bytes:
    """The table as Parquet, CSV (header) or a JSON array of objects; in CSV and JSON,
    timestamps are ISO 8601 text (pyarrow's CSV writer would put a space for the `T`)."""
    sink = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, sink)
    elif fmt == "csv":
        pacsv.write_csv(_times_as_text(table), sink)
    else:
        return orjson.dumps(_times_as_text(table).to_pylist())
    return sink.getvalue()


def _times_as_text(table: pa.Table) -> pa.Table:
    """Timestamp columns as ISO 8601 UTC strings at their full precision (nanoseconds
    have no Python `datetime`: `to_pylist()` would give pandas Timestamps, or fail)."""
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            utc = table.column(index).cast(pa.timestamp(field.type.unit, "UTC"))
            table = table.set_column(index, field.name, pc.strftime(utc, format="%Y-%m-%dT%H:%M:%SZ"))
    return table


_CONCEPT = (
    VERSION, *time_params("1d"), *REFERENCE, TASK, Param("min_count", "default 30", "integer"),
    Param("alpha", "default 0.05", "number"),
)
_EXPORT = (
    VERSION, Param("start", "Unix ns (default: everything)", "integer", minimum=0, maximum=MAX_NS),
    Param("end", "Unix ns (default now)", "integer", minimum=0, maximum=MAX_NS),
    Param("format", "parquet (default), csv or json", choices=tuple(_MEDIA)),
    Param("limit", "most rows (default 100000)", "integer", minimum=1, maximum=MAX_EXPORT_ROWS),
    Param("layout", "wide (default) or long", choices=("wide", "long")),
)


def labelled_routes(service: LabelledService) -> list[Route]:
    def concept(request: Request) -> Any:
        """
        ---
        summary: Concept drift, the model's error shift on labelled predictions (current window vs reference), overall and per categorical segment.
        description: >
          Query parameters version, start/end (Unix ns) or lookback (default 1d) for the
          current window, reference_start/reference_end (default: the preceding window of
          equal length), task (classification: error rate, chi-squared test; regression:
          |label - value|, Mann-Whitney U), min_count (labelled predictions a segment needs in
          both windows, default 30), alpha (default 0.05; segments are flagged below
          alpha / segments tested, Bonferroni).
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses: {200: {description: overall and per-segment shifts}, 400: {description: bad parameter}, 404: {description: unknown model}}
        """
        params = request.query_params
        start, end = time_range(request.query_params, "1d")
        ref_start, ref_end = reference_window(
            start, end, parse_time(params.get("reference_start"), "reference_start"),
            parse_time(params.get("reference_end"), "reference_end"),
        )
        min_count = parse_int(params.get("min_count"), "min_count", DEFAULT_MIN_COUNT)
        alpha = parse_float(params.get("alpha"), "alpha")
        windows = ConceptWindows(
            request.path_params["name"], params.get("version") or None, start, end, ref_start, ref_end,
            params.get("task") or CLASSIFICATION, min_count if min_count is not None else DEFAULT_MIN_COUNT,
        )
        return concept_drift_json(service.concept_drift(windows, DEFAULT_ALPHA if alpha is None else alpha))

    def export_table(request: Request) -> tuple[bytes, str, bool]:
        params = request.query_params
        fmt = (params.get("format") or "parquet").lower()
        if fmt not in _MEDIA:
            raise InvalidQuery("format must be parquet, csv or json")
        end = parse_time(params.get("end"), "end") or time.time_ns()
        start = parse_time(params.get("start"), "start") or 0
        limit = parse_int(params.get("limit"), "limit", DEFAULT_EXPORT_LIMIT)
        table, truncated = service.export(
            request.path_params["name"], params.get("version") or None, start or 0, end,
            DEFAULT_EXPORT_LIMIT if limit is None else limit, (params.get("layout") or "wide").lower(),
        )
        return encode(table, fmt), fmt, truncated

    async def export(request: Request) -> Response:
        """
        ---
        summary: Predictions with their labels as Parquet (default), CSV or JSON, oldest first.
        description: >
          Query parameters version, start/end (Unix ns; default: everything up to now),
          format (parquet|csv|json), limit (default 100000, at most 1000000), layout
          (wide|long, default wide). Wide columns: timestamp, prediction_id, trace_id,
          span_id, service, model, version, prediction_value, prediction_label, confidence,
          feature.<name> per feature, score.<name> per score, attribution.<name> per
          attribution (ml.explanation.<name>), label (latest feedback, else ml.label),
          label_timestamp (feedback), label_source. More than 200 distinct feature, score
          and attribution names in the predictions exported is a 400 asking for
          layout=long. Long: the same columns without the per-name ones, then kind
          (feature|score|attribution), key, value (numbers), value_text (categorical
          features), one row per prediction and name (one with null kind and key for a
          prediction without any), for any number of names. Header X-Spanwise-Truncated
          is true when more predictions matched.
        parameters: [{name: name, in: path, required: true, schema: {type: string}}]
        responses:
          200:
            description: the predictions
            content: {application/vnd.apache.parquet: {}, text/csv: {}, application/json: {}}
          400: {description: bad parameter}
          404: {description: unknown model}
        """
        try:
            check_params(request.query_params, _EXPORT)
            body, fmt, truncated = await run_in_threadpool(export_table, request)
        except SpanwiseError as exc:
            return error_response(exc)
        headers = {"X-Spanwise-Truncated": "true" if truncated else "false"}
        if fmt != "json":
            headers["Content-Disposition"] = f'attachment; filename="predictions.{fmt}"'
        return Response(body, media_type=_MEDIA[fmt], headers=headers)

    declare(export, _EXPORT)
    return [
        Route("/api/v1/models/{name}/concept-drift", endpoint(concept, query=_CONCEPT)),
        Route("/api/v1/models/{name}/predictions", export),
    ]
