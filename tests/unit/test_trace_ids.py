"""The one trace-id rule (`core/ids.py`) that every read uses."""

from __future__ import annotations

import pytest

from spanwise.errors import InvalidQuery
from spanwise.core.ids import is_trace_id, parse_trace_id

FULL = "5b8efff798038103d269b633813fc60c"


def test_short_ids_are_padded_and_lowered() -> None:
    assert parse_trace_id(FULL.upper()) == FULL
    assert parse_trace_id("ABC") == "0" * 29 + "abc"


def test_full_length_rule_refuses_short_ids() -> None:
    assert parse_trace_id(FULL.upper(), short_ok=False) == FULL
    with pytest.raises(InvalidQuery, match="expected 32 hex digits"):
        parse_trace_id("abc", short_ok=False)


@pytest.mark.parametrize("bad", ["", None, "xyz", "g" * 32, "a" * 33, "12-34", "abc\n", FULL + "\n", " abc", "١٢"])
def test_malformed_ids_name_the_problem(bad: str | None) -> None:
    with pytest.raises(InvalidQuery, match="malformed trace id .*expected up to 32 hex digits"):
        parse_trace_id(bad)


def test_is_trace_id_accepts_only_the_stored_form() -> None:
    assert is_trace_id(FULL)
    assert not any(is_trace_id(t) for t in [FULL.upper(), FULL[1:], FULL + "\n", FULL[:-1] + "g"])
