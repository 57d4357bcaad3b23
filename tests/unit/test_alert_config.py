"""`alerts` in the config file: valid rules load, every problem names its field and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from spanwise.config import load_config
from spanwise.errors import ConfigError

GOOD = """
alerts:
  receivers:
    - {name: oncall, type: webhook, url: "http://127.0.0.1:9/hook", secret_env: HOOK_SECRET}
  rules:
    - name: DriftOnAnyFeature
      query: {kind: model_signal, metric: drift, model: fraud}
      condition: {op: ">", threshold: 0.2}
      for_s: 600
      receivers: [oncall]
    - name: LogErrors
      query: {kind: logs, metric: count, severity: ERROR, search: timeout}
      condition: {type: anomaly, threshold: 4, min_samples: 20}
"""


def test_valid_rules_load(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD)
    alerts = load_config(str(path), environ={}).alerts
    assert [r.name for r in alerts.rules] == ["DriftOnAnyFeature", "LogErrors"]
    assert alerts.rules[1].condition.type == "anomaly" and alerts.receivers[0].secret_env == "HOOK_SECRET"


@pytest.mark.parametrize("change, message", [
    (("op: \">\"", "op: \"=\""), "alerts.rules[0].condition: op: must be one of >, <, outside"),
    (("metric: drift", "metric: drifty"), "alerts.rules[0].query: metric: model_signal watches"),
    (("model: fraud", "model: \"\""), "alerts.rules[0].query: model: a model_signal rule names its model"),
    (("receivers: [oncall]", "receivers: [pager]"), "alerts: rules: unknown receiver(s) pager"),
    (("for_s: 600", "for_s: soon"), "alerts.rules[0].for_s: expected float"),
    (("name: LogErrors", "name: DriftOnAnyFeature"), "rules: names must be unique"),
    (("type: webhook", "type: pager"), "alerts.receivers[0]: type: must be one of"),
    (("search: timeout}", "search: timeout, operation: GET}"), "alerts.rules[1].query: service: watching operations"),
    (("type: anomaly, threshold: 4", "type: anomaly"), "alerts.rules[1].condition: threshold: an anomaly's threshold"),
    (("type: anomaly, threshold: 4", "type: anomaly, threshold: 0.5"), "is a z-score"),
    (("min_samples: 20}", "min_samples: 20, baseline_days: 2, min_baseline: 2}"),
     "alerts.rules[1].condition: baseline_days: an anomaly needs at least 3 days"),
])
def test_errors_name_the_field_and_line(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(GOOD.replace(*change))
    with pytest.raises(ConfigError) as error:
        load_config(str(path), environ={})
    assert message in str(error.value) and f"{path}:" in str(error.value)
