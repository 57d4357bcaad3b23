"""Redacting one column of strings (optionally with the attribute key of each), column-wise.

The cost model (DESIGN.md, "The hot path"): every value goes through one combined RE2
pass (`match_substring_regex` over the union of all detector patterns), and keys through
one dictionary encoding, whose few distinct keys are judged in Python once and cached.
Only the values the prefilter flags — real PII and rare lookalikes — are looked at again,
each distinct value once: each detector's RE2 match and replace runs over those alone, and
Python only sees the values of detectors with a check (card numbers, IBANs) or a `hash`
action. `stats["python_values"]` counts those, so it is visible that they stay rare.
Resource attributes are copied to every span of their resource, so for them (`repeats`)
even the prefilter runs over distinct values only.

Measured on this 2-core machine (20k-span batches): 0.4 µs per span on the benchmark's
AI traffic (nothing to redact); 2.7 µs per span when every span carries an e-mail address
and an IP address and its resource a host IP (5.2 µs with e-mail hashing); decoding the
same spans costs 2.1 µs.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.process.pii_detectors import Detector

MASK, DROP, HASH = "mask", "drop", "hash"
HASH_PREFIX = "hmac-sha256:"
#: Key verdicts: never redact; scan with the detectors; (>= 0) the index of a key rule.
ALLOW, SCAN = -2, -1
_MAX_CACHED_KEYS = 100_000  # distinct keys (or hashed values) remembered


def hash_value(key: bytes, value: str) -> str:
    """The keyed hash that replaces a value: equal values give equal hashes, so they
    still join across spans, but without the key nobody can test a guess. HMAC-SHA256,
    its first 128 bits in hex."""
    return HASH_PREFIX + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]


def mask_for(name: str) -> str:
    return f"[REDACTED:{name}]"


@dataclass(frozen=True)
class KeyRule:
    """Redact every value of the attributes whose key matches (an exact key, a glob, or a
    regex found anywhere in the key)."""

    name: str
    pattern: str
    match: str
    action: str

    def matches(self, key: str) -> bool:
        if self.match == "glob":
            return fnmatch.fnmatchcase(key, self.pattern)
        if self.match == "regex":
            return re.search(self.pattern, key) is not None
        return key == self.pattern


@dataclass(frozen=True)
class Redaction:
    """New values for one column, which entries changed or are to be dropped (None when
    none), and how many redactions each rule made."""

    values: pa.Array
    changed: np.ndarray | None = None
    dropped: np.ndarray | None = None
    counts: Counter[str] = field(default_factory=Counter)

    @property
    def touched(self) -> bool:
        return self.changed is not None or self.dropped is not None


@dataclass
class _Outcome:
    """What one `redact` call has done so far, entry by entry."""

    values: pa.Array
    changed: np.ndarray
    dropped: np.ndarray
    counts: Counter[str] = field(default_factory=Counter)

    def result(self) -> Redaction:
        changed = self.changed if self.changed.any() else None
        dropped = self.dropped if self.dropped.any() else None
        return Redaction(self.values, changed, dropped, self.counts)


class Redactor:
    """Applies allow-list, key rules and value detectors to string columns."""

    def __init__(
        self,
        detectors: list[Detector],
        actions: dict[str, str] | None = None,
        key_rules: list[KeyRule] | None = None,
        allow_keys: list[str] | None = None,
        hash_key: bytes | None = None,
    ) -> None:
        self._detectors = detectors
        self._actions = {d.name: (actions or {}).get(d.name, MASK) for d in detectors}
        self._rules = key_rules or []
        self._allow = allow_keys or []
        self._uses_hash = HASH in self._actions.values() or any(r.action == HASH for r in self._rules)
        if self._uses_hash and not hash_key:
            raise ValueError("a hash action needs a hash key (redaction.hash_key or redaction.hash_key_env)")
        self._hash_key = hash_key or b""
        self._prefilter = "|".join(f"(?:{d.plain_pattern})" for d in detectors)
        self._verdicts: dict[str, int] = {}
        self._hashes: dict[str, str] = {}

    @property
    def hashes(self) -> bool:
        """Whether some rule replaces values with keyed hashes."""
        return self._uses_hash

    def redact(
        self, values: pa.Array, keys: pa.Array | None = None, droppable: bool = True, repeats: bool = False
    ) -> Redaction:
        """Redact `values` (strings; `keys[i]` is the attribute key of `values[i]`).
        Where an entry cannot be dropped (`droppable=False`: span names), `drop` masks.
        `repeats` says most values occur many times (resource attributes, copied to
        every span): the prefilter then runs over distinct values only."""
        values = _array(values)
        size = len(values)
        outcome = _Outcome(values, np.zeros(size, dtype=bool), np.zeros(size, dtype=bool))
        scan: np.ndarray | None = None
        if keys is not None and (self._rules or self._allow):
            verdicts = self._key_verdicts(_array(keys))
            scan = verdicts == SCAN
            self._apply_key_rules(outcome, verdicts, droppable)
        if self._detectors and size:
            positions = self._candidates(outcome.values, scan, repeats)
            if positions.size:
                self._apply_detectors(outcome, positions, droppable)
        return outcome.result()

    # ------------------------------------------------------------------ key rules

    def _key_verdicts(self, keys: pa.Array) -> np.ndarray:
        """Per entry: ALLOW, SCAN or the index of the first matching key rule."""
        encoded = keys.dictionary_encode()
        names = encoded.dictionary.to_pylist()
        verdicts = np.array([self._verdict(name) for name in names] or [SCAN], dtype=np.int64)
        codes = encoded.indices.to_numpy(zero_copy_only=False)
        return verdicts[codes]

    def _verdict(self, key: str) -> int:
        verdict = self._verdicts.get(key)
        if verdict is None:
            verdict = SCAN
            if any(fnmatch.fnmatchcase(key, pattern) for pattern in self._allow):
                verdict = ALLOW
            else:
                verdict = next((i for i, rule in enumerate(self._rules) if rule.matches(key)), SCAN)
            if len(self._verdicts) >= _MAX_CACHED_KEYS:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def _apply_key_rules(self, outcome: _Outcome, verdicts: np.ndarray, droppable: bool) -> None:
        """Whole values of attributes a key rule names: masked, dropped or hashed."""
        for index, rule in enumerate(self._rules):
            positions = np.flatnonzero(verdicts == index)
            if not positions.size:
                continue
            outcome.counts[f"key_rule.{rule.name}"] += len(positions)
            if rule.action == DROP and droppable:
                outcome.dropped[positions] = True
                continue
            if rule.action == HASH:
                replacements = self._hash_all(outcome.values.take(pa.array(positions)))
            else:
                replacements = pa.array([mask_for(rule.name)] * len(positions), pa.string())
            outcome.values = _scatter(outcome.values, positions, replacements)
            outcome.changed[positions] = True

    def _hash_all(self, values: pa.Array) -> pa.Array:
        """Keyed hashes of whole values (distinct values hashed once)."""
        encoded = values.dictionary_encode()
        hashed = pa.array([self._hash(v) for v in encoded.dictionary.to_pylist()], pa.string())
        return hashed.take(encoded.indices)

    def _hash(self, value: str) -> str:
        """`hash_value` with the configured key, remembered: the same users, hosts and
        tokens come back batch after batch."""
        hashed = self._hashes.get(value)
        if hashed is None:
            if len(self._hashes) >= _MAX_CACHED_KEYS:
                self._hashes.clear()
            hashed = self._hashes[value] = hash_value(self._hash_key, value)
        return hashed

    # ------------------------------------------------------------------ detectors

    def _candidates(self, values: pa.Array, scan: np.ndarray | None, repeats: bool) -> np.ndarray:
        """Positions the combined prefilter flags (among those to scan)."""
        if repeats:
            encoded = values.dictionary_encode()
            distinct = pc.match_substring_regex(encoded.dictionary, self._prefilter).to_numpy(zero_copy_only=False)
            flagged = distinct[encoded.indices.to_numpy(zero_copy_only=False)]
        else:
            flagged = pc.fill_null(pc.match_substring_regex(values, self._prefilter), False).to_numpy(zero_copy_only=False)
        if scan is not None:
            flagged = flagged & scan
        return np.flatnonzero(flagged)

    def _apply_detectors(self, outcome: _Outcome, positions: np.ndarray, droppable: bool) -> None:
        """Each detector over the distinct flagged values; results spread back to every
        entry holding them (counts weighted by how many do)."""
        encoded = outcome.values.take(pa.array(positions)).dictionary_encode()
        original, codes = encoded.dictionary, encoded.indices.to_numpy(zero_copy_only=False)
        weight = np.bincount(codes, minlength=len(original))
        distinct, drop = original, np.zeros(len(original), dtype=bool)
        for detector in self._detectors:
            distinct, found = self._detect(detector, distinct, drop, droppable, outcome.counts)
            if found is not None and (total := int(found @ weight)):
                outcome.counts[f"detector.{detector.name}"] += total
        edited = pc.fill_null(pc.not_equal(distinct, original), False).to_numpy(zero_copy_only=False)[codes]
        outcome.changed[positions[edited]] = True
        outcome.dropped[positions[drop[codes]]] = True
        if edited.any():
            outcome.values = _scatter(outcome.values, positions[edited], distinct.take(pa.array(codes[edited])))

    def _detect(
        self, detector: Detector, distinct: pa.Array, drop: np.ndarray, droppable: bool, counts: Counter[str]
    ) -> tuple[pa.Array, np.ndarray | None]:
        """One detector over the flagged values: RE2 replace where a regex decides alone,
        Python for checked detectors and hashing. Returns the values and the number of
        redactions in each."""
        hit = pc.fill_null(pc.match_substring_regex(distinct, detector.pattern), False).to_numpy(zero_copy_only=False)
        hit &= ~drop
        if not hit.any():
            return distinct, None
        action = self._actions[detector.name]
        if action == DROP and not droppable:
            action = MASK
        positions = np.flatnonzero(hit)
        found = np.zeros(len(distinct), dtype=np.int64)
        if detector.check is not None or action == HASH:
            texts = distinct.take(pa.array(positions)).to_pylist()
            counts["python_values"] += len(texts)
            results = [self.substitute(detector, action, text) for text in texts]
            found[positions] = [n for _, n in results]
            replaced = pa.array([text for text, _ in results], pa.string())
        else:
            matched = distinct.take(pa.array(positions))
            found[positions] = pc.count_substring_regex(matched, detector.pattern).to_numpy(zero_copy_only=False)
            replaced = pc.replace_substring_regex(matched, detector.pattern, mask_for(detector.name))
        if action == DROP:
            drop |= found > 0
            return distinct, found
        return _scatter(distinct, positions, replaced), found

    def substitute(self, detector: Detector, action: str, text: str) -> tuple[str, int]:
        """`text` with every (checked) match of `detector` masked or hashed, and how many."""
        found = 0

        def replace(match: re.Match[str]) -> str:
            nonlocal found
            group = "v" if "v" in match.re.groupindex else 0
            start, end = match.start(group), match.end(group)
            if detector.check is not None:
                checked_end = detector.check(text, match)
                if checked_end is None:
                    return match.group(0)
                end = checked_end
            found += 1
            value = text[start:end]
            new = self._hash(value) if action == HASH else mask_for(detector.name)
            return text[match.start(0) : start] + new + text[end : match.end(0)]

        return detector.compiled.sub(replace, text), found


def _array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _scatter(base: pa.Array, positions: np.ndarray, replacements: pa.Array) -> pa.Array:
    """`base` with `base[positions[i]] = replacements[i]` (positions ascending)."""
    mask = np.zeros(len(base), dtype=bool)
    mask[positions] = True
    return pc.replace_with_mask(base, pa.array(mask), replacements.cast(base.type))
