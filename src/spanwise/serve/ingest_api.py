"""Operating the ingest log: put quarantined batches back after a fix.

A batch the store refused for good sits in `<data-dir>/ingest-log/quarantine/` with its
error beside it, counted under `quarantine` in `/api/v1/status`. Once the cause is fixed
(a newer build, a schema change, more disk), this route moves every quarantined segment
back into the log; the flusher stores each one, or quarantines it again with the new error.
"""

from __future__ import annotations

from typing import Any, Callable

from starlette.requests import Request
from starlette.routing import Route

from spanwise.errors import UnsupportedContentType
from spanwise.serve.native_api import endpoint

JSON = "application/json"


def ingest_routes(requeue_quarantined: Callable[[], int]) -> list[Route]:
    async def require_json(request: Request) -> tuple[()]:
        """A write needs an explicit JSON content type: a cross-site form or `no-cors`
        fetch cannot send one."""
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != JSON:
            raise UnsupportedContentType(f"unsupported content type {content_type or '(none)'!r}: use {JSON}")
        return ()

    def replay_quarantine(request: Request) -> dict[str, Any]:
        """
        ---
        summary: Move every quarantined ingest-log segment back into the log to be stored again.
        description: Send an empty JSON object with Content-Type application/json. Segments the store still refuses return to quarantine with their new error (see /api/v1/status, `quarantine`).
        requestBody: {content: {application/json: {schema: {type: object}}}}
        responses: {200: {description: '{"requeued": N}'}, 415: {description: not application/json}}
        """
        return {"requeued": requeue_quarantined()}

    return [Route("/api/v1/ingest/quarantine/replay", endpoint(replay_quarantine, require_json), methods=["POST"])]
