"""Fill the canonical AI columns from whatever attribute names users already send.

Works on the flat attribute rows the decoder produces: keys are dictionary-encoded once,
so each alias or prefix costs one numpy comparison over small integer codes. Only the
feature-dict strings of the seed example (`str(features)`) are parsed one by one, safely
(JSON, then `ast.literal_eval`; never `eval`); a value that does not parse stays a plain
attribute and is counted in `stats["unparseable_feature_dicts"]`.
"""

from __future__ import annotations

import ast
import logging
from collections import Counter
from typing import Mapping

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.core import ml_attributes as ml
from spanwise.core.spans import ATTRIBUTE_MAP, NUMBER_MAP, SPAN_SCHEMA, SpanBatch

log = logging.getLogger(__name__)

_NUMERIC_TEXT = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_MAX_ANCESTOR_DEPTH = 32
#: Span kinds of a call to a model (server side or client side).
_CALL_KINDS = ["Server", "Client"]


class MlFieldsProcessor:
    """Derives model name/version, prediction, confidence, features, scores and
    attributions columns; a span is a prediction iff it carries a prediction value,
    label, score or confidence (DESIGN.md), or failed (status Error) naming its model and
    prediction id."""

    name = "ml_fields"

    def __init__(self, user_mappings: Mapping[str, list[str]] | None = None) -> None:
        self._aliases = ml.aliases_with(user_mappings or {})
        self.stats: Counter[str] = Counter()

    def process(self, batch: SpanBatch) -> SpanBatch:
        """Return the batch with every column of `SPAN_SCHEMA` filled."""
        spans, attributes = batch.spans, batch.attributes
        keys = _AttributeKeys(attributes, spans.num_rows)
        text = attributes.column("text").combine_chunks()
        number = attributes.column("number").combine_chunks()
        value_text, value_number = keys.pick(self._aliases[ml.PREDICTION_VALUE], text, number)
        label = pc.fill_null(keys.pick(self._aliases[ml.PREDICTION_LABEL], text, number)[0], "")
        value = _as_number(value_text, value_number)
        label = pc.if_else(pc.and_(pc.equal(label, ""), pc.is_null(value)), pc.fill_null(value_text, ""), label)
        confidence = _as_number(*keys.pick(self._aliases[ml.CONFIDENCE], text, number))
        features, string_features = self._features(keys, text, number)
        scores = keys.prefixed_numbers(ml.PROBA_PREFIX, number, extra={self._aliases[ml.SCORE]: "score"})
        is_prediction = pc.or_(
            pc.or_(pc.is_valid(value), pc.not_equal(label, "")),
            pc.or_(pc.is_valid(confidence), pa.array(np.diff(scores.offsets.to_numpy()) > 0)),
        )
        own_name = keys.pick(self._aliases[ml.MODEL_NAME], text, number)[0]
        own_version = keys.pick(self._aliases[ml.MODEL_VERSION], text, number)[0]
        given_id = keys.pick(self._aliases[ml.PREDICTION_ID], text, number)[0]
        is_prediction = pc.or_(is_prediction, _failed_call(spans, own_name, own_version, given_id, is_prediction))
        name, version = self._model_identity(spans, own_name, own_version, is_prediction)
        prediction_id = pc.fill_null(given_id, "")
        own_id = pc.binary_join_element_wise(spans.column("TraceId"), spans.column("SpanId"), ":")
        missing_id = pc.and_(is_prediction, pc.equal(prediction_id, ""))
        columns = {
            "IsPrediction": is_prediction,
            "ModelName": name,
            "ModelVersion": version,
            "PredictionId": pc.if_else(missing_id, own_id, prediction_id),
            "PredictionValue": value,
            "PredictionLabel": label,
            "Confidence": confidence,
            "Scores": scores,
            "Features": features,
            "StringFeatures": string_features,
            "Attributions": keys.prefixed_numbers(ml.EXPLANATION_PREFIX, number),
            "GroundTruth": pc.fill_null(keys.pick(self._aliases[ml.GROUND_TRUTH], text, number)[0], ""),
            "SampleWeight": pa.array(np.ones(spans.num_rows)),
        }
        for column, array in columns.items():
            spans = spans.append_column(SPAN_SCHEMA.field(column), _chunked(array))
        return SpanBatch(spans, attributes)

    def _features(self, keys: "_AttributeKeys", text: pa.Array, number: pa.Array) -> tuple[pa.Array, pa.Array]:
        """Numeric and string feature maps from `ml.feature.*` and feature-dict strings."""
        rows, names, numbers, texts = keys.prefixed(ml.FEATURE_PREFIX, text, number)
        parsed = self._parse_feature_dicts(keys, text)
        rows = np.concatenate([rows, parsed[0]])
        names = names + parsed[1]
        numbers = pa.concat_arrays([numbers, pa.array(parsed[2], pa.float64())])
        texts = pa.concat_arrays([texts, pa.array(parsed[3], pa.string())])
        order = np.argsort(rows, kind="stable")
        rows, names_arr = rows[order], pa.array(names, pa.string()).take(order)
        numbers, texts = numbers.take(order), texts.take(order)
        numeric = pc.is_valid(numbers).to_numpy(zero_copy_only=False)
        return (
            _map_array(keys.span_count, rows[numeric], names_arr.filter(numeric), numbers.filter(numeric), NUMBER_MAP),
            _map_array(keys.span_count, rows[~numeric], names_arr.filter(~numeric), texts.filter(~numeric), ATTRIBUTE_MAP),
        )

    def _parse_feature_dicts(
        self, keys: "_AttributeKeys", text: pa.Array
    ) -> tuple[np.ndarray, list[str], list[float | None], list[str | None]]:
        """Parse feature dicts given as one string attribute (rare: one by one)."""
        rows: list[int] = []
        names: list[str] = []
        numbers: list[float | None] = []
        texts: list[str | None] = []
        for position in keys.positions(ml.FEATURE_DICT_KEYS):
            parsed = _parse_dict(text[position].as_py())
            if parsed is None:
                self.stats["unparseable_feature_dicts"] += 1
                continue
            for name, item in parsed.items():
                if isinstance(item, bool) or not isinstance(item, (int, float, str)):
                    item = str(item)
                rows.append(int(keys.rows[position]))
                names.append(str(name))
                numbers.append(float(item) if not isinstance(item, str) else None)
                texts.append(item if isinstance(item, str) else None)
        return np.asarray(rows, dtype=np.int64), names, numbers, texts

    def _model_identity(
        self, spans: pa.Table, own_name: pa.Array, own_version: pa.Array, is_prediction: pa.Array,
    ) -> tuple[pa.Array, pa.Array]:
        """Model name and version: own attribute, else nearest ancestor's in the batch,
        else (name only) the service name."""
        name = pc.fill_null(own_name, "")
        version = pc.fill_null(own_version, "")
        needs = pc.and_(is_prediction, pc.or_(pc.equal(name, ""), pc.equal(version, "")))
        if pc.any(needs).as_py():
            parent = _parent_index(spans)
            name = pc.if_else(is_prediction, _inherit(name, parent), name)
            version = pc.if_else(is_prediction, _inherit(version, parent), version)
        name = pc.if_else(pc.and_(is_prediction, pc.equal(name, "")), spans.column("ServiceName").combine_chunks(), name)
        return name, version


def _failed_call(
    spans: pa.Table, own_name: pa.Array, own_version: pa.Array, given_id: pa.Array, is_prediction: pa.Array
) -> pa.Array:
    """An errored span naming its model and either a prediction id or (on a SERVER or
    CLIENT span: a call, not e.g. a training step) the model version: a call of that model
    that produced no output (e.g. a server span that failed before its model predicted,
    marked with the model it would have called). Counted so that
    model error rates include calls that failed. A span naming only its model stays a
    plain error span (which version failed is unknown), and so does one whose errored
    prediction child in the batch already counts the failure (no double count)."""
    errored = pc.fill_null(pc.equal(spans.column("StatusCode").combine_chunks(), "Error"), False)
    call = pc.is_in(spans.column("SpanKind").combine_chunks(), value_set=pa.array(_CALL_KINDS))
    versioned_call = pc.and_(pc.is_valid(own_version), call)
    identified = pc.and_(pc.is_valid(own_name), pc.or_(pc.is_valid(given_id), versioned_call))
    failed = pc.fill_null(pc.and_(errored, identified), False)
    if not pc.any(failed).as_py():
        return failed
    counted = pc.or_(failed, pc.and_(errored, pc.fill_null(is_prediction, False)))
    parent = _parent_index(spans).to_numpy(zero_copy_only=False)
    has_failed_child = np.zeros(spans.num_rows, dtype=bool)
    child_rows = np.flatnonzero(counted.to_numpy(zero_copy_only=False) & ~np.isnan(parent.astype(float)))
    has_failed_child[parent[child_rows].astype(np.int64)] = True
    return pc.and_(failed, pa.array(~has_failed_child))


class _AttributeKeys:
    """The batch's attribute keys, dictionary-encoded for cheap lookups by name."""

    def __init__(self, attributes: pa.Table, span_count: int) -> None:
        encoded = attributes.column("key").combine_chunks().dictionary_encode()
        self.span_count = span_count
        self.rows = attributes.column("row").to_numpy()
        self.codes = encoded.indices.to_numpy(zero_copy_only=False)
        self.names: list[str] = encoded.dictionary.to_pylist()
        self._code_of = {name: code for code, name in enumerate(self.names)}

    def positions(self, keys: tuple[str, ...]) -> np.ndarray:
        """Attribute-row positions whose key is one of `keys`."""
        wanted = [self._code_of[k] for k in keys if k in self._code_of]
        return np.flatnonzero(np.isin(self.codes, wanted)) if wanted else np.zeros(0, np.int64)

    def pick(self, keys: tuple[str, ...], text: pa.Array, number: pa.Array) -> tuple[pa.Array, pa.Array]:
        """Per span, the text and number of the first key of `keys` it carries."""
        chosen = np.full(self.span_count, -1, dtype=np.int64)
        for key in reversed(keys):
            positions = self.positions((key,))
            chosen[self.rows[positions]] = positions
        indices = pa.array(chosen, mask=chosen < 0)
        return text.take(indices), number.take(indices)

    def prefixed(
        self, prefix: str, text: pa.Array, number: pa.Array
    ) -> tuple[np.ndarray, list[str], pa.Array, pa.Array]:
        """Rows, suffixes, numbers and texts of attributes whose key starts with `prefix`."""
        keys = tuple(k for k in self.names if k.startswith(prefix) and len(k) > len(prefix))
        positions = self.positions(keys)
        suffixes = [self.names[c][len(prefix) :] for c in self.codes[positions]]
        return self.rows[positions], suffixes, number.take(positions), text.take(positions)

    def prefixed_numbers(
        self, prefix: str, number: pa.Array, extra: Mapping[tuple[str, ...], str] | None = None
    ) -> pa.Array:
        """A name -> number map per span from prefixed keys (and `extra` keys renamed)."""
        rows, names, numbers, _ = self.prefixed(prefix, number, number)
        for keys, renamed in (extra or {}).items():
            positions = self.positions(keys)
            rows = np.concatenate([rows, self.rows[positions]])
            names = names + [renamed] * len(positions)
            numbers = pa.concat_arrays([numbers, number.take(positions)])
        order = np.argsort(rows, kind="stable")
        names_arr = pa.array(names, pa.string()).take(order)
        numbers, rows = numbers.take(order), rows[order]
        valid = pc.is_valid(numbers).to_numpy(zero_copy_only=False)
        return _map_array(self.span_count, rows[valid], names_arr.filter(valid), numbers.filter(valid), NUMBER_MAP)


def _map_array(span_count: int, rows: np.ndarray, keys: pa.Array, values: pa.Array, map_type: pa.MapType) -> pa.Array:
    """A map per span from (row, key, value) triples sorted by row."""
    offsets = np.searchsorted(rows, np.arange(span_count + 1)).astype(np.int32)
    return pa.MapArray.from_arrays(pa.array(offsets), keys, values.cast(map_type.item_type), type=map_type)


def _as_number(text: pa.Array, number: pa.Array) -> pa.Array:
    """The numeric value, or the text's value when it is a number written as a string."""
    numeric_text = pc.fill_null(pc.match_substring_regex(text, _NUMERIC_TEXT), False)
    parsed = pc.cast(pc.if_else(numeric_text, text, None), pa.float64())
    return pc.coalesce(number, parsed)


def _parse_dict(raw: str | None) -> dict[object, object] | None:
    """A dict from JSON or a Python literal (safely), else None."""
    if not raw:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return None
    return value if isinstance(value, dict) else None


def _parent_index(spans: pa.Table) -> pa.Array:
    """Row of each span's parent within the batch, null when not in it."""
    trace = spans.column("TraceId").combine_chunks()
    own = pc.binary_join_element_wise(trace, spans.column("SpanId").combine_chunks(), ":")
    parent = pc.binary_join_element_wise(trace, spans.column("ParentSpanId").combine_chunks(), ":")
    return pc.index_in(parent, value_set=own)


def _inherit(values: pa.Array, parent: pa.Array) -> pa.Array:
    """Fill empty values from the nearest ancestor that has one."""
    ancestor = parent
    for _ in range(_MAX_ANCESTOR_DEPTH):
        missing = pc.and_(pc.equal(values, ""), pc.is_valid(ancestor))
        if not pc.any(missing).as_py():
            break
        values = pc.if_else(missing, pc.fill_null(values.take(ancestor), ""), values)
        ancestor = parent.take(ancestor)
    return values


def _chunked(array: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray:
    return array if isinstance(array, pa.ChunkedArray) else pa.chunked_array([array])
