"""The transport seam (`store/clickhouse/session.py`): what every ClickHouse transport's
`Session` must do for the shared SQL — a statement, a read into Arrow scoped to the current
project, an insert stamped with it — whatever the transport (chDB today)."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from spanwise.request_context import SYSTEM, NoRequestContext, acting, for_project
from spanwise.store import Store
from spanwise.store.clickhouse.session import Session

PROTOCOLS = (Session,)
TABLE = "contract_session_rows"


def _session(store: Store) -> Session:
    session = getattr(store, "_session")
    assert isinstance(session.projects.scoped, frozenset)
    return session  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def session(store: Store) -> Session:
    opened = _session(store)
    assert opened.start() is False, "the store already opened its session; a second start is a no-op"
    with acting(SYSTEM):
        opened.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (Project LowCardinality(String), k String, v Float64) "
                       "ENGINE = MergeTree ORDER BY k")
    opened.projects.scoped = opened.projects.scoped | {TABLE}
    return opened


def _rows(*values: tuple[str, float]) -> pa.Table:
    return pa.table({"k": [k for k, _ in values], "v": [v for _, v in values]})


def test_insert_stamps_the_current_project_and_query_reads_only_it(session: Session) -> None:
    with acting(for_project("red")):
        session.insert(TABLE, _rows(("a", 1.0), ("b", 2.0)))
    with acting(for_project("blue")):
        session.insert(TABLE, _rows(("a", 10.0)))
        blue = session.query(f"SELECT k, v FROM {TABLE} ORDER BY k").to_pylist()
    with acting(for_project("red")):
        red = session.query(f"SELECT k, sum(v) AS v FROM {TABLE} WHERE k IN {{keys:Array(String)}} GROUP BY k ORDER BY k",
                            {"keys": "['a','b']"}).to_pylist()
    assert blue == [{"k": "a", "v": 10.0}]
    assert red == [{"k": "a", "v": 1.0}, {"k": "b", "v": 2.0}]
    with acting(SYSTEM):
        everyone = session.query(f"SELECT Project, count() AS n FROM {TABLE} GROUP BY Project ORDER BY Project").to_pylist()
    assert everyone == [{"Project": "blue", "n": 1}, {"Project": "red", "n": 2}]


def test_an_unscoped_write_into_a_project_table_is_refused(session: Session) -> None:
    with acting(SYSTEM), pytest.raises(NoRequestContext):
        session.insert(TABLE, _rows(("c", 3.0)))


def test_a_query_answers_an_empty_table_when_nothing_matches(session: Session) -> None:
    with acting(for_project("green")):
        found: Any = session.query(f"SELECT k FROM {TABLE}")
    assert isinstance(found, pa.Table) and found.num_rows == 0
