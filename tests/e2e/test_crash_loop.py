"""SIGKILL the server 20 times in a row under continuous load, at random points: during
start-up (the ingest log's replay), during flushes, during the store's merges; restart it
on the same data dir each time. It always comes back, no acknowledged span is lost, and
no span is counted twice in span metrics (the ingest log inserts each segment with a
deduplication token, so a replay of an already stored segment must not add it again)."""

from __future__ import annotations

import os
import random
import subprocess
import threading
import time

import httpx
import pytest
from load_senders import Tally, http_sender, missing_acknowledged, stored_span_counts, template
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

KILLS = 20
SPANS_PER_REQUEST = 20
START_BOUND_S = 20.0  # spawn to healthy, replay included
CONFIG = "ingest:\n  flush_interval_ms: 150\n  flush_rows: 2000\n"
SERVICE = "crashloop"


def _spawn(server: SpanwiseProcess) -> None:
    """Start without waiting for health, so a kill can land in the middle of start-up."""
    server.process = subprocess.Popen(server.command(), stdout=open(server.log_path, "ab"), stderr=subprocess.STDOUT)


def _wait_healthy(server: SpanwiseProcess, bound: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < bound:
        assert server.process is not None and server.process.poll() is None, server.log()
        try:
            if httpx.get(f"{server.query_url}/api/v1/health", timeout=1).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"not healthy within {bound} s: {server.log()}")


def _kill_cycle(server: SpanwiseProcess, rng: random.Random, kill: int) -> float:
    """One restart and one SIGKILL; returns the start-up time (0 when killed during it)."""
    _spawn(server)
    if kill % 3 == 2:  # every third: during start-up, i.e. while the log is being replayed
        time.sleep(rng.uniform(0.3, 2.5))
        server.kill()
        return 0.0
    startup = _wait_healthy(server, START_BOUND_S)
    time.sleep(rng.uniform(0.0, 0.6))  # flushes every 150 ms; merges follow the many small parts
    server.kill()
    return startup


def _metric_calls(server: SpanwiseProcess) -> int:
    text = httpx.get(f"{server.query_url}/metrics", timeout=30).text
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("traces_span_metrics_calls_total{") and f'service_name="{SERVICE}"' in line))


def test_twenty_sigkills_lose_nothing_acknowledged_and_count_nothing_twice(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(CONFIG)
    server = SpanwiseProcess(os.path.join(tmp_path, "data"), ["--config", config])
    rng = random.Random(int(os.environ.get("CRASH_LOOP_SEED", time.time_ns() % 10**6)))
    body = template(SPANS_PER_REQUEST, service=SERVICE)
    tally, stop = Tally(), threading.Event()
    senders = [threading.Thread(target=http_sender, args=(lambda: server.http_url, body, 7, tally, stop))
               for _ in range(3)]
    for sender in senders:
        sender.start()
    startups = []
    try:
        for kill in range(KILLS):
            startups.append(_kill_cycle(server, rng, kill))
        server.start()
        time.sleep(0.5)
    finally:
        stop.set()
        for sender in senders:
            sender.join()
    try:
        print(f"acked {len(tally.acked)} of {len(tally.sent)} requests; start-ups {[round(s, 1) for s in startups]}")
        assert len(tally.acked) > KILLS, "the load hardly got through: the test proves nothing"
        assert not tally.errors, tally.errors[:3]
        expected = len(tally.acked) * SPANS_PER_REQUEST
        server.wait_for(lambda: server.status()["spans"] >= expected, timeout=60)
        time.sleep(1.0)  # the last flush of the final run
        missing = missing_acknowledged(server.query_url, tally.acked, SPANS_PER_REQUEST)
        assert not missing, f"{len(missing)} of {len(tally.acked)} acknowledged requests lost, e.g. {missing[:3]}"

        # Distinct stored spans: every trace ever sent (acknowledged or not), as the trace API shows it.
        distinct = sum(stored_span_counts(server.query_url, tally.sent).values())
        red = httpx.get(f"{server.query_url}/api/v1/metrics/red", params={"lookback": "2h"}, timeout=30).json()
        red_count = sum(row["count"] for row in red["rows"] if row["name"] == SERVICE)
        calls = _metric_calls(server)
        print(f"distinct stored spans {distinct}, RED count {red_count}, /metrics calls {calls}, "
              f"status spans {server.status()['spans']}")
        assert red_count == distinct, f"RED counts {red_count} spans, {distinct} distinct are stored: double counted"
        assert calls == distinct, f"/metrics counts {calls} calls, {distinct} distinct spans are stored"
    finally:
        assert server.stop() == 0, server.log()
