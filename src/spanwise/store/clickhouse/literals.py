"""The one place string values are made safe for ClickHouse SQL.

ClickHouse reads a `{name:String}` query parameter in its *escaped* (TSV) text format:
a backslash starts an escape and a raw tab or newline ends the value. Passed as is,
`C:\\temp\\new` arrived as `C:<tab>emp<newline>ew` (so a search silently missed the span)
and `abc\\` failed the query. `bind` escapes every string parameter; `quoted` and
`array_literal` build the quoted literals that go inside SQL text or an `Array(String)`
parameter (which ClickHouse parses as a literal, not in the escaped format).
"""

from __future__ import annotations

from typing import Any, Mapping

from spanwise.errors import InvalidQuery

_ESCAPED_FORMAT = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


class Literal(str):
    """Text already in ClickHouse literal form (e.g. an `Array(String)` parameter):
    `bind` passes it through unescaped."""


def escape_param(value: str) -> str:
    """`value` in the escaped format a `{name:String}` parameter is parsed from."""
    return value.translate(_ESCAPED_FORMAT)


def quoted(text: str) -> str:
    """A single-quoted ClickHouse string literal holding exactly `text`."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def array_literal(values: list[str]) -> Literal:
    """A ClickHouse `Array(String)` literal for a query parameter."""
    return Literal("[" + ",".join(quoted(v) for v in values) + "]")


def bind(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters as the engine must receive them: plain strings escaped, literals
    and numbers unchanged. An integer no 64-bit column holds is the caller's error (the
    engine would silently wrap it around)."""
    bound = {}
    for name, value in params.items():
        if isinstance(value, int) and not -(2**63) <= value < 2**64:
            raise InvalidQuery(f"{name}: {value} is out of range for a 64-bit integer")
        bound[name] = escape_param(value) if isinstance(value, str) and not isinstance(value, Literal) else value
    return bound
