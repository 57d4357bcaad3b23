"""Read rows out of the tabular things ML code passes around (pandas DataFrames, numpy
arrays, lists of dicts or lists) without importing pandas or numpy here."""

from __future__ import annotations

from typing import Any, Sequence


def column_names(data: Any, names: Sequence[str] | None = None, width: int | None = None) -> list[str]:
    """Explicit `names`, else a DataFrame's columns, else `f0..f<n-1>`."""
    if names is not None:
        return [str(n) for n in names]
    columns = getattr(data, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    if isinstance(data, Sequence) and data and isinstance(data[0], dict):
        return [str(k) for k in data[0]]
    return [f"f{i}" for i in range(width or 0)]


def rows(data: Any, names: Sequence[str] | None = None) -> tuple[list[str], list[list[Any]]]:
    """Column names and the rows as lists of plain values."""
    if hasattr(data, "itertuples"):
        return column_names(data, names), [list(t) for t in data.itertuples(index=False, name=None)]
    if isinstance(data, Sequence) and data and isinstance(data[0], dict):
        header = column_names(data, names)
        return header, [[row.get(k) for k in header] for row in data]
    listed = data.tolist() if hasattr(data, "tolist") else [list(r) for r in data]
    if listed and not isinstance(listed[0], list):
        listed = [[v] for v in listed]
    return column_names(data, names, len(listed[0]) if listed else 0), listed


def records(data: Any, names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The rows as dicts keyed by column name."""
    header, values = rows(data, names)
    return [dict(zip(header, row)) for row in values]


def row_count(data: Any) -> int | None:
    """Rows of a table-like value, None when it is not one."""
    shape = getattr(data, "shape", None)
    if shape:
        return int(shape[0])
    if isinstance(data, (list, tuple)):
        return len(data)
    return None


def column_profile(data: Any) -> tuple[dict[str, str], dict[str, int]] | None:
    """Column types and null counts of a table-like value (None when it is not one)."""
    if hasattr(data, "dtypes") and hasattr(data, "isna"):
        nulls = data.isna().sum()
        return {str(c): str(t) for c, t in data.dtypes.items()}, {str(c): int(nulls[c]) for c in data.columns}
    if isinstance(data, (list, tuple)) and data and isinstance(data[0], dict):
        types: dict[str, str] = {}
        counts: dict[str, int] = {}
        for row in data:
            for key, value in row.items():
                if value is None or value != value:  # NaN is not equal to itself
                    counts[str(key)] = counts.get(str(key), 0) + 1
                else:
                    types.setdefault(str(key), type(value).__name__)
                    counts.setdefault(str(key), 0)
        return types, counts
    return None
