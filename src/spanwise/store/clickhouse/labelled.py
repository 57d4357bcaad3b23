"""`ConceptDriftReader` and `PredictionExporter` in ClickHouse SQL over `predictions`
joined with the latest `feedback`.

Concept drift counts errors per (segment, window) in the engine: classification counts
wrong predictions with `countIf`; regression groups identical absolute errors and derives
the Mann-Whitney U of the current window against the reference from running counts
(window functions), as the ROC AUC of `sql_models` does. Every StringFeatures (key, value)
is a segment, and the pair ('', '') stands for all labelled predictions, so one query
serves the overall test and every segment.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spanwise.store.protocols import ConceptWindows, ErrorShiftCounts
from spanwise.store.clickhouse.models_schema import FEEDBACK_TABLE
from spanwise.store.clickhouse.session import SqlArea

MAX_SEGMENTS = 10_000
_OF_MODEL = "ModelName = {model:String} AND ({version:String} = '' OR ModelVersion = {version:String})"
_CURRENT = "Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp <= fromUnixTimestamp64Nano({hi:Int64})"
_REFERENCE = "Timestamp >= fromUnixTimestamp64Nano({ref_lo:Int64}) AND Timestamp < fromUnixTimestamp64Nano({ref_hi:Int64})"
_LATEST_FEEDBACK = (
    "SELECT PredictionId, 1 AS has_feedback, argMax(tuple(Label, LabelValue, Timestamp), (Timestamp, ReceivedAt)) AS fb "
    f"FROM {FEEDBACK_TABLE} WHERE PredictionId IN (SELECT PredictionId FROM base) GROUP BY PredictionId"
)
#: Labelled predictions of both windows: `cur` (1 current, 0 reference), `sf`, `actual`,
#: `actual_value`, `predicted` (label, else the value as text) and `PredictionValue`.
_LABELLED = f"""WITH base AS (
        SELECT PredictionId, toUInt8({_CURRENT}) AS cur, StringFeatures, PredictionLabel, PredictionValue, GroundTruth
        FROM predictions WHERE {_OF_MODEL} AND (({_CURRENT}) OR ({_REFERENCE})) LIMIT 1 BY PredictionId)
    SELECT base.cur AS cur, base.StringFeatures AS sf, base.PredictionValue AS PredictionValue,
        if(f.has_feedback = 1, tupleElement(f.fb, 1), base.GroundTruth) AS actual,
        if(f.has_feedback = 1, tupleElement(f.fb, 2), toFloat64OrNull(base.GroundTruth)) AS actual_value,
        if(base.PredictionLabel != '' OR base.PredictionValue IS NULL, base.PredictionLabel,
           toString(assumeNotNull(base.PredictionValue))) AS predicted
    FROM base LEFT JOIN ({_LATEST_FEEDBACK}) AS f ON base.PredictionId = f.PredictionId
    WHERE f.has_feedback = 1 OR base.GroundTruth != ''"""
_SEGMENTS = "ARRAY JOIN arrayConcat([tuple('', '')], arrayZip(CAST(mapKeys(sf), 'Array(String)'), mapValues(sf))) AS seg"
_KEEP = "HAVING feature = '' OR (n_reference >= {min:UInt32} AND n_current >= {min:UInt32})"
_ORDER = f"ORDER BY feature = '' DESC, feature, value LIMIT {MAX_SEGMENTS + 1}"

_CLASSIFICATION_SQL = f"""SELECT tupleElement(seg, 1) AS feature, tupleElement(seg, 2) AS value,
        countIf(cur = 0) AS n_reference, countIf(cur = 1) AS n_current,
        countIf(cur = 0 AND actual != predicted) AS errors_reference, countIf(cur = 1 AND actual != predicted) AS errors_current
    FROM ({_LABELLED}) {_SEGMENTS}
    GROUP BY feature, value {_KEEP} {_ORDER}"""

_REGRESSION_SQL = f"""SELECT feature, value, sum(r) AS n_reference, sum(c) AS n_current,
        sum(r * e) AS error_sum_reference, sum(c * e) AS error_sum_current,
        sum(c * (r_below + r / 2)) AS u_current, sum(pow(r + c, 3) - (r + c)) AS tie_term
    FROM (SELECT feature, value, e, r, c,
            sum(r) OVER (PARTITION BY feature, value ORDER BY e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS r_below
        FROM (SELECT tupleElement(seg, 1) AS feature, tupleElement(seg, 2) AS value, e,
                countIf(cur = 0) AS r, countIf(cur = 1) AS c
            FROM (SELECT cur, sf, abs(assumeNotNull(actual_value) - assumeNotNull(PredictionValue)) AS e FROM ({_LABELLED})
                WHERE actual_value IS NOT NULL AND PredictionValue IS NOT NULL)
            {_SEGMENTS} GROUP BY feature, value, e))
    GROUP BY feature, value {_KEEP} {_ORDER}"""

_EXPORT_SQL = f"""WITH base AS (
        SELECT * FROM predictions WHERE {_OF_MODEL} AND {_CURRENT}
        ORDER BY Timestamp, PredictionId LIMIT 1 BY PredictionId LIMIT {{limit:UInt64}})
    SELECT toInt64(toUnixTimestamp64Nano(base.Timestamp)) AS TimestampNs, base.PredictionId AS PredictionId,
        base.TraceId AS TraceId, base.SpanId AS SpanId, base.ServiceName AS ServiceName, base.ModelName AS ModelName,
        base.ModelVersion AS ModelVersion, base.Features AS Features, base.StringFeatures AS StringFeatures,
        base.PredictionValue AS PredictionValue, base.PredictionLabel AS PredictionLabel,
        base.Confidence AS Confidence, base.Scores AS Scores, base.Attributions AS Attributions,
        if(f.has_feedback = 1, tupleElement(f.fb, 1), nullIf(base.GroundTruth, '')) AS Label,
        if(f.has_feedback = 1, toInt64(toUnixTimestamp64Nano(tupleElement(f.fb, 3))), NULL) AS LabelTimestampNs,
        multiIf(f.has_feedback = 1, 'feedback', base.GroundTruth != '', 'span', NULL) AS LabelSource
    FROM base LEFT JOIN ({_LATEST_FEEDBACK}) AS f ON base.PredictionId = f.PredictionId
    ORDER BY TimestampNs, PredictionId"""


class SqlLabelledReader(SqlArea):
    """The ConceptDriftReader and PredictionExporter half of `SqlTraceStore`."""


    def error_shift_counts(self, windows: ConceptWindows) -> list[ErrorShiftCounts]:
        params: dict[str, Any] = {
            "model": windows.model, "version": windows.version or "", "lo": windows.start_ns, "hi": windows.end_ns,
            "ref_lo": windows.reference_start_ns, "ref_hi": windows.reference_end_ns, "min": max(windows.min_count, 1),
        }
        sql = _REGRESSION_SQL if windows.task == "regression" else _CLASSIFICATION_SQL
        rows = self._query(sql, params).to_pylist()
        found = [ErrorShiftCounts(**r) for r in rows[: MAX_SEGMENTS + 1]]
        if not found or found[0].feature != "" or found[0].value != "":
            found.insert(0, ErrorShiftCounts("", "", 0, 0))
        return found

    def export_predictions(
        self, model: str, version: str | None, start_ns: int, end_ns: int, limit: int
    ) -> pa.Table:
        params = {"model": model, "version": version or "", "lo": start_ns, "hi": end_ns, "limit": limit}
        return self._query(_EXPORT_SQL, params)
