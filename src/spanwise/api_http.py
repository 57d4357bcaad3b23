"""The one HTTP client of Spanwise's own API, over the standard library only.

The SDK (feedback, baselines), `spanwise.client`, `spanwise baseline upload` and the demo
all call the query API; they share this request, its timeouts-as-given and its reading of
error answers. It lives outside `spanwise.sdk` so that the client and the CLI can use it
without importing the SDK (and OpenTelemetry), and imports nothing but the standard
library so the SDK may (`tests/unit/test_sdk_import.py`).
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

#: The API token every call sends as its bearer when set (a server with auth needs one).
TOKEN_VARIABLE = "SPANWISE_API_TOKEN"
#: Statuses that say "later": a retry of the same request may succeed.
RETRY_LATER = frozenset({408, 429, 502, 503, 504})


class ApiFailure(Exception):
    """A call that did not succeed. After an error answer the message is "<status>: <the
    server's message>" and `body` the answer as sent; when nothing answered `status` is
    None and `reason` says why."""

    def __init__(self, message: str, status: int | None = None, body: bytes = b"", reason: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body
        self.reason = reason


class ApiError(ApiFailure):
    """The server answered with an error status (retrying the same request will not help)."""


class ApiUnavailable(ApiFailure):
    """The server could not be reached, or asked to retry later (408/429/502/503/504): try again."""


def call(url: str, *, timeout: float, method: str = "GET", body: bytes | None = None,
         content_type: str = "") -> tuple[int, bytes]:
    """Send one request; the answer's status and body. An error status raises `ApiError`
    (`ApiUnavailable` for the statuses in `RETRY_LATER`), no answer `ApiUnavailable`;
    callers that need not tell them apart catch `ApiFailure`. A URL that is not http(s)
    raises ValueError at once: a caller's mistake, not an outage. With `SPANWISE_API_TOKEN`
    set, the request carries it as `Authorization: Bearer`."""
    headers = {"Content-Type": content_type} if content_type else {}
    token = os.environ.get(TOKEN_VARIABLE, "").strip()
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as exc:
        answer = exc.read()
        message = f"{exc.code}: {error_message(answer)}"
        if exc.code in RETRY_LATER:
            raise ApiUnavailable(message, exc.code, answer) from None
        raise ApiError(message, exc.code, answer) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:  # ValueError: http.client's refusals
        reason = str(getattr(exc, "reason", exc))
        raise ApiUnavailable(f"cannot reach {url}: {reason}", reason=reason) from None


def post(url: str, body: bytes, content_type: str, timeout: float) -> Any:
    """POST `body` and return the decoded JSON answer (an answer that is not JSON counts as
    no answer: `ApiUnavailable`)."""
    answer = call(url, timeout=timeout, method="POST", body=body, content_type=content_type)[1]
    try:
        return json.loads(answer or b"null")
    except ValueError as exc:
        raise ApiUnavailable(f"cannot reach {url}: {exc}", reason=str(exc)) from None


def post_json(url: str, payload: Any, timeout: float) -> Any:
    return post(url, json.dumps(payload).encode("utf-8"), "application/json", timeout)


def error_message(body: bytes) -> str:
    """The message of an error answer (`{"error": {"message": ...}}`), else its text."""
    try:
        return str(json.loads(body)["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return body.decode("utf-8", "replace")[:500]
