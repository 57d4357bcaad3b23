"""Tail sampling: decide per whole trace, after its spans have arrived.

The head sampler marks spans that wait for a tail decision with a negative
`SampleWeight` (minus their head weight); the store keeps such spans in a pending table,
on disk and queryable, instead of `otel_traces` (`TailSamplingStore`). The predictions
table and the span metrics already saw them: sampling only decides which full spans are
stored. A `TailDecider` thread wakes every second, asks the store for per-trace
summaries of traces first seen `decision_wait_s` ago (or the oldest ones, beyond
`max_pending_traces`), evaluates the policies here, and tells the store which traces to
keep (with their weight) and which to drop. Decisions are remembered, so spans of a
decided trace that arrive late follow it. A crash loses nothing: pending spans are in the
store, and the next run decides them. Each project is decided on its own (its trace ids,
baselines, rate limits and `max_pending_traces`): two projects may send one trace id.

Weights: a trace kept by a policy other than the probabilistic remainder keeps weight 1
(times its head weight); one kept by the remainder at rate p gets 1/p; so counts from
stored spans are unbiased for the remainder and exact for the traces policies select.
"""

from __future__ import annotations

import logging
import time
from collections import Counter, defaultdict
from typing import Any
from dataclasses import dataclass
import pyarrow as pa

from spanwise.config import TailSamplingConfig
from spanwise.periodic import PeriodicWorker
from spanwise.request_context import acting, current, for_project
from spanwise.store.protocols import BaselineStore, ModelReader, TailSamplingStore

log = logging.getLogger(__name__)
TICK_S = 1.0
DROPPED = "dropped"  # the reason of a trace no policy kept


@dataclass(frozen=True)
class Decision:
    trace_ids: list[str]
    weights: list[float]
    reasons: Counter[str]


def decide(summaries: pa.Table, config: TailSamplingConfig, rate_limiter: "RateLimiter") -> Decision:
    """Apply the policies to ready traces: any policy keeps; otherwise the probabilistic
    remainder keeps (by trace id randomness, like head sampling), or the trace is dropped."""
    reasons: Counter[str] = Counter()
    ids, weights = [], []
    rows = summaries.to_pylist()
    rows.sort(key=lambda r: r["FirstSeen"])
    for row in rows:
        reason = _policy_reason(row, config, rate_limiter)
        weight = 1.0 if reason else 0.0
        if not reason and config.probabilistic_rate > 0 and _random56(row["TraceId"]) < config.probabilistic_rate * 2**56:
            reason, weight = "probabilistic", 1.0 / config.probabilistic_rate
        reasons[reason or DROPPED] += 1
        ids.append(row["TraceId"])
        weights.append(weight)
    return Decision(ids, weights, reasons)


def _policy_reason(row: dict[str, Any], config: TailSamplingConfig, rate_limiter: "RateLimiter") -> str:
    if config.keep_errors and row["HasError"]:
        return "error"
    if config.latency_threshold_ms > 0 and float(row["MaxDurationNs"]) > config.latency_threshold_ms * 1e6:
        return "latency"
    for key in config.attributes:
        if row.get(f"Match_{key}"):
            return "attribute"
    if config.outlier_features and row.get("HasOutlier"):
        return "outlier"
    confidence = row.get("MinConfidence")
    if config.confidence_below > 0 and confidence is not None and float(confidence) < config.confidence_below:
        return "low_confidence"
    if config.rate_limit_traces_per_s > 0 and rate_limiter.allow(str(row["RootService"])):
        return "rate_limit"
    return ""


def _random56(trace_id: str) -> int:
    return int(trace_id[-14:], 16)


class RateLimiter:
    """A token bucket per service: up to `rate` traces per second, bursts of one second."""

    def __init__(self, rate: float) -> None:
        self._rate = rate
        self._tokens: dict[str, float] = defaultdict(lambda: rate)
        self._last: dict[str, float] = {}

    def allow(self, service: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        last = self._last.get(service, now)
        self._tokens[service] = min(self._rate, self._tokens[service] + (now - last) * self._rate)
        self._last[service] = now
        if self._tokens[service] >= 1.0:
            self._tokens[service] -= 1.0
            return True
        return False


class TailDecider:
    """Background thread deciding pending traces; start()/shutdown() are idempotent.

    Counters (`/api/v1/status`, `tail_sampling.*`): `traces_kept` and `traces_dropped`
    (decisions, in traces), `traces_kept_<reason>` (error, latency, attribute, outlier,
    low_confidence, rate_limit, probabilistic) and `spans_stored` /
    `late_spans_stored` (spans of kept traces moved to `otel_traces`)."""

    def __init__(self, store: TailSamplingStore, config: TailSamplingConfig) -> None:
        self._store = store
        self._config = config
        #: Per project: a rate limit, and feature ranges of its baselines with when they were read.
        self._limiters: dict[str, RateLimiter] = {}
        self._ranges: dict[str, tuple[dict[tuple[str, str], tuple[float, float]], float]] = {}
        self.stats: Counter[str] = Counter()
        self._worker = PeriodicWorker("spanwise-tail", self.tick, TICK_S, self.stats)

    def start(self) -> None:
        self._worker.start()

    def shutdown(self) -> None:
        """Stop deciding; undecided spans stay pending on disk for the next run."""
        self._worker.shutdown()

    def tick(self) -> Decision:
        """Decide every ready trace once, project by project: a trace id names a trace only
        within its project, and a project's baselines and rate limits are its own. Runs as
        the platform (every project with spans waiting) or, in a test, as one project."""
        own = current().project
        decisions = []
        for project in [own] if own is not None else self._store.pending_trace_projects():
            with acting(for_project(project)):
                decisions.append(self._tick_project(project))
        return Decision([t for d in decisions for t in d.trace_ids], [w for d in decisions for w in d.weights],
                        sum((d.reasons for d in decisions), Counter()))

    def _tick_project(self, project: str) -> Decision:
        remember = self._config.remember_decisions_s
        late = self._store.settle_traces([], [], remember)  # late spans of decided traces first
        quiet_before = time.time_ns() - int(self._config.decision_wait_s * 1e9)
        summaries = self._store.pending_trace_summaries(
            quiet_before, self._config.max_pending_traces, self._config.attributes, self._feature_ranges(project) or None
        )
        limiter = self._limiters.setdefault(project, RateLimiter(self._config.rate_limit_traces_per_s))
        decision = decide(summaries, self._config, limiter)
        moved = self._store.settle_traces(decision.trace_ids, decision.weights, remember) if decision.trace_ids else 0
        self.stats.update({"traces_dropped" if k == DROPPED else f"traces_kept_{k}": v for k, v in decision.reasons.items()})
        self.stats["traces_kept"] += len(decision.trace_ids) - decision.reasons[DROPPED]
        self.stats["spans_stored"] += moved + late
        self.stats["late_spans_stored"] += late
        return decision

    def _feature_ranges(self, project: str) -> dict[tuple[str, str], tuple[float, float]]:
        """(model, feature) -> baseline [min, max] of the project's baselines, refreshed
        every `outlier_refresh_s`."""
        if not self._config.outlier_features:
            return {}
        now = time.monotonic()
        ranges, read_at = self._ranges.get(project, ({}, -1e18))
        if now - read_at >= self._config.outlier_refresh_s:
            ranges = baseline_ranges(self._store)
            self._ranges[project] = (ranges, now)
        return ranges



def baseline_ranges(store: object) -> dict[tuple[str, str], tuple[float, float]]:
    """Numeric feature ranges of each model's newest profiled baselines (model-wide: a
    later baseline of any version overrides an earlier one). Empty without baselines, so
    the outlier policy keeps nothing until a baseline exists."""
    ranges: dict[tuple[str, str], tuple[float, float]] = {}
    if not isinstance(store, BaselineStore) or not isinstance(store, ModelReader):
        return ranges
    for model in sorted({v.model for v in store.model_versions()}):
        for baseline in sorted(store.baselines(model, with_profiles=True), key=lambda b: b.created_ns):
            for name, numeric in (baseline.profile.numeric.items() if baseline.profile else ()):
                if numeric.minimum is not None and numeric.maximum is not None:
                    ranges[(model, name)] = (numeric.minimum, numeric.maximum)
    return ranges
