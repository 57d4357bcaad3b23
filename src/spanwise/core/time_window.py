"""Which timestamps a received record may carry: the ingest time window.

The store partitions spans, predictions, logs and metric points by day, and ClickHouse
refuses an insert that touches more than a hundred partitions: one request of spans a day
apart each, or from 1970 and 2262, made every later flush fail. Records are therefore
accepted only within `[now - max_age, now + max_ahead]` (the window Loki and Tempo also
keep: backfills of recent history work, clock skew of minutes is absorbed); the others
are rejected through OTLP's `partial_success` with a message, never stored or retried.
A batch then spans at most `max_age_days + 2` partitions.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

DAY_S = 86_400


@dataclass(frozen=True)
class TimeWindow:
    """Accepted record times relative to the receiving clock."""

    max_age_s: float = 30 * DAY_S
    max_ahead_s: float = 3_600.0

    def bounds_ns(self, now_ns: int | None = None) -> tuple[int, int]:
        """The oldest and newest accepted time, in Unix nanoseconds."""
        now = time.time_ns() if now_ns is None else now_ns
        low = now - self.max_age_s * 1e9 if math.isfinite(self.max_age_s) else 0
        high = now + self.max_ahead_s * 1e9 if math.isfinite(self.max_ahead_s) else 2**64 - 1
        return max(0, int(low)), min(2**64 - 1, int(high))

    def check(self, unix_nanos: pa.Array) -> tuple[str, pa.Array]:
        """The reject message and a mask of the times inside the window (Unix ns, as uint64)."""
        low, high = self.bounds_ns()
        if unix_nanos.type != pa.uint64():
            unix_nanos = pc.cast(unix_nanos, pa.uint64(), safe=False)
        inside = pc.and_(
            pc.greater_equal(unix_nanos, pa.scalar(low, unix_nanos.type)),
            pc.less_equal(unix_nanos, pa.scalar(high, unix_nanos.type)),
        )
        return (
            f"times must lie within {self.max_age_s / DAY_S:g} days before and "
            f"{self.max_ahead_s:g} s after the receiver's clock",
            pc.fill_null(inside, False),
        )


DEFAULT_WINDOW = TimeWindow()
#: For decoding recorded data in tests and tools: every representable time.
ANY_TIME = TimeWindow(math.inf, math.inf)
