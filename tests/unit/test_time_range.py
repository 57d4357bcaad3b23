"""The one time-range order check (`core/time_range.py`) and the HTTP edge's use of it."""

from __future__ import annotations

import pytest

from spanwise.errors import InvalidQuery
from spanwise.core.time_range import check_time_range
from spanwise.serve.params import time_range


def test_an_empty_range_is_accepted_unless_refused() -> None:
    check_time_range(5, 5)
    check_time_range(5, 6, empty_ok=False)
    with pytest.raises(InvalidQuery, match=r"the time range must end after it starts \(start 5, end 5\)"):
        check_time_range(5, 5, empty_ok=False)


def test_a_reversed_range_names_which_range() -> None:
    with pytest.raises(InvalidQuery, match=r"the reference range must end after it starts \(start 6, end 5\)"):
        check_time_range(6, 5, what="reference range")


def test_the_edge_refuses_a_reversed_range_and_keeps_lookbacks() -> None:
    assert time_range({"start": "100", "end": "200"}) == (100, 200)
    assert time_range({"end": "200", "lookback": "1h"}) == (0, 200)
    assert time_range({"end": "200", "lookback": "0s"}) == (200, 200)
    with pytest.raises(InvalidQuery, match="time range must end after it starts"):
        time_range({"start": "200", "end": "100"})
