"""Head sampling: consistent probabilistic by trace id, per-service rates, adaptive budget.

Sampling decides only which full spans reach `otel_traces`: a dropped span keeps
flowing to the ingest table with `SampleWeight = 0` (so `predictions` and the span
metrics still see it), and a kept span carries `SampleWeight = 1 / rate` (its adjusted
count) so counts estimated from stored spans stay unbiased. With tail sampling on, kept
spans carry `-1 / rate` instead: they wait for the trace's tail decision
(`spanwise.process.tail_sampling`).

The decision uses the trace id's randomness as W3C Trace Context level 2 defines it: the
rightmost 7 bytes (56 bits) are random, so `keep iff R < rate * 2^56` gives every replica
and every service the same answer for the same trace and rate. Vectorized over the batch.

The adaptive budget is per project (the request context's, set at the ingest edge), so
one noisy project lowers only its own rates, never its neighbours'. A project's scale
factor applies to its whole batch, so the spans of a trace in one batch share a decision.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from spanwise.core.spans import SPAN_SCHEMA, SpanBatch
from spanwise.request_context import current_project

_RANDOM_HEX_DIGITS = 14  # 56 bits
_NIBBLE = np.full(256, 0, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"0123456789", np.uint8)] = np.arange(10, dtype=np.uint64)
_NIBBLE[np.frombuffer(b"abcdef", np.uint8)] = np.arange(10, 16, dtype=np.uint64)
_WEIGHTS = (np.uint64(16) ** np.arange(_RANDOM_HEX_DIGITS - 1, -1, -1, dtype=np.uint64)).astype(np.uint64)
#: Budgets kept at most (the least recently seen project's is forgotten first): above the
#: server's project cap (`serve.auth.MAX_PROJECTS`), so it only bounds memory.
MAX_BUDGETS = 1_024
#: A project silent for this many budget windows is forgotten; when it sends again it
#: starts as a new project does (at the configured rates until a window is measured).
IDLE_WINDOWS = 3


@dataclass(frozen=True)
class HeadSamplingSettings:
    """Rates in [0, 1]; `budget_spans_per_s` > 0 lowers a project's rates when its traffic
    exceeds that many kept spans per second (each project has the whole budget)."""

    default_rate: float = 1.0
    service_rates: dict[str, float] = field(default_factory=dict)
    budget_spans_per_s: float = 0.0
    budget_window_s: float = 10.0
    defer_to_tail: bool = False  # kept spans wait for a tail decision (negative weight)


def trace_randomness(trace_ids: pa.Array) -> np.ndarray:
    """The 56 random bits of each 32-hex-digit trace id, as uint64."""
    ids = trace_ids.combine_chunks() if isinstance(trace_ids, pa.ChunkedArray) else trace_ids
    if len(ids) == 0:
        return np.zeros(0, dtype=np.uint64)
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[ids.offset : ids.offset + len(ids) + 1]
    data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]].reshape(len(ids), 32)
    nibbles = _NIBBLE[data[:, 32 - _RANDOM_HEX_DIGITS :]]
    return (nibbles * _WEIGHTS).sum(axis=1, dtype=np.uint64)


class HeadSamplingProcessor:
    """Keeps a trace's spans iff the trace id's randomness is below the service's rate.

    Counters (`/api/v1/status`, `processors.sampling.*`), in spans: `spans_kept` (stored),
    `spans_dropped` (not stored), or with tail sampling on `spans_to_tail` instead of
    `spans_kept`: kept by the head rate, they wait for the tail decision, which
    `tail_sampling.traces_kept` / `traces_dropped` count (in traces). With a budget,
    `budget_factor_ppm` is the lowest scale factor of any project (1,000,000: none scaled)."""

    name = "sampling"

    def __init__(self, settings: HeadSamplingSettings, clock: Callable[[], float] = time.monotonic) -> None:
        self._settings = settings
        self._clock = clock
        self._started = self._clock()
        self._budgets: OrderedDict[str, _Budget] = OrderedDict()  # least recently seen first
        self.stats: Counter[str] = Counter()

    def process(self, batch: SpanBatch) -> SpanBatch:
        spans = batch.spans
        if spans.num_rows == 0:
            return batch
        rates = self._rates(spans.column("ServiceName")) * self._adapt(spans.num_rows)
        thresholds = (np.clip(rates, 0.0, 1.0) * float(1 << 56)).astype(np.float64)
        keep = trace_randomness(spans.column("TraceId").combine_chunks()).astype(np.float64) < thresholds
        weights = np.where(keep, 1.0 / np.maximum(rates, 1e-12), 0.0)
        if self._settings.defer_to_tail:
            weights = -weights
        kept = int(keep.sum())
        self.stats["spans_to_tail" if self._settings.defer_to_tail else "spans_kept"] += kept
        self.stats["spans_dropped"] += spans.num_rows - kept
        index = spans.schema.get_field_index("SampleWeight")
        column = pc.multiply(spans.column(index), pa.array(weights))
        return SpanBatch(spans.set_column(index, SPAN_SCHEMA.field("SampleWeight"), column), batch.attributes)

    def _rates(self, services: pa.ChunkedArray) -> np.ndarray:
        encoded = services.combine_chunks().dictionary_encode()
        per_name = np.array(
            [self._settings.service_rates.get(name, self._settings.default_rate) for name in encoded.dictionary.to_pylist()],
            dtype=np.float64,
        )
        return per_name[encoded.indices.to_numpy(zero_copy_only=False)]

    def _adapt(self, incoming: int) -> float:
        """The current project's scale factor keeping its kept spans near the budget, from
        its last window's traffic."""
        budget = self._settings.budget_spans_per_s
        if budget <= 0:
            return 1.0
        now = self._clock()
        project = current_project()
        state = self._budgets.pop(project, None) or _Budget(self._started)
        self._budgets[project] = state  # now the most recently seen
        state.last_seen = now
        self._forget_idle(now)
        state.window_spans += incoming
        elapsed = now - state.window_start
        if elapsed >= self._settings.budget_window_s:
            observed = state.window_spans / elapsed
            state.factor = min(1.0, budget / observed) if observed > 0 else 1.0
            state.window_start, state.window_spans = now, 0
            self.stats["budget_factor_ppm"] = int(min(b.factor for b in self._budgets.values()) * 1_000_000)
        return state.factor

    def _forget_idle(self, now: float) -> None:
        """Drop the budgets of projects idle for `IDLE_WINDOWS` windows, and the least
        recently seen beyond `MAX_BUDGETS`, so the state stays bounded (the project just
        seen is the newest, so it stays)."""
        idle_before = now - IDLE_WINDOWS * self._settings.budget_window_s
        while len(self._budgets) > MAX_BUDGETS or next(iter(self._budgets.values())).last_seen < idle_before:
            self._budgets.popitem(last=False)


@dataclass
class _Budget:
    """One project's budget window: spans seen since `window_start`, and the scale factor
    the last closed window gave. A new project's first window starts with the processor,
    as the only window did before projects; a long-idle one then closes on its first batch."""

    window_start: float
    window_spans: int = 0
    factor: float = 1.0
    last_seen: float = 0.0
