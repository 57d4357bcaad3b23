#!/usr/bin/env python3
"""OTLP/gRPC load generator: the same AI inference traces as otlp_load.py, sent over gRPC.

usage: otlp_grpc_load.py HOST:PORT TRACES [--batch N] [--threads T] [--seed S] [--window-s W]

Why a raw channel: request bodies come from otlp_load.build() already serialized, so sending the
bytes through `unary_unary` with no serializer keeps the client cost to the bare RPC and makes the
HTTP and gRPC figures comparable (same bodies, same build-before-the-clock rule).
Prints the same line as otlp_load.py: sent_spans=N errors=E seconds=S spans_per_s=R
(an OK status counts as sent; any RPC error counts as an error, no retries).
"""
import argparse
import os
import random
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from otlp_load import build  # noqa: E402

EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("target", help="host:port of the OTLP/gRPC receiver")
    p.add_argument("traces", type=int)
    p.add_argument("--batch", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--window-s", type=int, default=3600)
    p.add_argument("--header", action="append", default=[], help="metadata 'key: value'")
    a = p.parse_args()
    window = a.window_s * 10**9
    t0 = time.time_ns() - window
    # Same seeds as otlp_load.py, so a given --seed yields the same trace ids over either protocol.
    bodies = [build(a.batch, random.Random(a.seed * 1000 + i), t0, window)
              for i in range(a.traces // a.batch)]
    metadata = [(k.strip().lower(), v.strip()) for k, v in (h.split(":", 1) for h in a.header)]
    queue = list(range(len(bodies)))
    lock = threading.Lock()
    errors = [0]

    def worker() -> None:
        # One channel (one HTTP/2 connection) per thread, like independent exporters.
        with grpc.insecure_channel(a.target) as channel:
            export = channel.unary_unary(EXPORT, request_serializer=None, response_deserializer=None)
            while True:
                with lock:
                    if not queue:
                        return
                    i = queue.pop()
                try:
                    export(bodies[i], timeout=60, metadata=metadata or None)
                except grpc.RpcError:
                    with lock:
                        errors[0] += 1

    t = time.time()
    threads = [threading.Thread(target=worker) for _ in range(a.threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    el = time.time() - t
    n = len(bodies) * a.batch * 5
    print(f"sent_spans={n} errors={errors[0]} seconds={el:.2f} spans_per_s={n/el:,.0f}")


if __name__ == "__main__":
    main()
