"""`spanwise.sdk` imports and records predictions (logs and metrics pipelines included)
without the server's dependencies (chDB, ptars, Starlette, uvicorn, gRPC, pyarrow...):
proven in a fresh interpreter whose import hook refuses them."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = ["chdb", "ptars", "starlette", "uvicorn", "uvloop", "httptools", "grpc", "pyarrow", "orjson", "scipy",
           "yaml", "pandas", "sklearn", "spanwise.serve", "spanwise.store", "spanwise.receive", "spanwise.process",
           "spanwise.query", "spanwise.analyze", "spanwise.client", "spanwise.config"]

SCRIPT = textwrap.dedent("""
    import sys
    BLOCKED = {blocked!r}

    class Block:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"blocked: {{name}}")
            return None

    sys.meta_path.insert(0, Block())
    from spanwise import sdk
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    sw = sdk.Spanwise("import-check", "http://127.0.0.1:9", exporter=exporter, log_handler="import-check",
                      export_timeout_s=1.0)
    pid = sw.record_prediction("m", "v1", features={{"a": 1.0}}, value=0.5)
    __import__("logging").getLogger("import-check").warning("logs and metrics pipelines built")
    with sw.pipeline_run("etl") as run:
        with sw.pipeline_step("clean") as step:
            step.record([{{"a": 1, "b": None}}])
    sw.flush(2)
    names = sorted(s.name for s in exporter.get_finished_spans())
    loaded = sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED))
    print(pid, names, loaded)
""")


def test_sdk_needs_none_of_the_server_dependencies() -> None:
    result = subprocess.run([sys.executable, "-c", SCRIPT.format(blocked=BLOCKED)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "['clean', 'pipeline etl', 'predict'] []" in result.stdout


def test_http_exporter_does_not_need_grpc() -> None:
    """The default protocol (OTLP/HTTP) builds its exporter without importing grpc."""
    script = SCRIPT.format(blocked=BLOCKED).replace(', exporter=exporter', '')
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
