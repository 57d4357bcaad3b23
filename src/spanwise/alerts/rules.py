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

RULE_KIND = "rule"
_PREFIX = "alerts.rules[0]."


def parse_rule(body: Any, receivers: set[str], span_dimensions: tuple[str, ...] | None) -> AlertRule:
    """An `AlertRule` from JSON, or `InvalidQuery` whose lines read `field: problem`.
    `span_dimensions` are the configured span-metric dimensions a rule may group by
    (None: span metrics are off, no grouping)."""
    if not isinstance(body, dict):
        raise InvalidQuery("a rule is a JSON object")
    # receivers are checked here, against the configured ones, not by the loader's section check;
    # the span metrics' dimensions are given so the loader checks groups as for config rules
    metrics = {"enabled": False} if span_dimensions is None else {"dimensions": list(span_dimensions)}
    overrides = {"alerts": {"rules": [{**body, "receivers": []}]}, "metrics": metrics}
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


def rule_json(rule: AlertRule) -> dict[str, Any]:
    return dataclasses.asdict(rule)


def rule_body(rule: AlertRule) -> str:
    return json.dumps(rule_json(rule), sort_keys=True)
