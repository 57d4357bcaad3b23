"""With the platform down, the SDK never raises into user code and never blocks it for
long: predictions, a large sklearn batch, feedback, a training run's baseline upload,
logs through the `logging` handler, metrics, flush and shutdown against a closed port,
over OTLP/HTTP and gRPC."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from spanwise.sdk import Spanwise


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_nothing_raises_and_everything_is_bounded(protocol: str) -> None:
    port = closed_port()
    started = time.monotonic()
    sw = Spanwise("down", f"http://127.0.0.1:{port}", protocol=protocol, api_url=f"http://127.0.0.1:{port}",
                  export_timeout_s=1.0, log_handler="down.app", metric_interval_s=0.2)
    app_log = logging.getLogger("down.app")
    app_log.setLevel(logging.INFO)
    assert sw.config.logs and sw.config.metrics and sw.log_handler in app_log.handlers
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20_000, 3))
    model = sw.wrap(LogisticRegression().fit(X[:100], (X[:100, 0] > 0).astype(int)), "m", "v1")
    model.predict(X)  # larger than the pacing step: one failed flush, then no more waiting
    ids = model.last_prediction_ids
    for index in range(2_000):
        with sw.prediction("m", "v1"):
            app_log.info("scored %d", index)
    time.sleep(0.5)  # a few periodic metric exports fail meanwhile
    for pid in ids[:100]:
        sw.feedback(pid, 1)
    sw.feedback("", None)  # invalid: logged and counted, not raised
    with sw.training_run("m", "v1") as run:
        run.set_training_data(X[:100])
    assert run.baseline is None and run.baseline_error and "cannot reach" in run.baseline_error
    assert sw.flush(timeout_s=2.0) is False
    sw.shutdown(timeout_s=2.0)
    sw.shutdown(timeout_s=2.0)  # safe twice
    app_log.info("after shutdown")  # the handler is gone: nothing to a stopped provider
    assert sw.log_handler not in app_log.handlers
    assert len(ids) == 20_000
    assert sw.feedback_sender.stats["invalid"] == 1 and sw.feedback_sender.stats["unavailable"] >= 1
    assert time.monotonic() - started < 25


def test_a_program_using_init_exits_promptly_with_the_platform_down() -> None:
    """Module-level API, atexit handlers included (logging's flush of the handler on the
    root logger among them): the interpreter exits, status 0."""
    script = textwrap.dedent(f"""
        import logging
        from spanwise import sdk
        sdk.init(service_name="down", endpoint="http://127.0.0.1:{closed_port()}", export_timeout_s=1.0,
                 log_handler=True)
        pid = sdk.record_prediction("m", "v1", features={{"a": 1}}, value=0.5)
        sdk.feedback(pid, 1.0)
        with sdk.prediction("m", "v1") as p:
            logging.getLogger("app").warning("inside the prediction")
            p.set_output(label="x", confidence=0.4)
        print("done", pid == sdk.get().feedback_sender._pending[0].prediction_id)
    """)
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "done True"
    assert time.monotonic() - started < 20
