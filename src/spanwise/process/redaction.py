"""PII redaction: the processor that runs before anything is stored or forwarded, for
every signal (traces, logs and metrics; each signal's chain has its own processor, built
from the one `redaction` config section).

Every place a span can carry PII goes through one `Redactor` (`spanwise.process.redactor`):
span attributes (the flat rows, from which `SpanAttributes` and `SpanAttributeTypes` are
rebuilt, so the three never disagree), resource attributes, span names, status messages,
and event and link attributes. It runs before `ml_fields` in the default chain, so the
features parsed from `ml.feature.*` values and feature-dict strings are parsed from text
that is already redacted. Log records: bodies, log and resource attributes; metric
points: point and resource attributes.

A redacted attribute becomes a string (its number and non-string type are removed: a
masked card number is no longer an int64). With hashing on, `HashedSearch` lets a search
for a plain value find what was stored as its hash.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Mapping

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.config import Config, RedactionConfig
from spanwise.errors import ConfigError
from spanwise.core.otlp_metrics import MetricPoints
from spanwise.core.spans import ATTRIBUTE_MAP, ATTRIBUTE_ROWS_SCHEMA, SpanBatch
from spanwise.process.attribute_rows import with_attribute_rows
from spanwise.process.pii_detectors import detectors_named
from spanwise.process.redactor import HASH_PREFIX, Column, KeyRule, Redaction, Redactor

_NESTED_ATTRIBUTES = ("Events.Attributes", "Links.Attributes")
#: A map column as entry offsets (from 0), keys and values.
_MapParts = tuple[np.ndarray, pa.Array, pa.Array]
_PLAIN_STRINGS = ("SpanName", "StatusMessage")
#: Attribute types whose text no detector can match (int64 can: card and phone numbers).
_UNSCANNED_TYPES = pa.array(["float64", "bool"])


class RedactionProcessor:
    """Redacts PII everywhere in a batch; `stats` counts redactions per rule
    (`detector.<name>`, `key_rule.<name>`) and values checked in Python."""

    name = "redaction"

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self.stats: Counter[str] = Counter()

    def process(self, batch: SpanBatch) -> SpanBatch:
        if batch.num_spans == 0:
            return batch
        spans, rows = batch.spans, batch.attributes
        if _map_entries(spans.column("SpanAttributes")) != rows.num_rows:
            raise RuntimeError("span attribute rows and SpanAttributes disagree; refusing to pass unredacted values")
        resource = _map_parts(_combined(spans.column("ResourceAttributes")))
        nested = {name: _map_parts(_combined(spans.column(name)).flatten()) for name in _NESTED_ATTRIBUTES}
        numeric = pc.is_in(rows.column("type"), value_set=_UNSCANNED_TYPES).to_numpy(zero_copy_only=False)
        columns = [
            Column(rows.column("text"), rows.column("key"), unscanned=numeric),
            Column(resource[2], resource[1], repeats=True),
            *(Column(_combined(spans.column(name)), droppable=False, repeats=True) for name in _PLAIN_STRINGS),
            *(Column(parts[2], parts[1]) for parts in nested.values()),
        ]
        results, counts = self._redactor.redact(columns)
        self.stats.update(counts)
        if not any(result.touched for result in results):
            return batch
        rows_result, resource_result, *rest = results
        spans = _with_resource(spans, resource, resource_result)
        for name, result in zip(_PLAIN_STRINGS, rest):
            spans = _set(spans, name, result.values) if result.changed is not None else spans
        for (name, parts), result in zip(nested.items(), rest[len(_PLAIN_STRINGS) :]):
            spans = _with_nested(spans, name, parts, result)
        return _with_rows(SpanBatch(spans, rows), rows_result)


def _with_rows(batch: SpanBatch, result: Redaction) -> SpanBatch:
    """The flat rows redacted (a redacted value is a string: no number, no other type),
    then the span table's maps rebuilt from them."""
    if not result.touched:
        return batch
    rows = batch.attributes
    number = rows.column("number").combine_chunks()
    kind = rows.column("type").combine_chunks()
    if result.changed is not None:
        changed = pa.array(result.changed)
        number = pc.if_else(changed, pa.scalar(None, pa.float64()), number)
        kind = pc.if_else(changed, "string", kind)
    columns = [rows.column("row"), rows.column("key"), result.values, number, kind]
    edited = pa.table(columns, schema=ATTRIBUTE_ROWS_SCHEMA)
    if result.dropped is not None:
        edited = edited.filter(pa.array(~result.dropped))
    return with_attribute_rows(batch, edited)


def _with_resource(spans: pa.Table, parts: _MapParts, result: Redaction) -> pa.Table:
    """Resource attributes redacted; a redacted typed value loses its type entry."""
    if not result.touched:
        return spans
    offsets, keys, _ = parts
    spans = _set(spans, "ResourceAttributes", _rebuild_map(offsets, keys, result.values, result.dropped))
    affected = _either(result.changed, result.dropped)
    types = _combined(spans.column("ResourceAttributeTypes"))
    return _set(spans, "ResourceAttributeTypes", _without_types(types, offsets, keys, affected))


def _with_nested(spans: pa.Table, name: str, parts: _MapParts, result: Redaction) -> pa.Table:
    """Event or link attributes (a list of attribute maps per span) redacted."""
    if not result.touched:
        return spans
    offsets, keys, _ = parts
    maps = _rebuild_map(offsets, keys, result.values, result.dropped)
    lists = _combined(spans.column(name))
    list_offsets = lists.offsets.to_numpy() - lists.offsets[0].as_py()
    rebuilt = pa.ListArray.from_arrays(pa.array(list_offsets.astype(np.int32)), maps, type=pa.list_(ATTRIBUTE_MAP))
    return _set(spans, name, rebuilt)


def _combined(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column


def _map_entries(column: pa.ChunkedArray) -> int:
    return sum(int(chunk.offsets[-1].as_py() - chunk.offsets[0].as_py()) for chunk in column.chunks)


def _map_parts(maps: pa.MapArray) -> _MapParts:
    """Offsets (from 0), keys and values of a map array that may be a slice (`keys` and
    `items` of a sliced MapArray are not sliced)."""
    offsets = maps.offsets.to_numpy()
    start, end = int(offsets[0]), int(offsets[-1])
    return offsets - start, maps.keys.slice(start, end - start), maps.items.slice(start, end - start)


def _rebuild_map(offsets: np.ndarray, keys: pa.Array, values: pa.Array, dropped: np.ndarray | None) -> pa.MapArray:
    """A map array from entries, without the dropped ones."""
    if dropped is not None:
        kept_before = np.concatenate([[0], np.cumsum(~dropped)])
        offsets = kept_before[offsets]
        keep = pa.array(~dropped)
        keys, values = keys.filter(keep), values.filter(keep)
    return pa.MapArray.from_arrays(pa.array(offsets.astype(np.int32)), keys, values, type=ATTRIBUTE_MAP)


def _without_types(types: pa.MapArray, offsets: np.ndarray, keys: pa.Array, affected: np.ndarray) -> pa.MapArray:
    """The type maps without the entries of redacted or dropped attributes (matched by
    span and key), since a redacted value is a string whatever it was."""
    owners = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    type_offsets, type_keys, type_values = _map_parts(types)
    type_owners = np.repeat(np.arange(len(type_offsets) - 1), np.diff(type_offsets))
    hit = pa.array(affected)
    gone = _owner_keys(owners[affected], keys.filter(hit))
    stale = pc.is_in(_owner_keys(type_owners, type_keys), value_set=gone).to_numpy(zero_copy_only=False)
    return _rebuild_map(type_offsets, type_keys, type_values, stale if stale.any() else None)


def _owner_keys(owners: np.ndarray, keys: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(pc.cast(pa.array(owners), pa.string()), keys, "\x00")


def _either(first: np.ndarray | None, second: np.ndarray | None) -> np.ndarray:
    if first is None:
        assert second is not None
        return second
    return first if second is None else first | second


def _set(spans: pa.Table, name: str, column: pa.Array) -> pa.Table:
    index = spans.schema.get_field_index(name)
    return spans.set_column(index, spans.schema.field(index), pa.chunked_array([column]))


# ---------------------------------------------------------------------- from config


def redactor_from_config(config: RedactionConfig, environ: Mapping[str, str]) -> Redactor:
    """The Redactor `config` describes; the hash key comes from `hash_key`, else from the
    environment variable `hash_key_env` names. Problems are ConfigErrors (at startup)."""
    key = config.hash_key or (environ.get(config.hash_key_env, "") if config.hash_key_env else "")
    rules = [KeyRule(r.name or r.pattern, r.pattern, r.match, r.action) for r in config.key_rules]
    try:
        return Redactor(
            detectors_named(list(config.detectors)),
            dict(config.actions),
            rules,
            list(config.allow_keys),
            key.encode() or None,
        )
    except ValueError as exc:
        raise ConfigError(f"redaction: {exc}") from exc


def configured_redactor(config: Config, environ: Mapping[str, str] | None = None) -> Redactor | None:
    """The Redactor of `config`, None when redaction is switched off. The hash key is read
    from the environment here, once per signal's processor, at startup."""
    if not config.redaction.enabled:
        return None
    return redactor_from_config(config.redaction, os.environ if environ is None else environ)


def redaction_processor(config: Config, environ: Mapping[str, str] | None = None) -> RedactionProcessor | None:
    """The traces chain's builder: a processor unless redaction is switched off."""
    redactor = configured_redactor(config, environ)
    return RedactionProcessor(redactor) if redactor else None


def log_redaction_processor(config: Config, environ: Mapping[str, str] | None = None) -> LogRedactionProcessor | None:
    """The logs chain's builder: a processor unless redaction is switched off."""
    redactor = configured_redactor(config, environ)
    return LogRedactionProcessor(redactor) if redactor else None


def metric_redaction_processor(config: Config, environ: Mapping[str, str] | None = None) -> MetricRedactionProcessor | None:
    """The metrics chain's builder: a processor unless redaction is switched off."""
    redactor = configured_redactor(config, environ)
    return MetricRedactionProcessor(redactor) if redactor else None


# ------------------------------------------------------------- logs and metric points

_LOG_MAPS = ("LogAttributes", "ResourceAttributes")
_POINT_MAPS = ("Attributes", "ResourceAttributes")


class LogRedactionProcessor:
    """The span redactor's rules applied to log records: the body (masked, never
    dropped), log attributes and resource attributes. Logs are where PII leaks most."""

    name = "redaction"

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self.stats: Counter[str] = Counter()

    def process(self, batch: pa.Table) -> pa.Table:
        if batch.num_rows == 0:
            return batch
        (redacted,) = _redact_tables(self._redactor, self.stats, [batch], _LOG_MAPS, ("Body",))
        return redacted


class MetricRedactionProcessor:
    """The span redactor's rules applied to metric points: point attributes and resource
    attributes, of every kind in one pass (exemplars are not stored). Metric names,
    descriptions and units name the instrument, not data, and are left alone. A masked
    attribute value merges the series it told apart; a hashed one keeps them apart."""

    name = "redaction"

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor
        self.stats: Counter[str] = Counter()

    def process(self, batch: MetricPoints) -> MetricPoints:
        kinds = [kind for kind, table in batch.items() if table.num_rows]
        if not kinds:
            return batch
        tables = _redact_tables(self._redactor, self.stats, [batch[kind] for kind in kinds], _POINT_MAPS, ())
        return {**batch, **dict(zip(kinds, tables))}


def _redact_tables(redactor: Redactor, stats: Counter[str], tables: list[pa.Table], maps: tuple[str, ...],
                   strings: tuple[str, ...]) -> list[pa.Table]:
    """Tables whose string columns `strings` (masked in place, never dropped) and
    attribute map columns `maps` are redacted, all in one `redact` call. A column named
    ResourceAttributes repeats its values (copied to every record of a resource)."""
    columns: list[Column] = []
    parts: list[list[_MapParts]] = []
    for table in tables:
        parts.append([_map_parts(_combined(table.column(name))) for name in maps])
        columns += [Column(_combined(table.column(name)), droppable=False) for name in strings]
        columns += [Column(part[2], part[1], repeats=name == "ResourceAttributes") for name, part in zip(maps, parts[-1])]
    results, counts = redactor.redact(columns)
    stats.update(counts)
    redacted, width = [], len(strings) + len(maps)
    for index, (table, table_parts) in enumerate(zip(tables, parts)):
        own = results[index * width : (index + 1) * width]
        for name, result in zip(strings, own):
            table = _set(table, name, result.values) if result.touched else table
        for name, part, result in zip(maps, table_parts, own[len(strings) :]):
            if result.touched:
                table = _set(table, name, _rebuild_map(part[0], part[1], result.values, result.dropped))
        redacted.append(table)
    return redacted


class HashedSearch:
    """Rewrites a searched attribute value into what redaction stored for it, when that
    is a keyed hash: `user.email=alice@example.com` then finds the spans that hold
    `hmac-sha256:...`. Masked or dropped values stay as given (a mask would match every
    redacted value, not this one)."""

    def __init__(self, redactor: Redactor) -> None:
        self._redactor = redactor

    @classmethod
    def from_config(cls, config: Config, environ: Mapping[str, str] | None = None) -> HashedSearch | None:
        """None unless the pipeline redacts with a hash action."""
        if "redaction" not in config.pipeline.processors:
            return None
        redactor = configured_redactor(config, environ)
        return cls(redactor) if redactor and redactor.hashes else None

    def __call__(self, key: str, value: str) -> str:
        (result,), _ = self._redactor.redact([Column(pa.array([value], pa.string()), pa.array([key], pa.string()))])
        stored = result.values[0].as_py()
        if result.dropped is not None or not isinstance(stored, str) or HASH_PREFIX not in stored:
            return value
        return stored
