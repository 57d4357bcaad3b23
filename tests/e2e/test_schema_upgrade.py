"""A store written by an older build: its materialized views are replaced by this build's
definitions at start, so routing changes (filters, columns) reach existing stores."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

# Run in a child process: chDB allows one engine per process.
BREAK_VIEW = textwrap.dedent("""
    import sys, chdb
    connection = chdb.connect(sys.argv[1])
    sql = connection.query(
        "SELECT create_table_query FROM system.tables WHERE name = 'otel_traces_mv'", "CSV").bytes().decode()
    sql = sql.strip().strip('"').replace('""', '"')
    assert "WHERE" in sql, sql
    connection.query("DROP VIEW otel_traces_mv")
    connection.query(sql.replace("WHERE", "WHERE 0 AND", 1))
    connection.close()
""")


def _send_span(server: SpanwiseProcess, name: str) -> None:
    provider = TracerProvider(resource=Resource.create({"service.name": "upgrade"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=server.grpc_endpoint, insecure=True)))
    provider.get_tracer("e2e").start_span(name).end()
    provider.shutdown()


def _names(server: SpanwiseProcess) -> set[str]:
    found = server.query("/api/v1/traces", service="upgrade", lookback="1h").json()["traces"]
    return {t["rootSpanName"] for t in found}


def test_old_views_are_replaced_at_start(tmp_path: Path) -> None:
    server = SpanwiseProcess(str(tmp_path / "data"))
    server.start()
    _send_span(server, "before")
    assert server.wait_for(lambda: _names(server) == {"before"}), server.log()
    assert server.stop() == 0
    subprocess.run([sys.executable, "-c", BREAK_VIEW, str(tmp_path / "data")], check=True, timeout=120)
    server.start()
    try:
        _send_span(server, "after")
        assert server.wait_for(lambda: _names(server) == {"before", "after"}), server.log()
    finally:
        server.stop()
