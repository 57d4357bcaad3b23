"""Enrichment: add, copy, rename or derive span attributes by rule, column-wise.

Runs first in the default chain, so a rule can give users' own names the canonical
`ml.*` ones (`rename: {source: mdl_ver, key: ml.model.version}`) before the AI fields
are derived, and so derived values are redacted like any other.

Rules apply in order; each is one action:
- `set`: `key` = `value` on every span (only where `key` is absent unless `overwrite`);
- `copy`: `key` = the value of `source`, where `source` is present;
- `rename`: as copy, then `source` is removed;
- `derive`: `key` = the value of `source` rewritten by the RE2 `pattern` into `replacement`
  (`\\1` for groups), where `source` is present and matches.

A `source` is looked up among the span's attributes first, then among its resource's
(`service.name`, `deployment.environment`, `host.name`, ...): the span attribute wins when
both exist, because it is the more specific of the two. The target `key` is always a span
attribute. A `rename` from a resource attribute acts as a copy: resource attributes are
shared by every span of the resource and are never removed by a rule.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.config import EnrichmentRuleConfig
from spanwise.core.spans import SpanBatch
from spanwise.process.attribute_rows import new_rows, with_attribute_rows

#: A rule as configured (validated by the config loader).
EnrichmentRule = EnrichmentRuleConfig


class EnrichmentProcessor:
    """Applies enrichment rules to each batch's span attributes."""

    name = "enrichment"

    def __init__(self, rules: list[EnrichmentRule]) -> None:
        self._rules = rules
        self.stats: Counter[str] = Counter()

    def process(self, batch: SpanBatch) -> SpanBatch:
        if batch.num_spans == 0:
            return batch
        rows = batch.attributes
        for index, rule in enumerate(self._rules):
            rows, changed = _apply(rule, rows, batch.spans)
            self.stats[f"rule_{index}_{rule.action}_{rule.key}"] += changed
        return with_attribute_rows(batch, rows)


def _apply(rule: EnrichmentRule, rows: pa.Table, spans: pa.Table) -> tuple[pa.Table, int]:
    """New rows after one rule, and how many spans it changed."""
    span_count = spans.num_rows
    keys = rows.column("key")
    has_target = np.zeros(span_count, dtype=bool)
    has_target[rows.filter(pc.equal(keys, rule.key)).column("row").to_numpy()] = True
    if rule.action == "set":
        targets = np.flatnonzero(np.ones(span_count, dtype=bool) if rule.overwrite else ~has_target)
        added = new_rows(targets, rule.key, pa.array([rule.value] * len(targets), pa.string()))
    else:
        source = _source_rows(rows.filter(pc.equal(keys, rule.source)), spans, rule.source)
        if not rule.overwrite:
            source = source.filter(pa.array(~has_target[source.column("row").to_numpy()]))
        texts = source.column("text").combine_chunks()
        if rule.action == "derive":
            matched = pc.match_substring_regex(texts, rule.pattern)
            source, texts = source.filter(matched), pc.replace_substring_regex(texts.filter(matched), rule.pattern, rule.replacement)
        kind = "string" if rule.action == "derive" else None
        added = _retyped(source, rule.key, texts, kind)
        targets = source.column("row").to_numpy()
    # Targeted spans lose their old value of `key` (only present when overwriting) and,
    # for a rename, their `source` attribute.
    targeted = pa.array(np.isin(rows.column("row").to_numpy(), targets))
    replaced = pc.equal(keys, rule.key)
    if rule.action == "rename":
        replaced = pc.or_(replaced, pc.equal(keys, rule.source))
    keep = pc.invert(pc.and_(targeted, replaced))
    return pa.concat_tables([rows.filter(keep), added]), len(targets)


def _source_rows(span_source: pa.Table, spans: pa.Table, source: str) -> pa.Table:
    """Rows holding `source` per span: the span attribute where there is one, else the
    resource attribute of the same name (typed from `ResourceAttributeTypes`)."""
    values = pc.map_lookup(spans.column("ResourceAttributes"), pa.scalar(source), "first").combine_chunks()
    present = pc.is_valid(values).to_numpy(zero_copy_only=False).copy()
    present[span_source.column("row").to_numpy()] = False
    rows = np.flatnonzero(present)
    if len(rows) == 0:
        return span_source
    texts = values.filter(pa.array(present))
    types = pc.map_lookup(spans.column("ResourceAttributeTypes"), pa.scalar(source), "first").combine_chunks()
    kinds = pc.fill_null(types.filter(pa.array(present)), "string")
    numeric = pc.is_in(kinds, pa.array(["int64", "float64"]))
    numbers = pc.if_else(numeric, pc.cast(pc.if_else(numeric, texts, "0"), pa.float64()), pa.scalar(None, pa.float64()))
    resource = pa.table(
        [pa.array(rows, pa.int64()), pa.array([source] * len(rows), pa.string()), texts, numbers, kinds],
        schema=span_source.schema,
    )
    return pa.concat_tables([span_source, resource])


def _retyped(source: pa.Table, key: str, texts: pa.Array, kind: str | None) -> pa.Table:
    """Copied rows under a new key, keeping number and type unless `kind` overrides."""
    rows = new_rows(source.column("row").to_numpy(), key, texts, kind or "string")
    if kind is None:
        rows = rows.set_column(3, "number", source.column("number")).set_column(4, "type", source.column("type"))
    return rows
