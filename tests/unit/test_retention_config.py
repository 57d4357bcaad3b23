"""`retention.projects`: typed and validated, each kind defaulting to `store.retention_days`,
and the TTL rules the store derives from it."""

from __future__ import annotations

import re

import pytest

from spanwise.config import load_config
from spanwise.errors import ConfigError
from spanwise.store.clickhouse.retention import retention_statements, ttl_rules


def test_each_kind_defaults_to_the_global_retention() -> None:
    config = load_config(environ={"SPANWISE_STORE_RETENTION_DAYS": "30",
                                  "SPANWISE_RETENTION_PROJECTS": "{team-a: {spans_days: 7, labels_days: 0}}"})
    policy = config.retention_policy()
    assert policy.of_project("team-a") == {"spans": 7, "logs": 30, "metrics": 30, "predictions": 30, "labels": 0}
    assert policy.of_project("elsewhere") == {"spans": 30, "logs": 30, "metrics": 30, "predictions": 30, "labels": 30}
    assert policy.exceptions("spans") == {"team-a": 7} and policy.exceptions("logs") == {}
    assert load_config().retention_policy().of_project("default") == {
        k: 0 for k in ("spans", "logs", "metrics", "predictions", "labels")}


def test_metric_points_have_their_own_days() -> None:
    config = load_config(environ={"SPANWISE_STORE_RETENTION_DAYS": "30",
                                  "SPANWISE_RETENTION_PROJECTS": "{team-a: {metrics_days: 3}, team-b: {metrics_days: 0}}"})
    policy = config.retention_policy()
    assert policy.exceptions("metrics") == {"team-a": 3, "team-b": 0}
    assert policy.of_project("team-a") == {"spans": 30, "logs": 30, "metrics": 3, "predictions": 30, "labels": 30}
    assert policy.exceptions("predictions") == {}


@pytest.mark.parametrize("projects, message", [
    ("{team-a: {spans_days: -1}}", "retention.projects.team-a: spans_days: days must be 0 (forever) to 36500"),
    ("{team-a: {spans_days: 40000}}", "spans_days: days must be 0"),
    ("{team-a: {span_days: 3}}", "retention.projects.team-a.span_days: unknown key"),
    ("{team-a: {logs_days: soon}}", "retention.projects.team-a.logs_days: expected int"),
    ("{team-a: {metrics_days: -2}}", "retention.projects.team-a: metrics_days: days must be 0 (forever) to 36500"),
    ("{team-a: {metrics_days: 36501, logs_days: 1}}", "metrics_days: days must be 0"),
    ("{team-a: {metrics_days: often}}", "retention.projects.team-a.metrics_days: expected int"),
    ("{team-a: {metric_days: 3}}", "metric_days: unknown key; known: labels_days, logs_days, metrics_days,"),
    ("{'../etc': {logs_days: 3}}", "'../etc' is not a project name"),
    ("[team-a]", "retention.projects: expected a mapping"),
])
def test_bad_retention_is_a_config_error_naming_the_key(projects: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(environ={"SPANWISE_RETENTION_PROJECTS": projects})
    with pytest.raises(ConfigError, match="retention_days must be 0"):
        load_config(environ={"SPANWISE_STORE_RETENTION_DAYS": "-3"})


def test_ttl_rules_per_project() -> None:
    column = "toDateTime(Timestamp)"
    assert ttl_rules(column, 0, {}) == ""
    assert ttl_rules(column, 30, {}) == "toDateTime(Timestamp) + toIntervalDay(30)"
    assert ttl_rules(column, 30, {"a": 7, "b": 0}) == (
        "toDateTime(Timestamp) + toIntervalDay(7) WHERE Project = 'a', "
        "toDateTime(Timestamp) + toIntervalDay(30) WHERE Project NOT IN ('a', 'b')")
    assert ttl_rules(column, 0, {"default": 7}) == "toDateTime(Timestamp) + toIntervalDay(7) WHERE Project IN ('default', '')"
    created = "CREATE TABLE x (...) ENGINE = MergeTree ORDER BY t TTL toDateTime(Timestamp) + toIntervalDay(30) SETTINGS index_granularity = 8192"
    assert retention_statements("x", created, ttl_rules(column, 30, {}), False) == []
    assert retention_statements("x", created, "", False) == ["ALTER TABLE `x` REMOVE TTL"]

