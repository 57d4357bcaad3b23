"""Rules from two places: the config file (read-only) and the API (stored, so they survive
restarts). Both are validated by the config loader, so errors name the field. A rule made
through the API is its project's; config rules are the default project's."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from spanwise.config import load_config
from spanwise.alerts.state import PROJECT_LABEL
from spanwise.errors import ConfigError, InvalidQuery
from spanwise.core.alert_rules import AlertRule
from spanwise.core.metrics import COUNTER, HISTOGRAM, CustomMetric

RULE_KIND = "rule"
_PREFIX = "alerts.rules[0]."
#: Where the `metrics` section lists custom metrics of each kind.
_SECTIONS = {COUNTER: "counters", HISTOGRAM: "histograms"}


def parse_rule(body: Any, receivers: set[str], span_dimensions: tuple[str, ...] | None,
               custom_metrics: tuple[CustomMetric, ...]) -> AlertRule:
    """An `AlertRule` from JSON, or `InvalidQuery` whose lines read `field: problem`.
    `span_dimensions` are the configured span-metric dimensions a rule may group by
    (None: span metrics are off, no grouping, no custom metrics); `custom_metrics` the
    configured custom metrics a rule may watch."""
    if not isinstance(body, dict):
        raise InvalidQuery("a rule is a JSON object")
    # receivers are checked here, against the configured ones, not by the loader's section check;
    # the span metrics' dimensions and custom metrics are given so the loader checks them as for config rules
    overrides = {"alerts": {"rules": [{**body, "receivers": []}]}, "metrics": _metrics(span_dimensions, custom_metrics)}
    try:
        rule = load_config(environ={}, overrides=overrides).alerts.rules[0]
    except ConfigError as exc:
        lines = [line.replace(_PREFIX, "").replace("alerts.rules[0]: ", "") for line in str(exc).splitlines()]
        raise InvalidQuery("invalid rule: " + "; ".join(lines)) from exc
    wanted = body.get("receivers", [])
    if not isinstance(wanted, list) or not all(isinstance(n, str) for n in wanted):
        raise InvalidQuery("invalid rule: receivers: a list of receiver names")
    rule = dataclasses.replace(rule, receivers=list(wanted))
    if PROJECT_LABEL in rule.labels:
        raise InvalidQuery(f"invalid rule: labels: {PROJECT_LABEL!r} is set by Spanwise (the rule's project)")
    unknown = sorted(set(rule.receivers) - receivers)
    if unknown:
        raise InvalidQuery(f"invalid rule: receivers: unknown receiver(s) {', '.join(unknown)}")
    return rule


def _metrics(span_dimensions: tuple[str, ...] | None, custom: tuple[CustomMetric, ...]) -> dict[str, Any]:
    """The `metrics` section as far as rules depend on it: dimensions, and each custom
    metric's name, kind and labels."""
    if span_dimensions is None:
        return {"enabled": False}
    section: dict[str, Any] = {"dimensions": list(span_dimensions), "counters": [], "histograms": []}
    for metric in custom:
        defined = {"name": metric.name, "attribute": metric.attribute, "labels": list(metric.labels)}
        section[_SECTIONS[metric.kind]].append(defined)
    return section


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return dataclasses.asdict(rule)


def rule_body(rule: AlertRule) -> str:
    return json.dumps(rule_json(rule), sort_keys=True)
