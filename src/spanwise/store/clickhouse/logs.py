"""SQL for logs (`LogStore` in store/protocols): insert decoded records, read a trace's logs,
search by service, severity, text and time."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from spanwise.core.logs import LOG_SCHEMA
from spanwise.store.protocols import LogQuery
from spanwise.store.clickhouse.logs_schema import LOGS_TABLE
from spanwise.store.clickhouse.session import SqlArea

_COLUMNS = ", ".join(LOG_SCHEMA.names)


class SqlLogs(SqlArea):
    """Writes and reads `otel_logs`; the backend supplies `_query`/`_insert`."""



    def write_logs(self, logs: pa.Table) -> None:
        if logs.num_rows:
            self._insert(LOGS_TABLE, logs.select(LOG_SCHEMA.names))

    def search_logs(self, query: LogQuery) -> pa.Table:
        conditions = ["Timestamp >= fromUnixTimestamp64Nano({lo:Int64})",
                      "Timestamp <= fromUnixTimestamp64Nano({hi:Int64})"]
        params: dict[str, Any] = {"lo": query.start_ns, "hi": query.end_ns, "limit": query.limit}
        if query.trace_id:
            conditions.append("TraceId = {trace:String}")
            params["trace"] = query.trace_id
        if query.service:
            conditions.append("ServiceName = {service:String}")
            params["service"] = query.service
        if query.min_severity:
            conditions.append("SeverityNumber >= {severity:UInt8}")
            params["severity"] = query.min_severity
        if query.text:
            conditions.append("positionCaseInsensitive(Body, {text:String}) > 0")
            params["text"] = query.text
        order = "ASC" if query.trace_id else "DESC"
        sql = (f"SELECT {_COLUMNS} FROM {LOGS_TABLE} WHERE {' AND '.join(conditions)} "
               f"ORDER BY Timestamp {order} LIMIT {{limit:UInt32}}")
        return self._query(sql, params)
