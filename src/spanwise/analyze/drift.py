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
from collections import Counter
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.analyze import drift_stats
from spanwise.analyze.drift_report import DriftReport, FeatureDrift, Reference
from spanwise.analyze.drift_rule import DriftRule, decide
from spanwise.core.time_range import check_time_range
from spanwise.errors import InvalidQuery, NotFound, PayloadTooLarge
from spanwise.store.protocols import BaselineStore, DriftReader
from spanwise.store.profiles import (
    LABEL, PREDICTION, PREDICTION_LABEL, Baseline, CategoricalProfile, NumericProfile, Profile, categorical_profile,
    numeric_profile,
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

    def baselines(self, model: str) -> list[Baseline]:
        return self._store.baselines(model)

    def set_window_baseline(
        self, model: str, version: str, name: str, kind: str, start_ns: int = 0, end_ns: int = 0, rolling_s: int = 0
    ) -> Baseline:
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
        return baseline

    def upload_baseline(self, model: str, version: str, name: str, body: bytes, file_format: str) -> Baseline:
        """A training profile from a Parquet or CSV file (one row per example)."""
        _check_name(name)
        baseline = Baseline(model, version, name, "profile", profile=profile_of_table(read_table(body, file_format)),
                            created_ns=time.time_ns())
        self._store.save_baseline(baseline)
        return baseline

    # -- drift --

    def drift(
        self, model: str, version: str | None, start_ns: int, end_ns: int, baseline: str | None = None,
        reference_window: tuple[int, int] | None = None, rule: DriftRule | None = None,
    ) -> DriftReport:
        """Drift of [start, end) against `baseline`, else against `reference_window` (a
        fixed range, e.g. the first of several windows compared), else the default;
        verdicts by `rule` (default: `DriftRule()`)."""
        rule = rule or DriftRule()
        check_time_range(start_ns, end_ns, empty_ok=False)
        if reference_window and not baseline:
            lo, hi = reference_window
            check_time_range(lo, hi, what="reference range", empty_ok=False)
            profile = self._store.window_profile(model, version, lo, hi)
            reference = Reference("window", profile.rows, lo, hi)
        else:
            profile, reference = self._reference(model, version, start_ns, end_ns, baseline)
        edges = {k: v.edges for k, v in profile.numeric.items()}
        current = self._store.window_profile(model, version, start_ns, end_ns, edges=edges)
        if not current.rows and not profile.rows:
            raise NotFound(f"no predictions of model {model!r} in the current or reference window")
        tested = [_numeric(name, profile, current) for name in sorted(set(profile.numeric) | set(current.numeric))]
        tested += [_categorical(name, profile, current)
                   for name in sorted(set(profile.categorical) | set(current.categorical))]
        features = [f for f in tested if not f.feature.startswith("@")]
        predictions = [f for f in tested if f.feature in (PREDICTION, PREDICTION_LABEL)]
        label = [f for f in tested if f.feature == LABEL]
        features, predictions, label = (_decided(family, rule) for family in (features, predictions, label))
        return DriftReport(model, version, start_ns, end_ns, reference, current.rows, rule, tuple(features),
                           tuple(predictions), label[0] if label else None)

    def _reference(
        self, model: str, version: str | None, start_ns: int, end_ns: int, name: str | None
    ) -> tuple[Profile, Reference]:
        chosen = self._choose(model, version, name)
        if chosen is None:
            lo = 2 * start_ns - end_ns
            profile = self._store.window_profile(model, version, lo, start_ns)
            return profile, Reference("preceding", profile.rows, lo, start_ns)
        if chosen.kind == "rolling":
            lo = start_ns - chosen.rolling_s * 10**9
            profile = self._store.window_profile(model, version, lo, start_ns)
            return profile, Reference(chosen.kind, profile.rows, lo, start_ns, chosen)
        assert chosen.profile is not None
        if chosen.kind == "window":
            return chosen.profile, Reference(chosen.kind, chosen.profile.rows, chosen.start_ns, chosen.end_ns, chosen)
        return chosen.profile, Reference(chosen.kind, chosen.profile.rows, baseline=chosen)

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


def _profile_name(column_name: str) -> str:
    """The feature (or output) a column profiles: `ml.feature.x` and `x` are both `x`."""
    name = column_name.removeprefix(_FEATURE_PREFIX)
    return _OUTPUT_COLUMNS.get(name, name)


def profile_of_table(table: pa.Table) -> Profile:
    """Numeric columns become numeric features, others categorical; `prediction`,
    `prediction_label` and `label` columns profile the model's output and labels; an
    `ml.feature.` prefix is dropped."""
    if not table.num_rows or table.num_rows > MAX_UPLOAD_ROWS:
        raise InvalidQuery(f"a profile needs between 1 and {MAX_UPLOAD_ROWS} rows")
    names = [_profile_name(column_name) for column_name in table.column_names]
    twice = sorted(name for name, n in Counter(names).items() if n > 1)
    if twice:
        raise InvalidQuery(f"each feature needs one column; more than one column names {', '.join(map(repr, twice))}")
    profile = Profile(table.num_rows)
    for column, name in zip(table.columns, names):
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


def _numeric(name: str, reference: Profile, current: Profile) -> FeatureDrift:
    ref, cur = reference.numeric.get(name), current.numeric.get(name)
    if ref is None or cur is None or not ref.count or not cur.count:
        return FeatureDrift(name, "numeric", ref, cur, note="missing on one side")
    results, _ = drift_stats.numeric_drift(ref, cur)
    return FeatureDrift(name, "numeric", ref, cur, results, drift_stats.numeric_auto(results))


def _categorical(name: str, reference: Profile, current: Profile) -> FeatureDrift:
    ref, cur = reference.categorical.get(name), current.categorical.get(name)
    if ref is None or cur is None:
        return FeatureDrift(name, "categorical", ref, cur, note="missing on one side")
    results, _ = drift_stats.categorical_drift(ref, cur)
    ref_keys = {k for k, _ in ref.counts}
    return FeatureDrift(name, "categorical", ref, cur, results, drift_stats.categorical_auto(ref, cur, results),
                        new_categories=tuple(sorted(k for k, _ in cur.counts if k not in ref_keys)))


def _decided(family: list[FeatureDrift], rule: DriftRule) -> list[FeatureDrift]:
    """The family with its decisions; a feature with too few values on either side to
    trust the test is not flagged."""
    decisions = decide(family, rule)
    found = []
    for entry in family:
        decision = decisions.get(entry.feature)
        if decision is None:
            found.append(entry)
            continue
        counts = _value_counts(entry)
        if min(counts) < MIN_ROWS_TO_FLAG:
            found.append(replace(entry, decision=decision, drifted=False, note=(
                f"too few values to flag (reference {counts[0]}, current {counts[1]}; at least {MIN_ROWS_TO_FLAG} each)")))
        else:
            found.append(replace(entry, decision=decision, drifted=decision.drifted))
    return found


def _value_counts(entry: FeatureDrift) -> tuple[int, int]:
    """Non-missing values on the (reference, current) sides."""
    def count(p: NumericProfile | CategoricalProfile | None) -> int:
        if isinstance(p, NumericProfile):
            return p.count
        return sum(n for _, n in p.counts) if p else 0
    return count(entry.reference), count(entry.current)
