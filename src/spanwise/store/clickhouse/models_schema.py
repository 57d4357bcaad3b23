"""DDL of the ground-truth (feedback) table, joined with `predictions` at query time.

Labels arrive minutes to weeks after the prediction, possibly more than once:
`ReplacingMergeTree(Timestamp)` keyed by prediction id keeps the latest label when parts
merge, and reads pick the latest with `argMax` so they never depend on merges having
happened. `ReceivedAt` breaks ties between labels with the same timestamp (the later
delivery wins).
"""

from __future__ import annotations

FEEDBACK_TABLE = "feedback"
#: Labels whose prediction is not stored yet (it may be on its way, or sampled... never
#: sent): kept until it arrives, then moved to `feedback`, or until they expire.
PENDING_FEEDBACK_TABLE = "feedback_pending"


def statements(retention_days: int | None = None) -> list[str]:
    """Idempotent DDL (IF NOT EXISTS). Retention counts from when a label arrived."""
    ttl = f"TTL toDateTime(ReceivedAt) + toIntervalDay({retention_days})" if retention_days else ""
    return [
        f"""CREATE TABLE IF NOT EXISTS {FEEDBACK_TABLE} (
            PredictionId String CODEC(ZSTD(1)),
            Label String CODEC(ZSTD(1)),
            LabelValue Nullable(Float64) CODEC(ZSTD(1)),
            Timestamp DateTime64(9) CODEC(Delta, ZSTD(1)),
            ReceivedAt DateTime64(9) CODEC(Delta, ZSTD(1))
        ) ENGINE = ReplacingMergeTree(Timestamp)
        ORDER BY PredictionId
        {ttl}""",
        f"""CREATE TABLE IF NOT EXISTS {PENDING_FEEDBACK_TABLE} (
            PredictionId String,
            TraceId String,
            SpanId String,
            Label String,
            LabelValue Nullable(Float64),
            Timestamp DateTime64(9),
            ReceivedAt DateTime64(9)
        ) ENGINE = MergeTree
        ORDER BY ReceivedAt""",
    ]
