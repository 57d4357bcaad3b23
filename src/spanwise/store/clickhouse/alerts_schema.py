"""Alerting's own tables: rules made through the API, per-label-set alert state and
silences as versioned JSON objects, and the append-only history of state changes.

Objects use a ReplacingMergeTree keyed by (Kind, Key): a write is an insert with a newer
`Version`, a delete is an insert with `Deleted = 1`, and reads take the newest version per
key (argMax), so no UPDATE is ever needed and a crash mid-write leaves the last version.
Both get their `Project` column the way every data table does (`store.clickhouse.projects`; for the
objects it joins the key), so one rule name lives independently in each project.
"""

from __future__ import annotations

OBJECTS_TABLE = "spanwise_alert_objects"
HISTORY_TABLE = "spanwise_alert_history"


def statements(history_days: int) -> list[str]:
    return [
        f"""CREATE TABLE IF NOT EXISTS {OBJECTS_TABLE} (
            Kind LowCardinality(String),
            Key String,
            Version UInt64,
            Deleted UInt8,
            Body String
        ) ENGINE = ReplacingMergeTree(Version)
        ORDER BY (Kind, Key)""",
        f"""CREATE TABLE IF NOT EXISTS {HISTORY_TABLE} (
            At DateTime64(3) CODEC(Delta, ZSTD(1)),
            Rule String,
            Fingerprint String,
            FromState LowCardinality(String),
            ToState LowCardinality(String),
            Value Nullable(Float64),
            Labels String
        ) ENGINE = MergeTree
        ORDER BY (At, Rule)
        TTL toDateTime(At) + toIntervalDay({int(history_days)})""",
    ]
