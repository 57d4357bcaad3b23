# COPY of /work/shared/bench/otlp_load.py (shared, read-only) so bench/ is self-contained in CI.
# Do not edit here: change the shared original and re-copy.
"""OTLP/HTTP load generator: realistic AI inference traces, posted as protobuf.

usage: otlp_load.py URL TRACES [--batch N] [--threads T] [--seed S] [--window-s W]
Each trace = 5 spans (frontend request, api, fetch_features, model_predict, post_process)
with the canonical AI attributes (ml.model.name/version, ml.prediction.id, 8 ml.feature.* values,
ml.prediction.value, ml.prediction.confidence); trace start times are spread over the last W
seconds (default 3600). Request bodies are built before the clock starts.
Prints: sent spans, errors, elapsed seconds, spans/s (send side; a 2xx answer counts as sent).
"""
import argparse, os, random, time, threading, urllib.request, gzip
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

def kv(s, key, val):
    a = s.attributes.add(); a.key = key
    if isinstance(val, bool): a.value.bool_value = val
    elif isinstance(val, int): a.value.int_value = val
    elif isinstance(val, float): a.value.double_value = val
    else: a.value.string_value = str(val)

def build(ntraces, rng, t0, window_ns=3600 * 10**9):
    req = ExportTraceServiceRequest()
    by_svc = {}
    for svc in ("frontend", "api", "inference"):
        rs = req.resource_spans.add()
        r = rs.resource.attributes.add(); r.key = "service.name"; r.value.string_value = svc
        ss = rs.scope_spans.add(); ss.scope.name = "loadgen"
        by_svc[svc] = ss
    for i in range(ntraces):
        tid = rng.randbytes(16); start = t0 + rng.randrange(window_ns)
        ids = [rng.randbytes(8) for _ in range(5)]
        model = rng.choice(["fraud", "churn", "ranker"]); ver = rng.choice(["v1", "v2"])
        plan = [("frontend", "GET /predict", None, 0, 40), ("api", "inference_request", 0, 1, 38),
                ("api", "fetch_features", 1, 2, 10), ("inference", "model_predict", 1, 12, 20),
                ("api", "post_process_result", 1, 33, 3)]
        for k, (svc, name, parent, off_ms, dur_ms) in enumerate(plan):
            s = by_svc[svc].spans.add()
            s.trace_id = tid; s.span_id = ids[k]
            if parent is not None: s.parent_span_id = ids[parent]
            s.name = name; s.kind = 2 if k < 2 else 1
            s.start_time_unix_nano = start + off_ms * 1_000_000
            d = int(dur_ms * 1_000_000 * rng.lognormvariate(0, 0.5))
            s.end_time_unix_nano = s.start_time_unix_nano + d
            kv(s, "user.id", f"user_{rng.randrange(100000)}")
            if name == "model_predict":
                kv(s, "ml.model.name", model); kv(s, "ml.model.version", ver)
                kv(s, "ml.prediction.id", tid.hex())
                for f in range(8): kv(s, f"ml.feature.f{f}", rng.gauss(0.5, 0.1))
                kv(s, "ml.prediction.value", rng.random()); kv(s, "ml.prediction.confidence", rng.betavariate(8, 2))
            if rng.random() < 0.02: s.status.code = 2; s.status.message = "boom"
    return req.SerializeToString()

def main():
    p = argparse.ArgumentParser()
    p.add_argument("url"); p.add_argument("traces", type=int)
    p.add_argument("--batch", type=int, default=200); p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=1); p.add_argument("--header", action="append", default=[])
    p.add_argument("--window-s", type=int, default=3600)
    a = p.parse_args()
    window = a.window_s * 10**9; t0 = time.time_ns() - window
    bodies = [build(a.batch, random.Random(a.seed * 1000 + i), t0, window) for i in range(a.traces // a.batch)]
    headers = {"Content-Type": "application/x-protobuf"}
    for h in a.header:
        k, v = h.split(":", 1); headers[k.strip()] = v.strip()
    q = list(range(len(bodies))); lock = threading.Lock(); errors = [0]
    def worker():
        while True:
            with lock:
                if not q: return
                i = q.pop()
            rq = urllib.request.Request(a.url, data=bodies[i], headers=headers, method="POST")
            try:
                with urllib.request.urlopen(rq, timeout=60) as r: r.read()
            except Exception as e:
                errors[0] += 1
    t = time.time()
    ths = [threading.Thread(target=worker) for _ in range(a.threads)]
    [x.start() for x in ths]; [x.join() for x in ths]
    el = time.time() - t
    n = len(bodies) * a.batch * 5
    print(f"sent_spans={n} errors={errors[0]} seconds={el:.2f} spans_per_s={n/el:,.0f}")

if __name__ == "__main__":
    main()
