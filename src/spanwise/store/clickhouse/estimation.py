"""Score distributions for performance estimation (`ScoreReader` in store/protocols).

Confidence-based performance estimation needs, per window and version, how much
probability mass the predictions put on the positive class, split by the label they
predicted: one aggregate over `predictions` (no join with feedback; unlabelled
predictions are the point), bucketed to 0.01 so a week of hourly windows stays a few
thousand rows.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spanwise.store.protocols import ScoreBucket, ScoreQuery
from spanwise.store.clickhouse.session import SqlArea

_IN_RANGE = "Timestamp >= fromUnixTimestamp64Nano({lo:Int64}) AND Timestamp <= fromUnixTimestamp64Nano({hi:Int64})"
_OF_MODEL = "ModelName = {model:String} AND ({version:String} = '' OR ModelVersion = {version:String})"
#: The positive class's probability: its score, else the binary `score`, else the
#: confidence of a prediction of it (or one minus the confidence of a prediction of the
#: other class: binary models only).
_POSITIVE_SCORE = """multiIf(
    mapContains(Scores, {pos:String}), Scores[{pos:String}],
    mapContains(Scores, 'score'), Scores['score'],
    Confidence IS NULL OR PredictionLabel = '' OR NOT {binary:Bool}, NULL,
    PredictionLabel = {pos:String}, Confidence, 1 - Confidence)"""


class SqlScores(SqlArea):
    """The ScoreReader half of `SqlTraceStore`; the backend supplies `_query`."""


    def score_buckets(self, query: ScoreQuery) -> list[ScoreBucket]:
        step = ("toInt64(toUnixTimestamp(toStartOfInterval(Timestamp, toIntervalSecond({step:UInt32}))))"
                if query.step_s > 0 else "toInt64(0)")
        params = {"model": query.model, "version": query.version or "", "lo": query.start_ns, "hi": query.end_ns,
                  "step": query.step_s, "pos": query.positive_label, "binary": query.binary}
        rows = self._query(
            f"""SELECT t, version, predicted_positive, round(s, 2) AS bucket, count() AS n, sum(s) AS mass
            FROM (SELECT {step} AS t, ModelVersion AS version, PredictionLabel = {{pos:String}} AS predicted_positive,
                      {_POSITIVE_SCORE} AS s
                  FROM predictions WHERE {_OF_MODEL} AND {_IN_RANGE} AND StatusCode != 'Error')
            WHERE s IS NOT NULL AND s >= 0 AND s <= 1
            GROUP BY t, version, predicted_positive, bucket ORDER BY t, version, bucket""",
            params,
        ).to_pylist()
        return [ScoreBucket(r["t"] * 10**9, r["version"], bool(r["predicted_positive"]), float(r["bucket"]),
                            int(r["n"]), float(r["mass"])) for r in rows]

    def predicted_labels(self, model: str, start_ns: int, end_ns: int, limit: int) -> list[str]:
        rows = self._query(
            f"SELECT DISTINCT PredictionLabel AS label FROM predictions WHERE ModelName = {{model:String}} "
            f"AND {_IN_RANGE} AND PredictionLabel != '' LIMIT {{limit:UInt32}}",
            {"model": model, "lo": start_ns, "hi": end_ns, "limit": limit},
        )
        return sorted(rows.column("label").to_pylist()) if rows.num_rows else []
