"""Labels waiting for their prediction (`PendingFeedbackStore` in store/protocols).

A label can arrive before its prediction is stored (the span is a flush away, or a
client replays history faster than it exports spans). Such labels wait in
`feedback_pending`; the resolver (`analyze.feedback.PendingFeedbackResolver`) moves each
one to `feedback` once its prediction exists, and drops those older than the expiry.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spanwise.request_context import current
from spanwise.store.clickhouse.literals import Literal, array_literal, quoted
from spanwise.store.clickhouse.models_schema import FEEDBACK_TABLE, PENDING_FEEDBACK_TABLE
from spanwise.store.clickhouse.session import SqlArea
from spanwise.store.protocols import PendingFeedbackStats

_KEY = "tuple(toInt64(toUnixTimestamp64Nano(ReceivedAt)), PredictionId, TraceId, SpanId)"


class SqlFeedback(SqlArea):
    """Pending labels and the latest label per prediction; the backend supplies `_query`/`_execute`/`_insert`."""




    def latest_labels(self, prediction_ids: list[str]) -> dict[str, tuple[str, int]]:
        if not prediction_ids:
            return {}
        rows = self._query(
            "SELECT PredictionId, argMax(Label, (Timestamp, ReceivedAt)) AS label, "
            "toInt64(toUnixTimestamp64Nano(max(Timestamp))) AS ts "
            f"FROM {FEEDBACK_TABLE} WHERE PredictionId IN {{ids:Array(String)}} GROUP BY PredictionId",
            {"ids": array_literal(prediction_ids)},
        ).to_pylist()
        return {r["PredictionId"]: (r["label"], int(r["ts"])) for r in rows}

    def write_pending_feedback(self, rows: pa.Table) -> None:
        if rows.num_rows:
            self._insert(PENDING_FEEDBACK_TABLE, rows)

    def pending_feedback_projects(self) -> list[str]:
        return self._projects_in(PENDING_FEEDBACK_TABLE)

    def pending_feedback(self, limit: int) -> pa.Table:
        return self._query(
            "SELECT PredictionId, TraceId, SpanId, Label, toInt64(toUnixTimestamp64Nano(Timestamp)) AS Timestamp, "
            "toInt64(toUnixTimestamp64Nano(ReceivedAt)) AS ReceivedAt "
            f"FROM {PENDING_FEEDBACK_TABLE} ORDER BY ReceivedAt LIMIT {{limit:UInt32}}",
            {"limit": limit},
        )

    def forget_pending_feedback(self, rows: pa.Table) -> None:
        if not rows.num_rows:
            return
        received = rows.column("ReceivedAt").to_pylist()
        ids = zip(*(rows.column(c).to_pylist() for c in ("PredictionId", "TraceId", "SpanId")))
        keys = ",".join(f"({int(r)},{quoted(p)},{quoted(t)},{quoted(s)})" for r, (p, t, s) in zip(received, ids))
        self._query(f"DELETE FROM {PENDING_FEEDBACK_TABLE} WHERE {self._own_rows()} AND "
                    f"{_KEY} IN {{keys:Array(Tuple(Int64, String, String, String))}}", {"keys": Literal(f"[{keys}]")})

    def expire_pending_feedback(self, received_before_ns: int) -> int:
        params = {"before": received_before_ns}
        older = f"ReceivedAt < fromUnixTimestamp64Nano({{before:Int64}})"
        expired = int(self._query(f"SELECT count() AS n FROM {PENDING_FEEDBACK_TABLE} WHERE {older}", params).column("n")[0].as_py())
        if expired:
            self._query(f"DELETE FROM {PENDING_FEEDBACK_TABLE} WHERE {self._own_rows()} AND {older}", params)
        return expired

    def pending_feedback_stats(self) -> PendingFeedbackStats:
        row = self._query(
            f"SELECT count() AS n, toInt64(toUnixTimestamp64Nano(min(ReceivedAt))) AS oldest FROM {PENDING_FEEDBACK_TABLE}"
        ).to_pylist()[0]
        return PendingFeedbackStats(int(row["n"]), int(row["oldest"]) if row["n"] else None)

    def _own_rows(self) -> str:
        """A DELETE is not limited by the session's read filter (`store.projects`): it names
        the current project's rows itself, or every project's for the platform's own work."""
        return "1" if current().project is None else self.projects.condition()
