"""Retention per project and kind of data as ClickHouse TTL rules (`RetentionStore`).

A table keeps one rule per project whose retention differs from the default, and one
for every other project (ClickHouse takes several `TTL expr DELETE WHERE cond` rules per
table):

    TTL toDateTime(Timestamp) + toIntervalDay(7) WHERE Project = 'team-a',
        toDateTime(Timestamp) + toIntervalDay(30) WHERE Project NOT IN ('team-a')

A project kept forever has no rule (and is left out of the default's). When no project
differs, the rule is the plain one the schema has always had, so a store without per
project retention sees no change. At start the rules are compared with what each table
has (`system.tables`) and rewritten (`MODIFY TTL`) only when the configuration changed;
the engine then re-evaluates the table's parts in the background.

Model signals follow their predictions' rule (counted from when they were computed), OTLP
metric points the `metrics` kind's. The span and model metrics have no TTL at all: they are
counters, which must never go backwards (`store.clickhouse.metrics_schema`).

`otel_traces` drops whole expired parts only (`ttl_only_drop_parts`, cheap) while one
rule covers every project; a part holds several projects' rows, so with per-project rules
it must delete rows, or a short retention would wait for the longest one of its part.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from spanwise.core.retention import LABELS, LOGS, METRICS, PREDICTIONS, SPANS, RetentionPolicy
from spanwise.request_context import DEFAULT_PROJECT, SYSTEM, acting
from spanwise.store.clickhouse.logs_schema import LOGS_TABLE
from spanwise.store.clickhouse.model_signals_schema import SIGNALS_TABLE
from spanwise.store.clickhouse.models_schema import FEEDBACK_TABLE, PENDING_FEEDBACK_TABLE
from spanwise.store.clickhouse.otlp_metrics_schema import TABLES as OTLP_METRIC_TABLES
from spanwise.store.clickhouse.projects import PROJECT_COLUMN
from spanwise.store.clickhouse.literals import quoted
from spanwise.store.clickhouse.session import SqlArea

#: The tables of each kind and the time their rows' age counts from (written as the
#: engine prints it back, so an unchanged rule is recognised and left alone).
RETENTION_TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    SPANS: (("otel_traces", "toDateTime(Timestamp)"), ("otel_traces_trace_id_ts", "toDateTime(Start)")),
    LOGS: ((LOGS_TABLE, "toDateTime(Timestamp)"),),
    METRICS: tuple((table, "toDateTime(TimeUnix)") for table in OTLP_METRIC_TABLES.values()),
    PREDICTIONS: (("predictions", "toDateTime(Timestamp)"), (SIGNALS_TABLE, "ComputedAt")),
    LABELS: ((FEEDBACK_TABLE, "toDateTime(ReceivedAt)"), (PENDING_FEEDBACK_TABLE, "toDateTime(ReceivedAt)")),
}
_PARTS_ONLY_TABLE = "otel_traces"
_TTL = re.compile(r" TTL (.+?)(?: SETTINGS |$)", re.DOTALL)
_PARTS_ONLY = re.compile(r"\bttl_only_drop_parts = (\d)")


def _names(project: str) -> list[str]:
    """The `Project` values of a project's rows ('' too for the default: see store.clickhouse.projects)."""
    return [project, ""] if project == DEFAULT_PROJECT else [project]


def _is(project: str) -> str:
    names = _names(project)
    if len(names) == 1:
        return f"{PROJECT_COLUMN} = {quoted(project)}"
    return f"{PROJECT_COLUMN} IN ({', '.join(quoted(n) for n in names)})"


def ttl_rules(column: str, default_days: int, exceptions: dict[str, int]) -> str:
    """The TTL rules of one table, in the form ClickHouse prints them back ('' when
    nothing expires)."""
    rules = [f"{column} + toIntervalDay({days}) WHERE {_is(project)}" for project, days in exceptions.items() if days]
    if default_days and not exceptions:
        rules.append(f"{column} + toIntervalDay({default_days})")
    elif default_days:
        others = ", ".join(quoted(name) for project in exceptions for name in _names(project))
        rules.append(f"{column} + toIntervalDay({default_days}) WHERE {PROJECT_COLUMN} NOT IN ({others})")
    return ", ".join(rules)


def retention_statements(table: str, create_query: str, wanted: str, per_project: bool) -> list[str]:
    """What makes `table` (created as `create_query`) apply the rules `wanted`."""
    found = _TTL.search(create_query)
    statements = []
    if " ".join((found.group(1) if found else "").split()) != wanted:
        statements.append(f"ALTER TABLE `{table}` MODIFY TTL {wanted}" if wanted else f"ALTER TABLE `{table}` REMOVE TTL")
    parts_only = _PARTS_ONLY.search(create_query)
    if table == _PARTS_ONLY_TABLE and parts_only and parts_only.group(1) != str(int(not per_project)):
        statements.append(f"ALTER TABLE `{table}` MODIFY SETTING ttl_only_drop_parts = {int(not per_project)}")
    return statements


class SqlRetention(SqlArea):
    """The backend supplies `_execute` and `_query`."""



    def apply_retention(self, policy: RetentionPolicy) -> list[str]:
        with acting(SYSTEM):
            created = {r["name"]: r["q"] for r in self._query(
                "SELECT name, create_table_query AS q FROM system.tables WHERE database = currentDatabase()"
            ).to_pylist()}
            changed = []
            for kind, tables in RETENTION_TABLES.items():
                exceptions = policy.exceptions(kind)
                for table, column in tables:
                    if table not in created:
                        continue
                    wanted = ttl_rules(column, policy.default_days, exceptions)
                    statements = retention_statements(table, created[table], wanted, bool(exceptions))
                    for statement in statements:
                        self._execute(statement)
                    changed += [table] if statements else []
        return changed
