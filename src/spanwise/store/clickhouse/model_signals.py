"""SQL for stored model signals (`ModelSignalStore` in store/protocols)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spanwise.store.clickhouse.model_signals_schema import SIGNALS_TABLE
from spanwise.store.clickhouse.session import SqlArea

SIGNAL_SCHEMA = pa.schema(
    [
        ("ComputedAt", pa.timestamp("ms", tz="UTC")),
        ("WindowStart", pa.timestamp("ns", tz="UTC")),
        ("WindowEnd", pa.timestamp("ns", tz="UTC")),
        ("ModelName", pa.string()),
        ("ModelVersion", pa.string()),
        ("Signal", pa.string()),
        ("Feature", pa.string()),
        ("Value", pa.float64()),
        ("Flagged", pa.bool_()),
    ]
)


class SqlModelSignals(SqlArea):
    """Writes and reads `model_signals`; the backend supplies `_query`/`_insert`."""



    def write_signals(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self._insert(SIGNALS_TABLE, rows.cast(SIGNAL_SCHEMA))

    def read_signals(
        self, model: str, start_ns: int, end_ns: int, signal: str | None = None, feature: str | None = None,
        limit: int = 10_000,
    ) -> pa.Table:
        return self._query(
            f"""SELECT toInt64(toUnixTimestamp64Nano(WindowEnd)) AS window_end_unix_nano,
                   toInt64(toUnixTimestamp64Nano(WindowStart)) AS window_start_unix_nano,
                   ModelVersion AS version, Signal AS signal, Feature AS feature, Value AS value, Flagged AS flagged
            FROM {SIGNALS_TABLE}
            WHERE ModelName = {{model:String}}
              AND WindowEnd >= fromUnixTimestamp64Nano({{lo:Int64}}) AND WindowEnd <= fromUnixTimestamp64Nano({{hi:Int64}})
              AND ({{signal:String}} = '' OR Signal = {{signal:String}})
              AND ({{feature:String}} = '' OR Feature = {{feature:String}})
            ORDER BY WindowEnd, signal, feature, version LIMIT {{limit:UInt32}}""",
            {"model": model, "lo": start_ns, "hi": end_ns, "signal": signal or "", "feature": feature or "", "limit": limit},
        )

    def latest_signals(self, since_ns: int | None, limit: int) -> pa.Table:
        """The latest value per (model, version, signal, feature) among windows ending at
        or after `since_ns` (None: all), most recent first, at most `limit` series; the
        `series` column counts every matching series (so a caller can report the rest)."""
        return self._query(
            f"""SELECT ModelName AS model, ModelVersion AS version, Signal AS signal, Feature AS feature,
                   argMax(Value, tuple(WindowEnd, ComputedAt)) AS value,
                   argMax(Flagged, tuple(WindowEnd, ComputedAt)) AS flagged,
                   toInt64(toUnixTimestamp64Nano(max(WindowEnd))) AS window_end_unix_nano,
                   toInt64(count() OVER ()) AS series
            FROM {SIGNALS_TABLE}
            WHERE {{since:Int64}} = 0 OR WindowEnd >= fromUnixTimestamp64Nano({{since:Int64}})
            GROUP BY model, version, signal, feature
            ORDER BY window_end_unix_nano DESC, model, version, signal, feature LIMIT {{limit:UInt32}}""",
            {"since": since_ns or 0, "limit": limit},
        )
