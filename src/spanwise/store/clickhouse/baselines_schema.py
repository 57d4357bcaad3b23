"""DDL of `model_baselines`: one reference per (model, version, name), its profile as JSON.

Profiles hold bin edges, counts and a bounded sample, so a row is small (< 1 MB with
20 features) and a baseline is read back, not recomputed. `ReplacingMergeTree(CreatedAt)`
keeps the latest definition of a name; reads pick it with `argMax`.
"""

from __future__ import annotations

BASELINES_TABLE = "model_baselines"


def statements() -> list[str]:
    """Idempotent DDL (IF NOT EXISTS)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS {BASELINES_TABLE} (
            ModelName LowCardinality(String),
            ModelVersion LowCardinality(String),
            Name String,
            Kind LowCardinality(String),
            StartNs Int64,
            EndNs Int64,
            RollingSeconds Int64,
            Profile String CODEC(ZSTD(3)),
            CreatedAt DateTime64(9)
        ) ENGINE = ReplacingMergeTree(CreatedAt)
        ORDER BY (ModelName, ModelVersion, Name)"""
    ]
