"""Request bodies, read one way for every route: size-limited, linear, bounded in flight.

`read_body` refuses a declared Content-Length over the limit before reading anything and
stops streaming at the limit (413 either way), collecting chunks in a list (never
`body += chunk`, which is quadratic). `gunzip` decompresses multi-member gzip in linear
time with a cap on members and on the decompressed size. `InflightBytes` bounds the bytes
of OTLP bodies being read, decompressed and decoded at once across every receiver: past
it, requests are refused as retryable (429 / UNAVAILABLE with Retry-After) instead of
queueing without bound.
"""

from __future__ import annotations

import contextlib
import json
import zlib
from typing import Any, Callable, Iterator

from starlette.requests import Request

from spanwise.errors import MalformedPayload, PayloadTooLarge, PipelineFull

MAX_GZIP_MEMBERS = 1000
"""gzip members in one body (RFC 1952 allows several; real clients send one or a few)."""

_GZIP_CHUNK = 64 * 1024
"""Input fed to zlib at a time, so a member's leftover input (`unused_data`, a copy) is small."""

Take = Callable[[int], None]


async def read_body(request: Request, limit: int, take: Take | None = None) -> bytes:
    """The whole body, at most `limit` bytes; each byte is also passed to `take` (the
    in-flight budget) before it is kept, so a refused request stops being read."""
    declared = request.headers.get("content-length", "").strip()
    if declared and not declared.isdigit():
        raise MalformedPayload(f"invalid Content-Length {declared!r}")
    if declared and int(declared) > limit:
        raise PayloadTooLarge(f"body of {declared} bytes exceeds the limit of {limit} bytes")
    reserved = int(declared) if declared else 0
    if take and reserved:
        take(reserved)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body exceeds the limit of {limit} bytes")
        if take and size > reserved:
            take(size - reserved)
            reserved = size
        chunks.append(chunk)
    return b"".join(chunks)


def gunzip(body: bytes, limit: int) -> bytes:
    """Every gzip member decompressed and joined, at most `limit` bytes in total (gzip
    bombs), at most `MAX_GZIP_MEMBERS` members; anything that is not gzip is malformed."""
    if not body:
        raise MalformedPayload("invalid gzip body: empty")
    view = memoryview(body)
    parts: list[bytes] = []
    position = total = members = 0
    while position < len(view):
        members += 1
        if members > MAX_GZIP_MEMBERS:
            raise MalformedPayload(f"invalid gzip body: more than {MAX_GZIP_MEMBERS} gzip members")
        position, size = _gunzip_member(view, position, limit - total, parts, limit)
        total += size
    return b"".join(parts)


def _gunzip_member(view: memoryview, position: int, room: int, parts: list[bytes], limit: int) -> tuple[int, int]:
    """Decompress the member starting at `position` into `parts`, at most `room` bytes;
    returns where the next member starts and how many bytes it decompressed to."""
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    total = 0
    while not decompressor.eof:
        if position >= len(view):
            raise MalformedPayload("invalid gzip body: truncated")
        chunk = view[position : position + _GZIP_CHUNK]
        position += len(chunk)
        try:
            data = decompressor.decompress(chunk, room + 1 - total)
        except zlib.error as exc:
            raise MalformedPayload(f"invalid gzip body: {exc}") from exc
        total += len(data)
        if total > room or decompressor.unconsumed_tail:
            raise PayloadTooLarge(f"decompressed body exceeds the limit of {limit} bytes")
        parts.append(data)
    return position - len(decompressor.unused_data), total


class InflightBytes:
    """A budget of request bytes being worked on at once. Used from the event loop only
    (no lock). A request is refused only when others hold bytes: one request alone
    always proceeds (its size is bounded by the body limit)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    @contextlib.contextmanager
    def hold(self) -> Iterator[Take]:
        """A `take(n)` that reserves n more bytes (or raises `PipelineFull`); everything
        taken is given back when the block ends."""
        held = 0

        def take(count: int) -> None:
            nonlocal held
            if self.used and self.used + count > self.limit:
                raise PipelineFull(
                    f"too many request bytes in flight ({self.used} of {self.limit}, server.max_inflight_bytes): "
                    "retry later"
                )
            self.used += count
            held += count

        try:
            yield take
        finally:
            self.used -= held


async def read_json_object(request: Request, limit: int, expected: str = "") -> dict[str, Any]:
    """The body as a JSON object (at most `limit` bytes); anything else is a 400 saying so,
    with `expected` (e.g. the fields) after the message when given."""
    raw = await read_body(request, limit)
    try:
        body = json.loads(raw or b"null")
    except ValueError as exc:
        raise MalformedPayload(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MalformedPayload("the body must be a JSON object" + (f": {expected}" if expected else ""))
    return body
