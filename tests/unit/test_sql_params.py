"""The escaping helpers against the real engine: every value comes back exactly as bound,
and engine failures become the right Spanwise error."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from spanwise.errors import InvalidQuery, QueryLimitExceeded, StoreUnavailable
from spanwise.store.clickhouse.chdb import ChdbTraceStore
from spanwise.store.clickhouse.query_limits import QueryLimits, classify
from spanwise.store.clickhouse.literals import Literal, array_literal, bind, escape_param, quoted

VALUES = [
    "", "plain", "C:\\temp\\new", "abc\\", "\\", "\\N", "a\tb", "a\nb", "a\rb", "it's", 'say "hi"', "x\\'y",
    "nul\x00byte", "emoji 😀 𝄞", "x' OR '1'='1", "\\t literal", "{v:String}",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChdbTraceStore]:
    chdb_store = ChdbTraceStore(str(tmp_path_factory.mktemp("params")), limits=QueryLimits(timeout_s=1, max_memory_mb=64))
    chdb_store.start()
    yield chdb_store
    chdb_store.shutdown()


def test_escape_param_doubles_backslashes_and_escapes_separators() -> None:
    assert escape_param("C:\\temp\\new") == "C:\\\\temp\\\\new"
    assert escape_param("a\tb\nc\rd") == "a\\tb\\nc\\rd"
    assert escape_param("it's") == "it's"


def test_quoted_and_array_literal() -> None:
    assert quoted("it's \\") == "'it\\'s \\\\'"
    assert array_literal(["a", "b'c"]) == "['a','b\\'c']"
    assert isinstance(array_literal([]), Literal)


def test_bind_escapes_strings_only() -> None:
    bound = bind({"s": "a\\b", "n": 5, "x": 1.5, "a": array_literal(["a\\b"])})
    assert bound == {"s": "a\\\\b", "n": 5, "x": 1.5, "a": "['a\\\\b']"}
    with pytest.raises(InvalidQuery, match="end"):
        bind({"end": 10**30})


@pytest.mark.parametrize("value", VALUES)
def test_string_parameter_round_trips(store: ChdbTraceStore, value: str) -> None:
    row = store._query("SELECT {v:String} AS v, {v:String} = {w:String} AS same", {"v": value, "w": value}).to_pylist()[0]
    assert row == {"v": value, "same": 1}


def test_array_parameter_and_literal_round_trip(store: ChdbTraceStore) -> None:
    rows = store._query(f"SELECT {{a:Array(String)}} AS a, [{', '.join(quoted(v) for v in VALUES)}] AS b",
                        {"a": array_literal(VALUES)}).to_pylist()
    assert rows == [{"a": VALUES, "b": VALUES}]


def test_a_bad_parameter_is_invalid_query(store: ChdbTraceStore) -> None:
    with pytest.raises(InvalidQuery, match="query parameter"):
        store._query("SELECT {n:Int64}", {"n": "not a number"})


def test_a_slow_query_hits_the_time_limit(store: ChdbTraceStore) -> None:
    with pytest.raises(QueryLimitExceeded, match="query_timeout_s=1"):
        store._query("SELECT count() FROM numbers(100000000000) WHERE sipHash64(number) = 1")
    # chDB corrupts the next result on a connection whose query was aborted: not ours.
    assert store._query("SELECT 42 AS n").to_pylist() == [{"n": 42}]


def test_a_big_query_hits_the_memory_limit(store: ChdbTraceStore) -> None:
    with pytest.raises(QueryLimitExceeded, match="query_max_memory_mb=64"):
        store._query("SELECT groupArray(number) FROM numbers(100000000)")
    assert store._query("SELECT 42 AS n").to_pylist() == [{"n": 42}]


def test_statements_and_inserts_are_not_limited(store: ChdbTraceStore, tmp_path: Path) -> None:
    store._execute("CREATE TABLE IF NOT EXISTS big (n UInt64) ENGINE = MergeTree ORDER BY n")
    store._execute("INSERT INTO big SELECT number FROM numbers(20000000)")  # well over 64 MiB of memory if limited
    assert store._query("SELECT count() AS n FROM big").to_pylist() == [{"n": 20000000}]


def test_other_engine_errors_are_store_unavailable(store: ChdbTraceStore) -> None:
    with pytest.raises(StoreUnavailable) as caught:
        store._query("SELECT * FROM no_such_table")
    assert not isinstance(caught.value, (InvalidQuery, QueryLimitExceeded))


def test_classify_without_a_code() -> None:
    assert isinstance(classify("something odd"), StoreUnavailable)
