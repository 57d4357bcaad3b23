"""A small Python client for a running Spanwise server, for notebooks and ML tools.

Needs only the standard library and pyarrow (not the server's dependencies, nor the
SDK's); pandas is optional and only needed for `predictions()`:

    from spanwise.client import SpanwiseClient
    df = SpanwiseClient("http://localhost:16686").predictions("churn", version="v2")
"""

from __future__ import annotations

import io
import urllib.parse
from datetime import datetime, timezone
from typing import Any, Union

import pyarrow as pa
import pyarrow.parquet as pq

from spanwise import api_http

DEFAULT_URL = "http://localhost:16686"
#: A time: Unix nanoseconds, an aware (or UTC) datetime, or ISO 8601 text.
TimeLike = Union[int, datetime, str]


class SpanwiseClientError(Exception):
    """The server answered with an error (status and message) or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def to_unix_ns(value: TimeLike) -> int:
    """Unix nanoseconds of an int (taken as ns), a datetime (naive = UTC) or ISO 8601 text
    (digits only = ns)."""
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    delta = value - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000


class SpanwiseClient:
    """Reads from a Spanwise server's HTTP API (`base_url`, the query port, default 16686)."""

    def __init__(self, base_url: str = DEFAULT_URL, timeout: float = 300.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def predictions_parquet(
        self, model: str, version: str | None = None, start: TimeLike | None = None,
        end: TimeLike | None = None, limit: int | None = None,
    ) -> bytes:
        """The model's predictions with labels as Parquet bytes (see `predictions_table`)."""
        params: dict[str, Any] = {"format": "parquet"}
        if version:
            params["version"] = version
        if start is not None:
            params["start"] = to_unix_ns(start)
        if end is not None:
            params["end"] = to_unix_ns(end)
        if limit is not None:
            params["limit"] = limit
        return self._get(f"/api/v1/models/{urllib.parse.quote(model, safe='')}/predictions", params)

    def predictions_table(
        self, model: str, version: str | None = None, start: TimeLike | None = None,
        end: TimeLike | None = None, limit: int | None = None,
    ) -> pa.Table:
        """Predictions in [start, end] (default: all up to now), oldest first, at most `limit`
        (server default 100,000): timestamp, prediction_id, trace_id, span_id, service,
        model, version, prediction_value, prediction_label, confidence, feature.<name>,
        score.<name>, attribution.<name>, label, label_timestamp, label_source."""
        return pq.read_table(io.BytesIO(self.predictions_parquet(model, version, start, end, limit)))

    def predictions(
        self, model: str, version: str | None = None, start: TimeLike | None = None,
        end: TimeLike | None = None, limit: int | None = None,
    ) -> Any:
        """`predictions_table` as a pandas DataFrame (pandas must be installed)."""
        try:
            import pandas  # noqa: F401
        except ImportError:
            raise ImportError(
                "SpanwiseClient.predictions() returns a pandas DataFrame and needs pandas: pip install pandas "
                "(or use predictions_table() for a pyarrow Table)"
            ) from None
        return self.predictions_table(model, version, start, end, limit).to_pandas()

    def _get(self, path: str, params: dict[str, Any]) -> bytes:
        url = f"{self.base_url}{path}?{urllib.parse.urlencode(params)}"
        try:
            return api_http.call(url, timeout=self.timeout)[1]
        except api_http.ApiFailure as exc:
            if exc.status is None:
                raise SpanwiseClientError(f"cannot reach {self.base_url}: {exc.reason}") from None
            raise SpanwiseClientError(str(exc), exc.status) from None
