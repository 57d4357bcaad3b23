"""The few calls the SDK makes to the query API (feedback, baselines), over the standard
library only: the SDK must not pull in the server's dependencies (or even pyarrow, which
`spanwise.client` needs for its Parquet reads)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


class ApiError(Exception):
    """The server answered with an error status (retrying the same request will not help)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class ApiUnavailable(Exception):
    """The server could not be reached, or asked to retry later (429/503): try again."""


def post(url: str, body: bytes, content_type: str, timeout: float) -> Any:
    """POST `body` and return the decoded JSON answer."""
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        message = f"{exc.code}: {_message(exc.read())}"
        if exc.code in (408, 429, 502, 503, 504):
            raise ApiUnavailable(message) from None
        raise ApiError(message, exc.code) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ApiUnavailable(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from None


def post_json(url: str, payload: Any, timeout: float) -> Any:
    return post(url, json.dumps(payload).encode("utf-8"), "application/json", timeout)


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace")[:500]
