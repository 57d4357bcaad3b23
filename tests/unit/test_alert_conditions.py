"""Conditions and the state machine on hand-made samples: thresholds with hysteresis,
rate of change, absence, the seasonal anomaly (median, spread, sampling noise) with its
minimum sample size."""

from __future__ import annotations

import pytest

from spanwise.alerts.conditions import DAY_NS, evaluate
from spanwise.alerts.silences import parse_silence
from spanwise.alerts.sources import Sources
from spanwise.alerts.state import FIRING, INACTIVE, PENDING, RESOLVED, Alert, render
from spanwise.errors import InvalidQuery
from spanwise.core.alert_rules import AlertCondition, AlertQuery, AlertRule
from spanwise.store.protocols import RedSummary

NOW = 1_800_000_000 * 10**9
WINDOW = 60 * 10**9


class Spans:
    """red_summary answers from {window end: {service: (count, errors, p95_ms)}}."""

    def __init__(self, windows: dict[int, dict[str, tuple[int, int, float]]]) -> None:
        self.windows = windows
        self.calls = 0

    def red_summary(self, start_ns: int, end_ns: int, service: str | None = None) -> list[RedSummary]:
        self.calls += 1
        found = self.windows.get(end_ns, {})
        return [RedSummary(name, n, e, 0.0, p95 * 1e6, p95 * 1e6) for name, (n, e, p95) in sorted(found.items())]


def rule(metric: str = "error_rate", **condition: object) -> AlertRule:
    return AlertRule("r", AlertQuery("span_metric", metric, window_s=60), AlertCondition(**condition))  # type: ignore[arg-type]


def results(r: AlertRule, windows: dict[int, dict[str, tuple[int, int, float]]], active: set = frozenset()) -> dict:
    return {dict(x.labels)["service"]: (x.active, x.judged, round(x.value, 3))
            for x in evaluate(r, Sources(Spans(windows)), NOW, set(active))}


def test_threshold_per_service_with_hysteresis_and_min_samples() -> None:
    r = rule(op=">", threshold=0.3, resolve_threshold=0.1, min_samples=20)
    data = {NOW: {"a": (100, 40, 5), "b": (100, 20, 5), "c": (10, 9, 5)}}
    assert results(r, data) == {"a": (True, True, 0.4), "b": (False, True, 0.2), "c": (False, False, 0.9)}
    b = (("service", "b"),)
    assert results(r, data, {b})["b"] == (True, True, 0.2)  # active b stays until below 0.1
    assert results(r, {NOW: {"b": (100, 5, 5)}}, {b})["b"] == (False, True, 0.05)


def test_band_and_below() -> None:
    assert results(rule("p95_ms", op="outside", low=10, high=100), {NOW: {"a": (5, 0, 5), "b": (5, 0, 50)}}) == {
        "a": (True, True, 5.0), "b": (False, True, 50.0)}
    assert results(rule("rate", op="<", threshold=1), {NOW: {"a": (30, 0, 1)}}) == {"a": (True, True, 0.5)}


def test_rate_of_change_against_the_previous_window() -> None:
    r = rule("count", type="rate_of_change", op=">", threshold=1.0)
    data = {NOW: {"a": (300, 0, 1), "b": (150, 0, 1), "new": (5, 0, 1)}, NOW - WINDOW: {"a": (100, 0, 1), "b": (100, 0, 1)}}
    assert results(r, data) == {"a": (True, True, 2.0), "b": (False, True, 0.5), "new": (False, False, 0.0)}


def test_absence_of_a_named_service_and_of_every_recent_one() -> None:
    named = AlertRule("r", AlertQuery("span_metric", "count", service="checkout", window_s=60), AlertCondition("absence"))
    assert [(x.labels, x.active) for x in evaluate(named, Sources(Spans({})), NOW, set())] == [((("service", "checkout"),), True)]
    anyone = rule("count", type="absence", lookback_s=600)
    data = {NOW: {"a": (5, 0, 1)}, NOW - WINDOW: {"a": (5, 0, 1), "gone": (7, 0, 1)}}
    assert results(anyone, data) == {"a": (False, True, 1.0), "gone": (True, True, 0.0)}


def test_anomaly_uses_the_median_and_spread_of_the_same_window_on_previous_days() -> None:
    r = rule("p95_ms", type="anomaly", op=">", threshold=4, min_samples=50, baseline_days=7, min_baseline=3)
    history = [100, 104, 96, 102, 98, 300, 101]  # one bad day: the median and the spread leave it out
    data = {NOW - d * DAY_NS: {"a": (500, 0, v), "quiet": (10, 0, v)} for d, v in enumerate(history, start=1)}
    data[NOW] = {"a": (500, 0, 140), "quiet": (10, 0, 900)}
    found = results(r, data)
    # median 101; distances 0 1 1 3 3 5 (199 left out): rms sqrt(45/6) = 2.739, x(1 + 3.5/7) = 4.108,
    # widened for 6 days x(1 + 3/4) = 7.189 (above 5% of 101); a latency has no known noise: (140 - 101) / 7.189
    assert found["a"] == (True, True, 5.425)
    assert found["quiet"] == (False, False, 0.0)  # too few events now and on every day: never pages
    data[NOW] = {"a": (500, 0, 110)}
    assert results(r, data)["a"][0] is False


def test_anomaly_counts_the_binomial_noise_of_an_error_rate() -> None:
    r = rule("error_rate", type="anomaly", op=">", threshold=4, min_samples=50, baseline_days=7)
    errors = [20, 22, 18, 21, 19, 20, 23]  # of 1000 requests: a week that looks flat (MAD 0.001)
    data = {NOW - d * DAY_NS: {"a": (1000, e, 1)} for d, e in enumerate(errors, start=1)}
    # median 0.02; spread 1.5 * sqrt(10e-6 / 6) = 0.0019, below the days' own binomial noise
    # sqrt(20 * 0.98) / 1000 = 0.00443, so no day-to-day variation is added; scale: that noise
    # x sqrt(1 + pi / 14) for the median's own = 0.004899
    data[NOW] = {"a": (1000, 30, 1)}
    # 30 where 20 were expected: 2 sd, not an anomaly (the median and MAD alone made it 6.7)
    assert results(r, data)["a"] == (False, True, 2.041)
    data[NOW] = {"a": (1000, 45, 1)}
    assert results(r, data)["a"] == (True, True, 5.103)


def test_anomaly_needs_enough_baseline_days() -> None:
    r = rule("p95_ms", type="anomaly", threshold=3, min_baseline=3)
    data = {NOW - DAY_NS: {"a": (500, 0, 100)}, NOW: {"a": (500, 0, 1000)}}
    assert results(r, data)["a"] == (False, False, 0.0)
    two_days = {NOW - d * DAY_NS: {"a": (500, 0, 100 + d)} for d in (1, 2)} | {NOW: {"a": (500, 0, 1000)}}
    assert results(rule("p95_ms", type="anomaly", threshold=3, min_baseline=1), two_days)["a"] == (False, False, 0.0)


def test_reads_are_shared_within_a_cycle() -> None:
    spans = Spans({NOW: {"a": (100, 50, 5)}})
    sources = Sources(spans)
    for name in ("x", "y", "z"):
        evaluate(AlertRule(name, AlertQuery("span_metric", "error_rate", window_s=60)), sources, NOW, set())
    assert spans.calls == 1
    sources.new_cycle()
    evaluate(rule(), sources, NOW, set())
    assert spans.calls == 2


def test_state_machine_waits_for_then_fires_then_resolves() -> None:
    alert = Alert("r", {"alertname": "r"})
    assert alert.step(True, 1.0, 1000, 5000) == INACTIVE and alert.state == PENDING
    assert alert.step(True, 1.0, 4000, 5000) is None and alert.state == PENDING
    assert alert.step(True, 1.0, 6000, 5000) == PENDING and alert.state == FIRING and alert.fired_at_ms == 6000
    assert alert.step(False, 0.0, 7000, 5000) == FIRING and alert.state == RESOLVED
    assert not alert.settled() or alert.sent == {}
    alert.sent["x"] = {"state": FIRING, "at_ms": 6000}
    assert not alert.settled()
    blip = Alert("r", {"alertname": "r"})
    blip.step(True, 1.0, 0, 5000)
    assert blip.step(False, 0.0, 1000, 5000) == PENDING and blip.state == INACTIVE and blip.settled()
    assert Alert.from_json(alert.to_json()) == alert


def test_templates_and_silences() -> None:
    assert render("{{ $labels.service }} at {{$value}} ({{ $labels.none }})", 0.123456, {"service": "api"}) == "api at 0.1235 ()"
    silence = parse_silence({"matchers": [{"name": "service", "value": "ch.*", "regex": True}], "duration_s": 60}, 1000)
    assert silence.matches({"service": "checkout"}) and not silence.matches({"service": "search"})
    assert silence.active(2000) and not silence.active(61_000)
    with pytest.raises(InvalidQuery, match=r"matchers\[0\].value: invalid regex"):
        parse_silence({"matchers": [{"name": "a", "value": "(", "regex": True}]}, 0)


@pytest.mark.parametrize("field, value", [
    ("starts_at_ms", [None, None]), ("starts_at_ms", "soon"), ("ends_at_ms", 1e400), ("ends_at_ms", {}),
    ("duration_s", float("inf")), ("duration_s", float("nan")), ("duration_s", True),
])
def test_a_silence_time_that_is_not_a_finite_number_is_a_400_naming_it(field: str, value: object) -> None:
    with pytest.raises(InvalidQuery, match=field):
        parse_silence({"matchers": [{"name": "a", "value": "b"}], field: value}, 1000)


@pytest.mark.parametrize("pattern", ["(" * 2000 + ")" * 2000, "a{4294967296}"])
def test_a_regex_python_cannot_compile_is_a_400(pattern: str) -> None:
    with pytest.raises(InvalidQuery, match=r"matchers\[0\].value: invalid regex"):
        parse_silence({"matchers": [{"name": "a", "value": pattern, "regex": True}]}, 1000)
