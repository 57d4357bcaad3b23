"""OTLP-metric rules and grouped span-metric rules in the config file: valid ones load
(and pass `spanwise config validate`), every problem names its field and line, and a
group names a label the span metrics have (span kind or a configured dimension)."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanwise.cli import main
from spanwise.config import load_config
from spanwise.errors import ConfigError

GOOD = """
metrics:
  dimensions: [deployment.environment]
alerts:
  rules:
    - name: QueueDeep
      query: {kind: otlp_metric, metric: queue.depth, aggregation: last, group_by: [queue], window_s: 120}
      condition: {op: ">", threshold: 100}
    - name: JobsFailing
      query: {kind: otlp_metric, metric: jobs.failed, aggregation: rate, attributes: {job: nightly}, service: etl}
      condition: {op: ">", threshold: 0.5}
    - name: SlowRoutes
      query: {kind: otlp_metric, metric: http.server.duration, aggregation: quantile, quantile: 0.99,
              group_by: [http.route]}
      condition: {op: ">", threshold: 800}
    - name: ClientErrorsByEnvironment
      query: {kind: span_metric, metric: error_rate, group_by: [service, span_kind, deployment.environment],
              window_s: 300}
      condition: {op: ">", threshold: 0.1}
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return str(path)


def test_valid_rules_load_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, GOOD)
    rules = load_config(path, environ={}).alerts.rules
    assert [r.query.kind for r in rules] == ["otlp_metric"] * 3 + ["span_metric"]
    assert rules[1].query.attributes == {"job": "nightly"} and rules[2].query.quantile == 0.99
    assert rules[3].query.group_by == ["service", "span_kind", "deployment.environment"]
    assert main(["config", "validate", path]) == 0
    assert capsys.readouterr().out == f"{path}: OK\n"


@pytest.mark.parametrize("change, message", [
    (("aggregation: last, ", ""), "alerts.rules[0].query: aggregation: one of last, avg, max, min (gauge), rate, "
                                  "increase, value (sum), quantile, mean, count_rate (histogram, exponential_histogram, "
                                  "summary), got ''"),
    (("aggregation: last", "aggregation: p95"), "alerts.rules[0].query: aggregation: one of last"),
    (("quantile: 0.99", "quantile: 99"), "alerts.rules[2].query: quantile: between 0 and 1 (exclusive), got 99.0"),
    (("metric: queue.depth", "metric: \"queue depth\""), "alerts.rules[0].query: metric: the OTLP metric's name"),
    (("attributes: {job: nightly}", "attributes: [job]"), "alerts.rules[1].query.attributes: expected a mapping"),
    (("deployment.environment],\n", "region],\n"),
     "alerts.rules[3].query: group_by: unknown dimension 'region'; span metrics group by service, operation, "
     "span_kind or a metrics.dimensions key (deployment.environment)"),
    (("dimensions: [deployment.environment]", "enabled: false"),
     "alerts.rules[3].query: group_by: grouping reads the span metrics, which are off (metrics.enabled: false)"),
    (("window_s: 300", "window_s: 90"), "alerts.rules[3].query: window_s: grouped span metrics are read per minute"),
    (("metric: error_rate, group_by", "metric: error_rate, by: operation, service: a, group_by"),
     "alerts.rules[3].query: by, group_by: give one"),
    (("group_by: [queue]", "group_by: [queue, queue]"), "alerts.rules[0].query: group_by: at most 4 distinct"),
    (("group_by: [http.route]", "group_by: [http.route, http_route]"),
     "alerts.rules[2].query: group_by: two names give the same label (http_route, http_route)"),
    (("group_by: [queue]", "group_by: [alertname]"), "alerts.rules[0].query: group_by: alertname and names"),
    (("metric: error_rate,", "metric: error_rate, aggregation: last,"),
     "alerts.rules[3].query: aggregation, attributes: only otlp_metric and custom_metric rules have them"),
])
def test_errors_name_the_field_and_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    text = GOOD.replace(*change)
    assert text != GOOD
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert message in str(error.value) and f"{path}:" in str(error.value), str(error.value)


def test_group_by_only_where_rules_group(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "alerts:\n  rules:\n    - name: Logs\n"
                           "      query: {kind: logs, metric: count, group_by: [service]}\n")
    assert main(["config", "validate", path]) == 2
    assert f"{path}:4: alerts.rules[0].query: group_by: only span_metric, otlp_metric and custom_metric rules group" in capsys.readouterr().err


def test_every_problem_at_once(tmp_path: Path) -> None:
    """A broken rule does not hide another rule's unknown dimension."""
    path = write(tmp_path, GOOD.replace("deployment.environment],\n", "region],\n").replace("aggregation: last, ", ""))
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    lines = str(error.value).splitlines()
    assert any("alerts.rules[0].query: aggregation:" in line for line in lines)
    assert any(line.startswith(f"{path}:") and "alerts.rules[3].query: group_by: unknown dimension 'region'" in line
               for line in lines)
