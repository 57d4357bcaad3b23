"""Projects in the store: every data row carries one, every read sees only the caller's.

The one place rows are scoped. Each data table has a `Project` column (default
`'default'`, so rows of older builds and of a server without auth belong to the default
project). Reads are limited with ClickHouse's `additional_table_filters` session
setting, which adds `Project = '<p>'` to every read of every listed table inside any
query (joins, subqueries and `FINAL` included, used by the primary key where it can),
so no SQL statement in the store repeats the filter and none can forget it. Writes get
the project stamped from the request context when their rows do not carry it.

Tables that collapse rows by their sorting key (Replacing-, Summing-MergeTree) get the
project appended to the key, so equal keys of two projects never merge into one row. It
is appended rather than put first because ClickHouse can only extend an existing key;
one definition serves new stores and stores of older builds alike. A key column can
have no default, so rows such a table held before projects have an empty project, which
reads as the default project.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

from spanwise.core.spans import SPAN_SCHEMA
from spanwise.request_context import DEFAULT_PROJECT, current, current_project
from spanwise.store.clickhouse.literals import quoted

PROJECT_COLUMN = "Project"
#: Tables that are the platform's, not a project's: access control and its audit log (tokens name their
#: project in their own column). Tail-sampling decisions are a project's: a trace id names
#: a trace only within its project.
_PLATFORM_TABLES = ("spanwise_auth_", "spanwise_audit")
#: Spans as the ingest log keeps them: with the project they were sent to.
LOGGED_SPAN_SCHEMA = SPAN_SCHEMA.append(pa.field(PROJECT_COLUMN, pa.string(), nullable=False))
_COLLAPSING = ("ReplacingMergeTree", "SummingMergeTree", "AggregatingMergeTree", "CollapsingMergeTree")


@dataclass
class ProjectScope:
    """The data tables of one store (found when the schema is created)."""

    scoped: frozenset[str] = field(default_factory=frozenset)

    @staticmethod
    def is_data_table(name: str, engine: str) -> bool:
        stores = engine.endswith("MergeTree") or engine == "Null"
        return stores and not name.startswith(_PLATFORM_TABLES) and not name.startswith(".inner")

    @staticmethod
    def add_column(table: str, engine: str, sorting_key: str) -> list[str]:
        """The ALTER giving `table` its project (and its sorting key the project, where
        rows with equal keys collapse)."""
        add = f"ALTER TABLE `{table}` ADD COLUMN IF NOT EXISTS {PROJECT_COLUMN} LowCardinality(String)"
        if engine in _COLLAPSING and sorting_key:
            # A key column may have no default expression: rows already there get '' (read
            # as the default project's), every new row is stamped.
            return [add + f", MODIFY ORDER BY ({sorting_key}, {PROJECT_COLUMN})"]
        return [add + f" DEFAULT {quoted(DEFAULT_PROJECT)}"]

    def read_filter(self) -> str:
        """The `SET` limiting a session's reads to the current project (none for the
        platform's own work across projects)."""
        if current().project is None or not self.scoped:
            return "SET additional_table_filters = {}"
        condition = quoted(self.condition())
        pairs = ", ".join(f"{quoted(table)}: {condition}" for table in sorted(self.scoped))
        return "SET additional_table_filters = {" + pairs + "}"

    @staticmethod
    def condition(alias: str = "") -> str:
        """The SQL condition naming the current project's rows (of the table `alias`), for
        statements on the writer connection, which reads unfiltered (INSERT ... SELECT,
        DELETE). Raises where the work is for every project."""
        project = current_project()
        column = f"{alias}.{PROJECT_COLUMN}" if alias else PROJECT_COLUMN
        # '' is the project of rows an older build left in a table keyed by project.
        return f"{column} IN ({quoted(project)}, '')" if project == DEFAULT_PROJECT else f"{column} = {quoted(project)}"

    def stamped(self, table: str, rows: pa.Table) -> pa.Table:
        """`rows` with the current project, when written to a data table without one."""
        if table not in self.scoped or PROJECT_COLUMN in rows.column_names:
            return rows
        project = current_project()
        return rows.append_column(PROJECT_COLUMN, pa.array([project] * rows.num_rows, pa.string()))


def with_project(spans: pa.Table, project: str | None = None) -> pa.Table:
    """`spans` as the ingest log keeps them: today's columns and a project (the given one,
    else the batch's own, else the current context's; the default for batches of older builds)."""
    if project is None and PROJECT_COLUMN not in spans.column_names:
        project = current_project()
    if project is not None:
        spans = spans.drop_columns([PROJECT_COLUMN]) if PROJECT_COLUMN in spans.column_names else spans
        spans = spans.append_column(PROJECT_COLUMN, pa.array([project] * spans.num_rows, pa.string()))
    return spans.select(LOGGED_SPAN_SCHEMA.names).cast(LOGGED_SPAN_SCHEMA)


def older_batch(spans: pa.Table) -> pa.Table:
    """A batch logged by a build without projects belongs to the default project."""
    if PROJECT_COLUMN in spans.column_names:
        return spans
    return spans.append_column(PROJECT_COLUMN, pa.array([DEFAULT_PROJECT] * spans.num_rows, pa.string()))
