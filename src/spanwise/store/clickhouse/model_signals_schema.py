"""Model signals: drift, data-quality and quality results stored as time series, so
dashboards and alert rules read them without recomputing (spanwise.analyze.model_signals)."""

from __future__ import annotations

SIGNALS_TABLE = "model_signals"


def statements(retention_days: int | None = None) -> list[str]:
    ttl = f"TTL ComputedAt + toIntervalDay({retention_days})" if retention_days else ""
    return [
        f"""CREATE TABLE IF NOT EXISTS {SIGNALS_TABLE} (
            ComputedAt DateTime64(3) CODEC(Delta, ZSTD(1)),
            WindowStart DateTime64(9),
            WindowEnd DateTime64(9),
            ModelName LowCardinality(String),
            ModelVersion LowCardinality(String),
            Signal LowCardinality(String),
            Feature String,
            Value Nullable(Float64),
            Flagged Bool
        ) ENGINE = MergeTree
        ORDER BY (ModelName, Signal, Feature, WindowEnd)
        {ttl}"""
    ]
