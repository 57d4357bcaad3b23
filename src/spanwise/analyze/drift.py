"""DriftService: reference baselines and data, prediction and label drift.

The reference of a drift request is, in order: the baseline named by `baseline`; else
the newest baseline of the version (or of every version, stored with version ''; for a
request without a version, the newest baseline when all baselines belong to one version);
else the window of equal length just before the current one. Baselines are a fixed window
(profiled once, when set), a rolling window (the `lookback` before the current window,
profiled per request) or a training profile uploaded from a Parquet/CSV file. The store
profiles windows in SQL (`DriftReader.window_profile`); current numeric values are
binned with the reference's edges; `drift_stats` finishes the statistics and `drift_rule`
turns them into verdicts (by default: significant at this window's size, adjusted across
the model's features, and large enough to matter).
"""

from __future__ import annotations

import io
import time
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.analyze import drift_stats
from spanwise.analyze.drift_rule import DriftRule, decide
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery, NotFound, PayloadTooLarge
from spanwise.store.protocols import BaselineStore, DriftReader
from spanwise.store.profiles import (
    LABEL, PREDICTION, PREDICTION_LABEL, Baseline, Profile, categorical_profile, numeric_profile,
)

KINDS = ("window", "rolling", "profile")
_FEATURE_PREFIX = "ml.feature."
#: Columns of an uploaded profile that are not features.
_OUTPUT_COLUMNS = {"prediction": PREDICTION, "prediction_value": PREDICTION, "prediction_label": PREDICTION_LABEL,
                   "label": LABEL}
MAX_UPLOAD_ROWS = 10_000_000
MAX_UPLOAD_COLUMNS = 2_000
MAX_UPLOAD_CELLS = 20_000_000
MAX_UPLOAD_UNCOMPRESSED_BYTES = 512 * 1024 * 1024
MAX_UPLOAD_TABLE_BYTES = 512 * 1024 * 1024
"""Training-file limits, checked on Parquet metadata before the data is read (413)."""
#: Fewer values than this on either side: statistics are computed but nothing is flagged
#: (a few dozen current rows against a training set flag features that never moved).
MIN_ROWS_TO_FLAG = 30


class DriftStore(DriftReader, BaselineStore, Protocol):
    """What the service needs of a store."""


class DriftService:
    def __init__(self, store: DriftStore) -> None:
        self._store = store

    # -- baselines --

    def baselines(self, model: str) -> dict[str, Any]:
        return {"name": model, "baselines": [_baseline_json(b) for b in self._store.baselines(model)]}

    def set_window_baseline(
        self, model: str, version: str, name: str, kind: str, start_ns: int = 0, end_ns: int = 0, rolling_s: int = 0
    ) -> dict[str, Any]:
        """A fixed window (profiled now, then reused) or a rolling window (a definition)."""
        _check_name(name)
        if kind == "window":
            check_time_range(start_ns, end_ns, what="baseline window", empty_ok=False)
            profile: Profile | None = self._store.window_profile(model, version or None, start_ns, end_ns)
            if profile is not None and not profile.rows:
                raise InvalidQuery(f"no predictions of model {model!r} in the baseline window")
            baseline = Baseline(model, version, name, kind, start_ns, end_ns, 0, profile, time.time_ns())
        elif kind == "rolling":
            if rolling_s <= 0:
                raise InvalidQuery("a rolling baseline needs a positive lookback")
            baseline = Baseline(model, version, name, kind, rolling_s=rolling_s, created_ns=time.time_ns())
        else:
            raise InvalidQuery(f"kind must be one of {', '.join(KINDS)}")
        self._store.save_baseline(baseline)
        return _baseline_json(baseline)

    def upload_baseline(self, model: str, version: str, name: str, body: bytes, file_format: str) -> dict[str, Any]:
        """A training profile from a Parquet or CSV file (one row per example)."""
        _check_name(name)
        baseline = Baseline(model, version, name, "profile", profile=profile_of_table(read_table(body, file_format)),
                            created_ns=time.time_ns())
        self._store.save_baseline(baseline)
        return _baseline_json(baseline)

    # -- drift --

    def drift(
        self, model: str, version: str | None, start_ns: int, end_ns: int, baseline: str | None = None,
        reference_window: tuple[int, int] | None = None, rule: DriftRule | None = None,
    ) -> dict[str, Any]:
        """Drift of [start, end) against `baseline`, else against `reference_window` (a
        fixed range, e.g. the first of several windows compared), else the default;
        verdicts by `rule` (default: `DriftRule()`)."""
        rule = rule or DriftRule()
        check_time_range(start_ns, end_ns, empty_ok=False)
        if reference_window and not baseline:
            lo, hi = reference_window
            check_time_range(lo, hi, what="reference range", empty_ok=False)
            reference = self._store.window_profile(model, version, lo, hi)
            described = {"kind": "window", "start_unix_nano": lo, "end_unix_nano": hi}
        else:
            reference, described = self._reference(model, version, start_ns, end_ns, baseline)
        edges = {k: v.edges for k, v in reference.numeric.items()}
        current = self._store.window_profile(model, version, start_ns, end_ns, edges=edges)
        if not current.rows and not reference.rows:
            raise NotFound(f"no predictions of model {model!r} in the current or reference window")
        features: list[dict[str, Any]] = []
        outputs: list[dict[str, Any]] = []
        autos: dict[str, drift_stats.AutoResult] = {}
        for name in sorted(set(reference.numeric) | set(current.numeric)):
            found = _numeric(name, reference, current, autos)
            (outputs if name.startswith("@") else features).append(found)
        for name in sorted(set(reference.categorical) | set(current.categorical)):
            found = _categorical(name, reference, current, autos)
            (outputs if name.startswith("@") else features).append(found)
        predictions = [o for o in outputs if o["feature"] in (PREDICTION, PREDICTION_LABEL)]
        label = [o for o in outputs if o["feature"] == LABEL]
        for family in (features, predictions, label):
            decide(family, autos, rule)
            for entry in family:
                _enough_values(entry)
        drifted = [f["feature"] for f in features if f["drifted"]]
        return {
            "name": model, "version": version, "start_unix_nano": start_ns, "end_unix_nano": end_ns,
            "reference": {**described, "rows": reference.rows}, "current": {"rows": current.rows},
            "thresholds": drift_stats.THRESHOLDS, "psi_epsilon": drift_stats.PSI_EPSILON, "rule": rule.to_json(),
            "drifted": bool(drifted), "drifted_features": drifted,
            "share_drifted": len(drifted) / len(features) if features else None,
            "note": None if reference.rows else "the reference has no predictions: nothing can be flagged",
            "features": features,
            "predictions": predictions,
            "label": label[0] if label else None,
        }

    def _reference(
        self, model: str, version: str | None, start_ns: int, end_ns: int, name: str | None
    ) -> tuple[Profile, dict[str, Any]]:
        chosen = self._choose(model, version, name)
        if chosen is None:
            lo = 2 * start_ns - end_ns
            return self._store.window_profile(model, version, lo, start_ns), {
                "kind": "preceding", "start_unix_nano": lo, "end_unix_nano": start_ns}
        described = _baseline_json(chosen)
        if chosen.kind == "rolling":
            lo = start_ns - chosen.rolling_s * 10**9
            described.update(start_unix_nano=lo, end_unix_nano=start_ns)
            return self._store.window_profile(model, version, lo, start_ns), described
        assert chosen.profile is not None
        return chosen.profile, described

    def _choose(self, model: str, version: str | None, name: str | None) -> Baseline | None:
        found = self._store.baselines(model, with_profiles=True)
        if name:
            named = [b for b in found if b.name == name and b.version in (version or "", "")]
            if not named:
                raise NotFound(f"baseline {name!r} of model {model!r} not found")
            return max(named, key=lambda b: (b.version != "", b.created_ns))
        for candidate_version in ([version, ""] if version else [""]):
            of_version = [b for b in found if b.version == candidate_version]
            if of_version:
                return max(of_version, key=lambda b: b.created_ns)
        if version is None and len({b.version for b in found}) == 1 and found:
            # A model-wide request on a model whose only baselines belong to one version:
            # its (training) baseline is the reference users expect, not the preceding window.
            return max(found, key=lambda b: b.created_ns)
        return None


def read_table(body: bytes, file_format: str) -> pa.Table:
    """The uploaded training file as a table. Parquet is checked on its metadata before
    any data is read: a small file can expand to gigabytes (a decompression bomb)."""
    if file_format not in ("parquet", "csv"):
        raise InvalidQuery("format must be parquet or csv")
    try:
        if file_format == "parquet":
            import pyarrow.parquet as pq

            schema = pq.ParquetFile(io.BytesIO(body))
            _check_parquet_size(schema.metadata)
            text = [f.name for f in schema.schema_arrow if pa.types.is_string(f.type) or pa.types.is_binary(f.type)]
            return _text_as_utf8(_read_parquet_bounded(pq.ParquetFile(io.BytesIO(body), read_dictionary=text)))
        import pyarrow.csv as pcsv

        return _text_as_utf8(pcsv.read_csv(io.BytesIO(body)))
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        # Any damage in a hostile file (bad metadata, indices out of range, text that is
        # not UTF-8) is the sender's error, never a 500.
        raise InvalidQuery(f"cannot read the {file_format} file: {exc}") from exc


def _text_as_utf8(table: pa.Table) -> pa.Table:
    """Column names and binary columns checked as UTF-8 text while the error is still the
    upload's (profiling casts them to strings)."""
    names = [str(name) for name in table.column_names]
    columns = [c.cast(pa.string()) if pa.types.is_binary(c.type) or pa.types.is_large_binary(c.type) else c
               for c in table.columns]
    return pa.Table.from_arrays(columns, names=names)


def _check_parquet_size(metadata: Any) -> None:
    """Refuse files whose rows, columns or uncompressed size exceed the upload limits."""
    uncompressed = sum(metadata.row_group(i).total_byte_size for i in range(metadata.num_row_groups))
    if metadata.num_rows > MAX_UPLOAD_ROWS:
        raise PayloadTooLarge(f"the Parquet file has {metadata.num_rows} rows; the limit is {MAX_UPLOAD_ROWS}")
    if metadata.num_columns > MAX_UPLOAD_COLUMNS:
        raise PayloadTooLarge(f"the Parquet file has {metadata.num_columns} columns; the limit is {MAX_UPLOAD_COLUMNS}")
    if metadata.num_rows * metadata.num_columns > MAX_UPLOAD_CELLS:
        raise PayloadTooLarge(
            f"the Parquet file has {metadata.num_rows} rows x {metadata.num_columns} columns; "
            f"the limit is {MAX_UPLOAD_CELLS} values"
        )
    if uncompressed > MAX_UPLOAD_UNCOMPRESSED_BYTES:
        raise PayloadTooLarge(
            f"the Parquet file holds {uncompressed} bytes uncompressed; the limit is {MAX_UPLOAD_UNCOMPRESSED_BYTES}"
        )


def _read_parquet_bounded(parquet: Any) -> pa.Table:
    """Read batch by batch, refusing once the table would grow past MAX_UPLOAD_TABLE_BYTES.
    Text columns arrive dictionary-encoded and are measured before they are expanded:
    repeated long strings are tiny in the file and huge in memory."""
    batches, size = [], 0
    for batch in parquet.iter_batches(batch_size=16_384):
        size += sum(_expanded_bytes(column) for column in batch.columns)
        if size > MAX_UPLOAD_TABLE_BYTES:
            raise PayloadTooLarge(f"the Parquet file expands past {MAX_UPLOAD_TABLE_BYTES} bytes in memory")
        batches.append(pa.RecordBatch.from_arrays([_expanded(c) for c in batch.columns], names=batch.schema.names))
    return pa.Table.from_batches(batches) if batches else pa.table({f.name: pa.array([], _plain(f.type))
                                                                   for f in parquet.schema_arrow})


def _expanded_bytes(column: pa.Array) -> int:
    if pa.types.is_dictionary(column.type):
        lengths = pc.take(pc.binary_length(column.dictionary), column.indices)
        return int(pc.sum(lengths).as_py() or 0) + 8 * len(column)
    return int(column.nbytes)


def _plain(kind: pa.DataType) -> pa.DataType:
    return kind.value_type if pa.types.is_dictionary(kind) else kind


def _expanded(column: pa.Array) -> pa.Array:
    return column.cast(column.type.value_type) if pa.types.is_dictionary(column.type) else column


def profile_of_table(table: pa.Table) -> Profile:
    """Numeric columns become numeric features, others categorical; `prediction`,
    `prediction_label` and `label` columns profile the model's output and labels; an
    `ml.feature.` prefix is dropped."""
    if not table.num_rows or table.num_rows > MAX_UPLOAD_ROWS:
        raise InvalidQuery(f"a profile needs between 1 and {MAX_UPLOAD_ROWS} rows")
    profile = Profile(table.num_rows)
    for column_name in table.column_names:
        column = table.column(column_name)
        name = column_name.removeprefix(_FEATURE_PREFIX)
        name = _OUTPUT_COLUMNS.get(name, name)
        missing = column.null_count
        numeric = pa.types.is_integer(column.type) or pa.types.is_floating(column.type)
        if numeric and name not in (PREDICTION_LABEL, LABEL):
            values = pc.drop_null(column).to_numpy().astype(np.float64)
            profile.numeric[name] = numeric_profile(values, missing)
        else:
            values_text = pc.drop_null(pc.cast(column, pa.string())).to_pylist()
            categorical_name = PREDICTION_LABEL if name == PREDICTION else name
            profile.categorical[categorical_name] = categorical_profile(values_text, missing)
    return profile


def _check_name(name: str) -> None:
    if not name or len(name) > 200:
        raise InvalidQuery("a baseline needs a name of 1 to 200 characters")


def _baseline_json(b: Baseline) -> dict[str, Any]:
    found: dict[str, Any] = {"name": b.name, "version": b.version or None, "kind": b.kind,
                             "created_unix_nano": b.created_ns}
    if b.kind == "window":
        found.update(start_unix_nano=b.start_ns, end_unix_nano=b.end_ns)
    if b.kind == "rolling":
        found.update(lookback_seconds=b.rolling_s)
    if b.profile is not None:
        found.update(rows=b.profile.rows, numeric=sorted(b.profile.numeric), categorical=sorted(b.profile.categorical))
    return found


def _numeric(name: str, reference: Profile, current: Profile, autos: dict[str, drift_stats.AutoResult]) -> dict[str, Any]:
    ref, cur = reference.numeric.get(name), current.numeric.get(name)
    found: dict[str, Any] = {"feature": name, "type": "numeric", "reference": _numeric_json(ref),
                             "current": _numeric_json(cur)}
    if ref is None or cur is None or not ref.count or not cur.count:
        found.update(methods={}, method=None, drifted=False, note="missing on one side")
        return found
    results, _ = drift_stats.numeric_drift(ref, cur)
    autos[name] = drift_stats.numeric_auto(results)
    found.update(methods={k: v.to_json() for k, v in results.items()}, counts=(ref.count, cur.count))
    return found


def _enough_values(found: dict[str, Any]) -> None:
    """Unflag a feature with too few values on either side to trust the test."""
    reference_count, current_count = found.pop("counts", (0, 0))
    if found.get("method") and min(reference_count, current_count) < MIN_ROWS_TO_FLAG:
        found.update(drifted=False, note=f"too few values to flag (reference {reference_count}, current "
                                         f"{current_count}; at least {MIN_ROWS_TO_FLAG} each)")


def _numeric_json(p: Any) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"count": p.count, "missing": p.missing, "min": p.minimum, "max": p.maximum, "edges": list(p.edges),
            "counts": list(p.counts), "sample_size": len(p.sample)}


def _categorical(name: str, reference: Profile, current: Profile,
                 autos: dict[str, drift_stats.AutoResult]) -> dict[str, Any]:
    ref, cur = reference.categorical.get(name), current.categorical.get(name)
    found: dict[str, Any] = {
        "feature": name, "type": "categorical",
        "reference": {"counts": dict(ref.counts), "missing": ref.missing} if ref else None,
        "current": {"counts": dict(cur.counts), "missing": cur.missing} if cur else None,
    }
    if ref is None or cur is None:
        found.update(methods={}, method=None, drifted=False, note="missing on one side")
        return found
    results, _ = drift_stats.categorical_drift(ref, cur)
    autos[name] = drift_stats.categorical_auto(ref, cur, results)
    ref_keys = {k for k, _ in ref.counts}
    found.update(methods={k: v.to_json() for k, v in results.items()},
                 new_categories=sorted(k for k, _ in cur.counts if k not in ref_keys),
                 counts=(sum(n for _, n in ref.counts), sum(n for _, n in cur.counts)))
    return found
