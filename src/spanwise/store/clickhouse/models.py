"""`ModelReader` and `FeedbackWriter` in ClickHouse SQL over `predictions` and `feedback`.

Counting happens in the engine: per-step counts, latency quantiles and histogram bins
for operational metrics; confusion counts, regression sums, calibration-bin counts and
ROC AUC (exact, from per-score positive/negative counts with window functions, ties
counting one half as in the Mann-Whitney statistic) for quality. Python receives a few
rows per (window, version), never one row per prediction.

Predictions are deduplicated by id (`LIMIT 1 BY PredictionId`) before scoring, so a
redelivered span does not count twice in quality; operational counts are raw (like the
span metrics). Lineage reads span links from `otel_traces`, so it covers only spans
that sampling stored.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager, nullcontext
from typing import Any, Iterator

import numpy as np
import pyarrow as pa

from spanwise.store.protocols import (
    FeatureInfo, LinkedPrediction, ModelVersionInfo, Prediction, PredictionPoint, QualityCounts, QualityQuery, SpanLink,
)
from spanwise.store.clickhouse.models_schema import FEEDBACK_TABLE
from spanwise.store.clickhouse.literals import array_literal
from spanwise.store.clickhouse.session import SqlArea

_NS = "toInt64(toUnixTimestamp64Nano({column}))"
_IN_RANGE = "Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp <= fromUnixTimestamp64Nano({hi:Int64})"
_OF_MODEL = "ModelName = {model:String} AND ({version:String} = '' OR ModelVersion = {version:String})"
#: Inner edges of scikit-learn's `calibration_curve(n_bins=10)`: np.linspace(0, 1, 11)[1:-1].
_CALIBRATION_EDGES = "[" + ", ".join(repr(float(e)) for e in np.linspace(0.0, 1.0, 11)[1:-1]) + "]"
_EPS = repr(float(np.finfo(np.float64).eps))
#: The latest feedback per prediction among the ids of `base` (a subquery name).
_LATEST_FEEDBACK = (
    "SELECT PredictionId, 1 AS has_feedback, argMax(tuple(Label, LabelValue, Timestamp), (Timestamp, ReceivedAt)) AS fb "
    f"FROM {FEEDBACK_TABLE} WHERE PredictionId IN (SELECT PredictionId FROM base) GROUP BY PredictionId"
)


def _step(step_s: int) -> str:
    """Window start (Unix seconds) of each row: one window for the whole range when 0."""
    if step_s <= 0:
        return "toInt64(0)"
    return "toInt64(toUnixTimestamp(toStartOfInterval(Timestamp, toIntervalSecond({step:UInt32}))))"


class SqlModelReader(SqlArea):
    """The ModelReader and FeedbackWriter half of `SqlTraceStore`."""



    # -- inventory --

    def model_versions(self, model: str | None = None) -> list[ModelVersionInfo]:
        rows = self._query(
            f"SELECT ModelName, ModelVersion, {_NS.format(column='min(Timestamp)')} AS first, "
            f"{_NS.format(column='max(Timestamp)')} AS last, count() AS n, arraySort(groupUniqArray(ServiceName)) AS services "
            "FROM predictions WHERE {model:String} = '' OR ModelName = {model:String} "
            "GROUP BY ModelName, ModelVersion ORDER BY ModelName, ModelVersion",
            {"model": model or ""},
        ).to_pylist()
        return [
            ModelVersionInfo(r["ModelName"], r["ModelVersion"], r["first"], r["last"], r["n"], tuple(r["services"]))
            for r in rows
        ]

    def model_features(self, model: str, version: str | None = None) -> list[FeatureInfo]:
        params = {"model": model, "version": version or ""}
        numeric = self._query(
            "SELECT name, min(value) AS lo, max(value) AS hi FROM predictions "
            "ARRAY JOIN mapKeys(Features) AS name, mapValues(Features) AS value "
            f"WHERE {_OF_MODEL} GROUP BY name ORDER BY name",
            params,
        ).to_pylist()
        categorical = self._query(
            "SELECT name, uniqExact(value) AS distinct_values FROM predictions "
            "ARRAY JOIN mapKeys(StringFeatures) AS name, mapValues(StringFeatures) AS value "
            f"WHERE {_OF_MODEL} GROUP BY name ORDER BY name",
            params,
        ).to_pylist()
        return [FeatureInfo(model, r["name"], "numeric", r["lo"], r["hi"]) for r in numeric] + [
            FeatureInfo(model, r["name"], "categorical", distinct=r["distinct_values"]) for r in categorical
        ]

    # -- operational metrics --

    def prediction_series(
        self, model: str, version: str | None, start_ns: int, end_ns: int, step_s: int
    ) -> list[PredictionPoint]:
        params: dict[str, Any] = {"model": model, "version": version or "", "lo": start_ns, "hi": end_ns, "step": step_s}
        where = f"WHERE {_OF_MODEL} AND {_IN_RANGE}"
        step = _step(step_s)
        main = self._query(
            f"SELECT {step} AS t, ModelVersion AS version, count() AS n, countIf(StatusCode = 'Error') AS errors, "
            "quantiles(0.5, 0.95, 0.99)(Duration) AS q, min(PredictionValue) AS vmin, max(PredictionValue) AS vmax "
            f"FROM predictions {where} GROUP BY t, version ORDER BY t, version",
            params,
        ).to_pylist()
        if not main:
            return []
        confidence = self._buckets(
            "least(greatest(toInt32(floor(assumeNotNull(Confidence) * 10)), 0), 9)",
            f"{where} AND Confidence IS NOT NULL", params,
        )
        lows = [r["vmin"] for r in main if r["vmin"] is not None]
        lo, hi = (min(lows), max(r["vmax"] for r in main if r["vmax"] is not None)) if lows else (None, None)
        values: dict[tuple[int, str], list[tuple[Any, int]]] = {}
        if lo is not None and hi is not None:
            params.update(vlo=lo, width=(hi - lo) / 10 or 1.0)
            values = self._buckets(
                "least(greatest(toInt32(floor((assumeNotNull(PredictionValue) - {vlo:Float64}) / {width:Float64})), 0), 9)",
                f"{where} AND PredictionValue IS NOT NULL", params,
            )
        labels = self._buckets("PredictionLabel", f"{where} AND PredictionLabel != ''", params, by_count=True)
        points = []
        for r in main:
            key = (r["t"], r["version"])
            q = [float(x) / 1e6 for x in r["q"]]
            points.append(PredictionPoint(
                r["t"] * 10**9, r["version"], r["n"], r["errors"], q[0], q[1], q[2],
                tuple(confidence.get(key, [])), tuple(values.get(key, [])), lo, hi, tuple(labels.get(key, [])),
            ))
        return points

    def _buckets(
        self, bucket: str, where: str, params: dict[str, Any], by_count: bool = False
    ) -> dict[tuple[int, str], list[tuple[Any, int]]]:
        """(step, version) -> [(bucket, count)], by bucket or (labels: at most 50) by count."""
        order = "n DESC, b" if by_count else "b"
        rows = self._query(
            f"SELECT {_step(params['step'])} AS t, ModelVersion AS version, {bucket} AS b, count() AS n "
            f"FROM predictions {where} GROUP BY t, version, b ORDER BY t, version, {order} LIMIT 50 BY t, version",
            params,
        ).to_pylist()
        found: dict[tuple[int, str], list[tuple[Any, int]]] = {}
        for r in rows:
            found.setdefault((r["t"], r["version"]), []).append((r["b"], r["n"]))
        return found

    # -- prediction lookup and lineage --

    def prediction(self, prediction_id: str) -> Prediction | None:
        rows = self._query(
            f"WITH base AS (SELECT * FROM predictions WHERE PredictionId = {{id:String}} LIMIT 1) "
            f"SELECT base.*, {_NS.format(column='base.Timestamp')} AS TimestampNs, f.has_feedback AS has_feedback, "
            "tupleElement(f.fb, 1) AS FeedbackLabel, tupleElement(f.fb, 2) AS FeedbackValue, toInt64(toUnixTimestamp64Nano(tupleElement(f.fb, 3))) AS FeedbackTs "
            f"FROM base LEFT JOIN ({_LATEST_FEEDBACK}) AS f ON base.PredictionId = f.PredictionId",
            {"id": prediction_id},
        ).to_pylist()
        if not rows:
            return None
        row = rows[0]
        label, label_value, label_timestamp_ns, label_source = _label(row)
        return Prediction(
            prediction_id=row["PredictionId"], trace_id=row["TraceId"], span_id=row["SpanId"],
            model=row["ModelName"], version=row["ModelVersion"], service=row["ServiceName"],
            timestamp_ns=row["TimestampNs"], duration_ms=row["Duration"] / 1e6, status=row["StatusCode"],
            prediction_value=row["PredictionValue"], prediction_label=row["PredictionLabel"] or None,
            confidence=row["Confidence"], label=label, label_value=label_value,
            label_timestamp_ns=label_timestamp_ns, label_source=label_source,
            lineage=self._links(row["TraceId"], row["SpanId"], row["TimestampNs"]),
            # Arrow hands a Map column over as (key, value) pairs.
            features=dict(row["Features"]), string_features=dict(row["StringFeatures"]),
            scores=dict(row["Scores"]), attributions=dict(row["Attributions"]),
        )

    def _links(self, trace_id: str, span_id: str, at_ns: int) -> tuple[SpanLink, ...]:
        """Span links of one stored span (the prediction's lineage); none when not stored."""
        rows = self._query(
            "SELECT Links.TraceId AS t, Links.SpanId AS s, Links.Attributes AS a FROM otel_traces "
            "WHERE TraceId = {trace:String} AND SpanId = {span:String} "
            "AND Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp <= fromUnixTimestamp64Nano({hi:Int64}) "
            "LIMIT 1",
            {"trace": trace_id, "span": span_id, "lo": at_ns - 10**9, "hi": at_ns + 10**9},
        ).to_pylist()
        if not rows:
            return ()
        r = rows[0]
        return tuple(SpanLink(t, s, dict(a)) for t, s, a in zip(r["t"], r["s"], r["a"]))

    def linked_predictions(self, trace_id: str, start_ns: int, end_ns: int, limit: int) -> list[LinkedPrediction]:
        rows = self._query(
            "SELECT PredictionId AS prediction_id, ModelName AS model, ModelVersion AS version, TraceId AS trace_id, "
            f"SpanId AS span_id, {_NS.format(column='Timestamp')} AS timestamp_ns, "
            "arrayFilter((s, t) -> t = {trace:String}, Links.SpanId, Links.TraceId) AS linked_span_ids "
            f"FROM otel_traces WHERE IsPrediction AND has(Links.TraceId, {{trace:String}}) AND {_IN_RANGE} "
            "ORDER BY Timestamp, TraceId, SpanId LIMIT 1 BY TraceId, SpanId LIMIT {limit:UInt32}",
            {"trace": trace_id, "lo": start_ns, "hi": end_ns, "limit": limit},
        ).to_pylist()
        return [LinkedPrediction(r["prediction_id"], r["model"], r["version"], r["trace_id"], r["span_id"],
                                 r["timestamp_ns"], tuple(r["linked_span_ids"])) for r in rows]

    # -- quality --

    def quality_counts(self, query: QualityQuery) -> list[QualityCounts]:
        params: dict[str, Any] = {
            "model": query.model, "version": query.version or "", "lo": query.start_ns, "hi": query.end_ns,
            "step": query.step_s, "pos": query.positive_label or "",
        }
        labelled = _labelled_sql(query.step_s)
        # Totals count stored prediction rows (a redelivered span counts twice, as in every
        # other aggregate); only the labelled subset is deduplicated by prediction id, so no
        # query builds a hash of every prediction id in the range (10M: ~5 s per query).
        totals = self._query(
            f"SELECT {_step(query.step_s)} AS t, ModelVersion AS version, count() AS total "
            f"FROM predictions WHERE {_OF_MODEL} AND {_IN_RANGE} GROUP BY t, version ORDER BY t, version",
            params,
        ).to_pylist()
        extra: dict[tuple[int, str], dict[str, Any]] = {(r["t"], r["version"]): {} for r in totals}
        # Several metric queries read the labelled rows when there are scores (or for
        # regression); then they are materialized once, else one direct query is cheaper.
        several = query.task == "regression" or self._has_scores(params)
        with self._materialized(labelled, params) if several else nullcontext(labelled) as table:
            rows = f"SELECT * FROM {table}" if several else labelled
            if query.task == "regression":
                counted, _ = self._labelled_counts(rows, params)
                self._regression(rows, params, extra)
            else:
                counted = self._classification(rows, params, extra, bool(query.positive_label))
        for r in totals:
            r["labelled"] = counted.get((r["t"], r["version"]), 0)
        return [
            QualityCounts(r["t"] * 10**9, r["version"], r["total"], r["labelled"], **extra[(r["t"], r["version"])])
            for r in totals
        ]

    def _has_scores(self, params: dict[str, Any]) -> bool:
        found = self._query(
            f"SELECT count() AS n FROM (SELECT 1 FROM predictions WHERE {_OF_MODEL} AND {_IN_RANGE} "
            "AND notEmpty(Scores) LIMIT 1)", params)
        return bool(found.column("n")[0].as_py())

    @contextmanager
    def _materialized(self, sql: str, params: dict[str, Any]) -> Iterator[str]:
        """The rows of `sql` in a temporary in-memory table for the queries that follow on
        this connection: the labelled rows (a scan of the range joined with the feedback)
        are read once instead of once per metric query."""
        name = f"spanwise_labelled_{uuid.uuid4().hex}"
        self._query(f"CREATE TEMPORARY TABLE {name} ENGINE = Memory AS {sql}", params)
        try:
            yield name
        finally:
            self._query(f"DROP TEMPORARY TABLE IF EXISTS {name}")

    def _labelled_counts(self, labelled: str, params: dict[str, Any]) -> tuple[dict[tuple[int, str], int], bool]:
        """Labelled predictions per (window, version), and whether any carries scores."""
        rows = self._query(
            f"SELECT t, version, countIf(has_label) AS labelled, countIf(has_label AND notEmpty(Scores)) AS scored "
            f"FROM ({labelled}) GROUP BY t, version",
            params,
        ).to_pylist()
        return {(r["t"], r["version"]): r["labelled"] for r in rows}, any(r["scored"] for r in rows)

    def _classification(
        self, labelled: str, params: dict[str, Any], extra: dict[tuple[int, str], dict[str, Any]], binary: bool
    ) -> dict[tuple[int, str], int]:
        """Confusion counts (which also give the labelled counts, returned), then the
        score-based metrics when any labelled prediction carries scores."""
        rows = self._query(
            f"SELECT t, version, actual, predicted, count() AS n, countIf(notEmpty(Scores)) AS scored "
            f"FROM ({labelled}) WHERE has_label "
            "GROUP BY t, version, actual, predicted ORDER BY t, version, actual, predicted",
            params,
        ).to_pylist()
        counted: dict[tuple[int, str], int] = {}
        for r in rows:
            extra[(r["t"], r["version"])].setdefault("confusion", []).append((r["actual"], r["predicted"], r["n"]))
            counted[(r["t"], r["version"])] = counted.get((r["t"], r["version"]), 0) + r["n"]
        if not any(r["scored"] for r in rows):  # log loss, ROC AUC and calibration need scores
            return counted
        if not binary:
            self._multiclass_log_loss(labelled, params, extra)
            return counted
        scored = (
            f"SELECT t, version, assumeNotNull(p) AS score, actual = {{pos:String}} AS positive FROM ({labelled}) "
            "WHERE has_label AND p IS NOT NULL"
        )
        for r in self._query(_AUC_SQL.format(scored=scored), params).to_pylist():
            extra[(r["t"], r["version"])].update(
                scored=r["scored"], roc_auc=r["auc"], log_loss_sum=r["loss"],
                calibration=list(zip(*r["bins"].values())),  # a tuple arrives as {"1": bins, "2": ...}
            )
        return counted

    def _multiclass_log_loss(
        self, labelled: str, params: dict[str, Any], extra: dict[tuple[int, str], dict[str, Any]]
    ) -> None:
        """-log of the probability given to the true class (`Scores[label]`, clipped to
        [eps, 1 - eps] as scikit-learn does), over labelled predictions that carry it."""
        rows = self._query(
            f"SELECT t, version, count() AS scored, sum(-log(greatest(least(Scores[actual], 1 - {_EPS}), {_EPS}))) AS loss "
            f"FROM ({labelled}) WHERE has_label AND mapContains(Scores, actual) GROUP BY t, version",
            params,
        ).to_pylist()
        for r in rows:
            extra[(r["t"], r["version"])].update(scored=r["scored"], log_loss_sum=r["loss"])

    def _regression(self, labelled: str, params: dict[str, Any], extra: dict[tuple[int, str], dict[str, Any]]) -> None:
        rows = self._query(
            "SELECT t, version, count() AS n, sum(abs(e)) AS abs_sum, sum(e * e) AS sq_sum, "
            f"sum(abs(e) / greatest(abs(y), {_EPS})) AS ape_sum, varPopStable(y) * count() AS ss_tot "
            f"FROM (SELECT t, version, assumeNotNull(actual_value) AS y, y - assumeNotNull(PredictionValue) AS e "
            f"FROM ({labelled}) WHERE has_label AND actual_value IS NOT NULL AND PredictionValue IS NOT NULL) "
            "GROUP BY t, version",
            params,
        ).to_pylist()
        for r in rows:
            extra[(r["t"], r["version"])]["regression"] = {
                k: float(r[k]) for k in ("n", "abs_sum", "sq_sum", "ape_sum", "ss_tot")
            }

    # -- feedback --

    def known_predictions(self, prediction_ids: list[str]) -> set[str]:
        if not prediction_ids:
            return set()
        rows = self._query(
            "SELECT DISTINCT PredictionId FROM predictions WHERE PredictionId IN {ids:Array(String)}",
            {"ids": array_literal(prediction_ids)},
        )
        return set(rows.column("PredictionId").to_pylist()) if rows.num_rows else set()

    def prediction_ids_of_spans(self, spans: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
        if not spans:
            return {}
        rows = self._query(
            "SELECT DISTINCT TraceId, SpanId, PredictionId FROM predictions WHERE TraceId IN {traces:Array(String)} "
            "AND concat(TraceId, ':', SpanId) IN {keys:Array(String)}",
            {"traces": array_literal(sorted({t for t, _ in spans})), "keys": array_literal([f"{t}:{s}" for t, s in spans])},
        ).to_pylist()
        return {(r["TraceId"], r["SpanId"]): r["PredictionId"] for r in rows}

    def labelled(self, prediction_ids: list[str]) -> set[str]:
        if not prediction_ids:
            return set()
        rows = self._query(
            f"SELECT DISTINCT PredictionId FROM {FEEDBACK_TABLE} WHERE PredictionId IN {{ids:Array(String)}}",
            {"ids": array_literal(prediction_ids)},
        )
        return set(rows.column("PredictionId").to_pylist()) if rows.num_rows else set()

    def write_feedback(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self._insert(FEEDBACK_TABLE, rows)


def _labelled_sql(step_s: int) -> str:
    """Deduplicated labelled predictions of the query's range (feedback or a span label)
    with their effective label:
    `actual`/`actual_value` (latest feedback, else the span's GroundTruth), `has_label`,
    `predicted` (label, else the value as text), `Scores` and `p` (score of the positive class:
    `Scores[positive]`, else `Scores['score']`)."""
    return f"""WITH base AS (
            SELECT {_step(step_s)} AS t, ModelVersion AS version, PredictionId, PredictionLabel, PredictionValue,
                Scores, GroundTruth
            FROM predictions WHERE {_OF_MODEL} AND {_IN_RANGE}
                AND (GroundTruth != '' OR PredictionId IN (SELECT PredictionId FROM {FEEDBACK_TABLE}))
            LIMIT 1 BY PredictionId)
        SELECT base.t AS t, base.version AS version, base.PredictionValue AS PredictionValue, base.Scores AS Scores,
            f.has_feedback = 1 OR base.GroundTruth != '' AS has_label,
            if(f.has_feedback = 1, tupleElement(f.fb, 1), base.GroundTruth) AS actual,
            if(f.has_feedback = 1, tupleElement(f.fb, 2), toFloat64OrNull(base.GroundTruth)) AS actual_value,
            if(base.PredictionLabel != '' OR base.PredictionValue IS NULL, base.PredictionLabel,
               toString(assumeNotNull(base.PredictionValue))) AS predicted,
            if(mapContains(base.Scores, {{pos:String}}), base.Scores[{{pos:String}}],
               if(mapContains(base.Scores, 'score'), base.Scores['score'], NULL)) AS p
        FROM base LEFT JOIN ({_LATEST_FEEDBACK}) AS f ON base.PredictionId = f.PredictionId"""


#: Per (window, version), in one pass over the labelled rows: exact ROC AUC (for each
#: distinct score, positives times the negatives ranked below it plus half the negatives
#: tied with it, over P * N), the binary log loss with scikit-learn's clipping to
#: [eps, 1 - eps], and the calibration bins (count, score sum, positives per uniform bin:
#: one `sumMap` with three value arrays, which keeps a bin whose positives sum to 0 where a
#: single-value `sumMap` would drop it).
_AUC_SQL = f"""SELECT t, version, sum(pos + neg) AS scored,
        if(sum(pos) = 0 OR sum(neg) = 0, NULL, sum(pos * (neg_below + neg / 2)) / (sum(pos) * sum(neg))) AS auc,
        sum(loss) AS loss,
        sumMap([bin], [toUInt64(pos + neg)], [score * (pos + neg)], [toUInt64(pos)]) AS bins
    FROM (SELECT t, version, score, pos, neg, loss, arrayCount(e -> e < score, {_CALIBRATION_EDGES}) AS bin,
            sum(neg) OVER (PARTITION BY t, version ORDER BY score ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS neg_below
        FROM (SELECT t, version, score, countIf(positive) AS pos, countIf(NOT positive) AS neg,
                sum(-log(if(positive, greatest(least(score, 1 - {_EPS}), {_EPS}), 1 - greatest(least(score, 1 - {_EPS}), {_EPS})))) AS loss
            FROM ({{scored}}) GROUP BY t, version, score))
    GROUP BY t, version"""


def _label(row: dict[str, Any]) -> tuple[str | None, float | None, int | None, str | None]:
    """A prediction's label, its value, when it came (ns) and its source: the latest
    feedback, else the label its span carried (`GroundTruth`, no time of its own)."""
    if row["has_feedback"]:
        return row["FeedbackLabel"], row["FeedbackValue"], row["FeedbackTs"], "feedback"
    if row["GroundTruth"]:
        return row["GroundTruth"], _number(row["GroundTruth"]), None, "span"
    return None, None, None, None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
