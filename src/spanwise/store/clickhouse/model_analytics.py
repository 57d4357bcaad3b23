"""`ModelAnalyticsReader` in ClickHouse SQL over `predictions`: data quality, attribution
aggregates and version-comparison inputs.

Windows are aligned to the query's start: window `w` covers
[start + w * width, start + (w + 1) * width) (the last one includes the end). Window -1
is the reference: the preceding window of equal length, or a fixed reference range when
one is given; every window w >= 0 is compared with window w - 1 (preceding) or with -1
(fixed). Comparisons with the reference (range, categories) are joins in the engine;
Python receives rows per (window, feature), and bounded samples (at most
`SAMPLE_ROWS` per group, and at most `MAX_SAMPLE_VALUES` values per query) drawn in SQL
by a hash of the prediction id, so a sample is the same on every call.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from spanwise.store.protocols import (
    AttributionStats, FeatureCategories, FeaturePresence, FeatureQualityCounts, FeatureRange, PredictedLabelCount,
    VersionComparisonInputs, VersionTotals, WindowQuery,
)
from spanwise.store.clickhouse.session import SqlArea

SAMPLE_ROWS = 10_000
MAX_SAMPLE_VALUES = 100_000
_OF_MODEL = "ModelName = {model:String} AND ({version:String} = '' OR ModelVersion = {version:String})"
_NS = "toInt64(toUnixTimestamp64Nano(Timestamp))"
_RANGE = "Timestamp >= fromUnixTimestamp64Nano({%s:Int64}) AND Timestamp <= fromUnixTimestamp64Nano({%s:Int64})"
_REF_W = "if({fixed:UInt8} = 1, toInt64(-1), w - 1)"


def _base(columns: str) -> str:
    """`columns` and the window `w` of every prediction of the windows and the reference."""
    return (
        f"SELECT {columns}, least(intDiv({_NS} - {{lo:Int64}}, {{width:Int64}}), {{last:Int64}}) AS w "
        f"FROM predictions WHERE {_OF_MODEL} AND {_RANGE % ('lo', 'hi')} "
        f"UNION ALL SELECT {columns}, toInt64(-1) AS w "
        f"FROM predictions WHERE {_OF_MODEL} AND {_RANGE % ('rlo', 'rhi')}"
    )


def _params(query: WindowQuery) -> dict[str, Any]:
    width = query.width_ns()
    fixed = query.reference_start_ns is not None and query.reference_end_ns is not None
    return {
        "model": query.model, "version": query.version or "", "lo": query.start_ns, "hi": query.end_ns,
        "width": width, "last": query.windows() - 1, "fixed": int(fixed),
        "rlo": query.reference_start_ns if fixed else query.start_ns - width,
        "rhi": query.reference_end_ns if fixed else query.start_ns - 1,
    }


def _range(row: dict[str, Any]) -> FeatureRange:
    """A `ranges` row; without a reference the joined bounds are the engine's defaults, not values."""
    found = bool(row["has_reference"])
    return FeatureRange(
        row["w"], row["name"], row["vmin"], row["vmax"],
        row["reference_min"] if found else None, row["reference_max"] if found else None, row["outside"],
    )


class SqlModelAnalytics(SqlArea):
    """The ModelAnalyticsReader part of `SqlTraceStore`."""


    # -- data quality --

    def feature_quality(self, query: WindowQuery) -> FeatureQualityCounts:
        params = _params(query)
        base = _base("PredictionId, Features, StringFeatures")
        totals = self._query(f"SELECT w, count() AS n FROM ({base}) GROUP BY w ORDER BY w", params).to_pylist()
        presence = self._query(
            "SELECT w, name, count() AS present, countIf(mapContains(Features, name)) AS numeric, "
            f"countIf(mapContains(StringFeatures, name)) AS strings FROM ({base}) "
            "ARRAY JOIN arrayDistinct(arrayConcat(mapKeys(Features), mapKeys(StringFeatures))) AS name "
            "GROUP BY w, name ORDER BY w, name",
            params,
        ).to_pylist()
        ranges = self._query(
            f"""WITH num AS (SELECT w, {_REF_W} AS ref_w, name, value FROM ({base})
                    ARRAY JOIN mapKeys(Features) AS name, mapValues(Features) AS value),
                bounds AS (SELECT w AS bw, name AS bname, min(value) AS rmin, max(value) AS rmax, 1 AS found
                    FROM num GROUP BY w, name)
            SELECT w, name, min(value) AS vmin, max(value) AS vmax, max(found) AS has_reference,
                any(rmin) AS reference_min, any(rmax) AS reference_max,
                countIf(found = 1 AND (value < rmin OR value > rmax)) AS outside
            FROM num LEFT JOIN bounds ON num.ref_w = bounds.bw AND num.name = bounds.bname
            WHERE w >= 0 GROUP BY w, name ORDER BY w, name""",
            params,
        ).to_pylist()
        categories = self._query(
            f"""WITH cats AS (SELECT w, {_REF_W} AS ref_w, name, value, count() AS c FROM ({base})
                    ARRAY JOIN mapKeys(StringFeatures) AS name, mapValues(StringFeatures) AS value
                    GROUP BY w, ref_w, name, value),
                seen AS (SELECT w AS sw, name AS sname, value AS svalue, 1 AS found FROM cats)
            SELECT w, name, count() AS categories, countIf(found = 0) AS new_categories,
                sumIf(c, found = 0) AS new_rows, arraySort(groupArrayIf(20)(value, found = 0)) AS new_values
            FROM cats LEFT JOIN seen ON cats.ref_w = seen.sw AND cats.name = seen.sname AND cats.value = seen.svalue
            WHERE w >= 0 GROUP BY w, name ORDER BY w, name""",
            params,
        ).to_pylist()
        return FeatureQualityCounts(
            predictions={r["w"]: r["n"] for r in totals},
            presence=tuple(
                FeaturePresence(r["w"], r["name"], r["present"], r["numeric"], r["strings"]) for r in presence
            ),
            ranges=tuple(_range(r) for r in ranges),
            categories=tuple(
                FeatureCategories(r["w"], r["name"], r["categories"], r["new_categories"], r["new_rows"],
                                  tuple(r["new_values"]))
                for r in categories
            ),
        )

    # -- explanations --

    def attribution_stats(self, query: WindowQuery) -> list[AttributionStats]:
        rows = self._query(
            "SELECT w, name, count() AS n, avg(abs(value)) AS mean_abs, avg(value) AS mean "
            f"FROM ({_base('PredictionId, Attributions')}) "
            "ARRAY JOIN mapKeys(Attributions) AS name, mapValues(Attributions) AS value "
            "GROUP BY w, name ORDER BY w, name",
            _params(query),
        ).to_pylist()
        return [AttributionStats(r["w"], r["name"], r["n"], r["mean_abs"], r["mean"]) for r in rows]

    def attribution_samples(self, query: WindowQuery, groups: int) -> dict[tuple[int, str], np.ndarray]:
        k = max(1, min(SAMPLE_ROWS, MAX_SAMPLE_VALUES // max(groups, 1)))
        rows = self._query(
            "SELECT w, name, groupArray(value) AS sample FROM ("
            f"SELECT w, name, value FROM ({_base('PredictionId, Attributions')}) "
            "ARRAY JOIN mapKeys(Attributions) AS name, mapValues(Attributions) AS value "
            f"ORDER BY w, name, cityHash64(PredictionId, name), value LIMIT {k} BY w, name"
            ") GROUP BY w, name ORDER BY w, name",
            _params(query),
        ).to_pylist()
        return {(r["w"], r["name"]): np.asarray(r["sample"], dtype=np.float64) for r in rows}

    # -- version comparison --

    def version_summary(self, model: str, versions: list[str], start_ns: int, end_ns: int) -> VersionComparisonInputs:
        params: dict[str, Any] = {"model": model, "a": versions[0], "b": versions[1], "lo": start_ns, "hi": end_ns}
        where = (
            "WHERE ModelName = {model:String} AND ModelVersion IN ({a:String}, {b:String}) "
            f"AND {_RANGE % ('lo', 'hi')}"
        )
        totals = self._query(
            "SELECT ModelVersion AS version, count() AS n, countIf(StatusCode = 'Error') AS errors, "
            "quantiles(0.5, 0.95, 0.99)(Duration) AS q "
            f"FROM predictions {where} GROUP BY version ORDER BY version",
            params,
        ).to_pylist()
        labels = self._query(
            "SELECT ModelVersion AS version, PredictionLabel AS label, count() AS n "
            f"FROM predictions {where} AND PredictionLabel != '' GROUP BY version, label "
            "ORDER BY version, n DESC, label LIMIT 1000 BY version",
            params,
        ).to_pylist()
        samples = self._query(
            "SELECT ModelVersion AS version, Duration, PredictionValue, Confidence "
            f"FROM predictions {where} ORDER BY version, cityHash64(PredictionId), Timestamp "
            f"LIMIT {SAMPLE_ROWS} BY version",
            params,
        )
        return VersionComparisonInputs(
            totals=tuple(VersionTotals(r["version"], r["n"], r["errors"], *r["q"]) for r in totals),
            labels=tuple(PredictedLabelCount(r["version"], r["label"], r["n"]) for r in labels),
            samples=samples,
        )

