"""The anomaly condition's statistics over many seeded runs, not one lucky seed: on unchanged
data (seven baseline days and the current window drawn from one distribution) it fires in at
most 1% of evaluations, for error rates, latency quantiles and counts at any event count
from `min_samples` up; and it still finds a real change (a 5x error rate, a 2x latency).

Each scenario runs seeds 0..RUNS-1 (one `numpy.random.default_rng(seed)` per run) through
`conditions.evaluate`, so the metric's nature comes from the rule's query as in the engine.
A rate is asserted with a margin of three standard errors of its estimate, so neither a
lucky nor an unlucky set of seeds decides."""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import pytest
from scipy.special import ndtri

from spanwise.alerts.conditions import DAY_NS, evaluate
from spanwise.alerts.sources import Sample, Sources
from spanwise.core.alert_rules import AlertCondition, AlertQuery, AlertRule

NOW = 1_800_000_000 * 10**9
DAYS = 7
WINDOW_S = 300.0
RUNS = 2000
MIN_SAMPLES = 50
FALSE_FIRE_LIMIT = 0.01
POWER_FLOOR = 0.90

#: One run's windows, the current one first: (values, event counts), DAYS + 1 of each.
Windows = tuple[np.ndarray, np.ndarray]


class Days(Sources):
    """Sources that answer each window (by its end) with one sample."""

    def __init__(self, values: np.ndarray, counts: np.ndarray) -> None:
        super().__init__(None)
        self.samples = {NOW - d * DAY_NS: Sample((("service", "a"),), float(v), int(n))
                        for d, (v, n) in enumerate(zip(values, counts))}

    def read(self, query: AlertQuery, start_ns: int, end_ns: int) -> list[Sample]:
        found = self.samples.get(end_ns)
        return [found] if found else []


def fire_rate(metric: str, threshold: float, draw: Callable[[np.random.Generator], Windows]) -> float:
    rule = AlertRule("r", AlertQuery("span_metric", metric, window_s=WINDOW_S),
                     AlertCondition(type="anomaly", op=">", threshold=threshold, min_samples=MIN_SAMPLES,
                                    baseline_days=DAYS, min_baseline=3))
    fired = 0
    for seed in range(RUNS):
        values, counts = draw(np.random.default_rng(seed))
        fired += evaluate(rule, Days(values, counts), NOW, set())[0].active
    return fired / RUNS


def margin(rate: float) -> float:
    return 3 * math.sqrt(rate * (1 - rate) / RUNS)


def error_rate(p: float, n: int, now_p: float | None = None) -> Callable[[np.random.Generator], Windows]:
    def draw(rng: np.random.Generator) -> Windows:
        errors = rng.binomial(n, [p if now_p is None else now_p] + [p] * DAYS)
        return errors / n, np.full(DAYS + 1, n)
    return draw


def p95_latency(n: int, now_shift: float = 1.0) -> Callable[[np.random.Generator], Windows]:
    """The p95 (the ceil(0.95 n)-th smallest) of n lognormal latencies around 100 ms, drawn
    exactly through its order statistic: U_(j) of n uniforms is Beta(j, n + 1 - j)."""
    j = math.ceil(0.95 * n)

    def draw(rng: np.random.Generator) -> Windows:
        p95 = np.exp(math.log(100) + 0.5 * ndtri(rng.beta(j, n + 1 - j, DAYS + 1)))
        p95[0] *= now_shift
        return p95, np.full(DAYS + 1, n)
    return draw


def poisson_counts(mean: float, day_to_day: float = 0.0, per_event: float = 1.0) -> Callable[[np.random.Generator], Windows]:
    """Events per window (value: the count, or a rate with `per_event` = 1/window_s); with
    `day_to_day`, each window's mean also varies by that share (lognormal)."""
    def draw(rng: np.random.Generator) -> Windows:
        means = mean * np.exp(rng.normal(0, day_to_day, DAYS + 1)) if day_to_day else np.full(DAYS + 1, mean)
        counts = rng.poisson(means)
        return counts * per_event, counts
    return draw


@pytest.mark.parametrize("p", [0.005, 0.02, 0.2])
@pytest.mark.parametrize("n", [50, 200, 5000])
def test_unchanged_error_rates_rarely_fire(p: float, n: int) -> None:
    rate = fire_rate("error_rate", 4, error_rate(p, n))
    assert rate <= FALSE_FIRE_LIMIT - margin(FALSE_FIRE_LIMIT), rate


@pytest.mark.parametrize("n", [50, 200, 5000])
def test_unchanged_latency_quantiles_rarely_fire(n: int) -> None:
    rate = fire_rate("p95_ms", 4, p95_latency(n))
    assert rate <= FALSE_FIRE_LIMIT - margin(FALSE_FIRE_LIMIT), rate


@pytest.mark.parametrize(("metric", "draw"), [
    ("count", poisson_counts(100)),
    ("count", poisson_counts(5000)),
    ("rate", poisson_counts(1000, per_event=1 / WINDOW_S)),
    ("count", poisson_counts(5000, day_to_day=0.1)),  # real day-to-day variation beyond the Poisson noise
], ids=["count-100", "count-5000", "rate-1000", "count-5000-varying-days"])
def test_unchanged_counts_and_rates_rarely_fire(metric: str, draw: Callable[[np.random.Generator], Windows]) -> None:
    rate = fire_rate(metric, 4, draw)
    assert rate <= FALSE_FIRE_LIMIT - margin(FALSE_FIRE_LIMIT), rate


def test_a_five_fold_error_rate_is_found() -> None:
    """2% -> 10% of 200 requests: 4 -> 20 expected errors, the current window's own sd 4.2.
    At threshold 4 about 82% of such windows fire (the rest lose to that noise and to weeks
    whose days vary more than their sampling noise by chance); at 3, over 90%."""
    rate = fire_rate("error_rate", 3, error_rate(0.02, 200, now_p=0.1))
    assert rate >= POWER_FLOOR + margin(POWER_FLOOR), rate


@pytest.mark.parametrize("threshold", [3, 4])
def test_a_doubled_latency_is_found(threshold: float) -> None:
    rate = fire_rate("p95_ms", threshold, p95_latency(200, now_shift=2.0))
    assert rate >= POWER_FLOOR + margin(POWER_FLOOR), rate
