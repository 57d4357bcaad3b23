"""Trace ids as text: the one rule for what a well-formed id is.

Spans store `TraceId` as 32 lower-case hex digits (`receive/decode.py` writes them so). Ids
arriving in URLs and query strings are checked here, in one place, so every read answers a
malformed id the same way. Jaeger clients drop leading zeros, so the trace views accept
1 to 32 digits and pad; places without that history (a trace's logs) ask for all 32.
"""

from __future__ import annotations

from spanwise.errors import InvalidQuery

TRACE_ID_DIGITS = 32
_HEX = frozenset("0123456789abcdef")


def is_trace_id(text: str) -> bool:
    """Exactly 32 lower-case hex digits: an id as stored (a filter, not a parser)."""
    return len(text) == TRACE_ID_DIGITS and _HEX.issuperset(text)


def parse_trace_id(text: str | None, *, short_ok: bool = True) -> str:
    """The stored form of a trace id given by a client: lower-case, left-padded to 32
    digits. With `short_ok` (the trace views, for Jaeger clients) 1-32 hex digits of either
    case are accepted, otherwise exactly 32; anything else raises `InvalidQuery`."""
    lowered = (text or "").lower()
    fits = 0 < len(lowered) <= TRACE_ID_DIGITS if short_ok else len(lowered) == TRACE_ID_DIGITS
    if not fits or not _HEX.issuperset(lowered):
        expected = "up to 32" if short_ok else "32"
        raise InvalidQuery(f"malformed trace id {text!r}: expected {expected} hex digits")
    return lowered.rjust(TRACE_ID_DIGITS, "0")
