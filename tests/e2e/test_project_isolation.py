"""Cross-project isolation end to end: two projects on one server with auth send colliding
telemetry (the same service names, trace id, model name and prediction ids, told apart by
their attribute values) with the real OTel SDK, over gRPC and HTTP with their own ingest
tokens; each project's viewer must see only its own data through every read path (native
API, Jaeger API, `/metrics`, exports, logs, OTLP metrics, status, alert rules), and asking for the other
project's ids must answer exactly like asking for ids that exist nowhere; and in Chromium, a
viewer signed in to the web UI sees its project's services and shared trace only."""

from __future__ import annotations

import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcSpanExporter
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpanExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.metrics import Observation
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import Link, SpanKind
from playwright.sync_api import expect, sync_playwright
from chromium import CHROMIUM, CHROMIUM_FLAGS
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow

#: The trace id both projects send (their spans differ in everything else).
SHARED_TRACE = "5e1ec7ed0000000000000000c0111de5"
#: A trace id nobody sent.
UNKNOWN_TRACE = "0000000000000000000000000000abcd"
MINUTE = 60 * 10**9
#: One connection pool for the module's ~300 requests (a client per request costs its TLS setup).
HTTP = httpx.Client(timeout=30)
PROJECTS = ("alpha", "beta")


@dataclass
class Project:
    """One project's tokens and what it sent (sizes differ, so a count tells whose it is)."""

    name: str
    traces: int
    predictions: int
    feature: float  # every prediction's `ml.feature.amount`
    label: str  # the ground truth its feedback gives (its model predicts "yes")
    orders: int  # the OTLP counter's total
    tokens: dict[str, str] = field(default_factory=dict)
    trace_ids: set[str] = field(default_factory=set)
    sent_ns: int = 0  # when its predictions were made (the first at sent_ns - 20 min)
    shared_root: str = ""  # the span id of its root span in the shared trace

    @property
    def ledger(self) -> str:
        """A service only this project has."""
        return f"{self.name}-ledger"

    @property
    def only_model(self) -> str:
        return f"{self.name}-model"

    @property
    def only_prediction(self) -> str:
        return f"{self.name}-only-prediction"

    def headers(self, role: str = "viewer") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


ALPHA = Project("alpha", traces=3, predictions=40, feature=10.0, label="yes", orders=3)
BETA = Project("beta", traces=5, predictions=60, feature=500.0, label="no", orders=7)


class _Ids(RandomIdGenerator):
    """Random ids, except that the first trace gets `SHARED_TRACE`."""

    def __init__(self) -> None:
        self.first = True

    def generate_trace_id(self) -> int:
        if self.first:
            self.first = False
            return int(SHARED_TRACE, 16)
        return super().generate_trace_id()


def _other(project: Project) -> Project:
    return BETA if project is ALPHA else ALPHA


def _ingest_headers(project: Project) -> dict[str, str]:
    """Its ingest token, and the other project named where only an admin may name one."""
    return {**project.headers("ingest"), "X-Spanwise-Project": _other(project).name}


def _provider(service: str, exporter: Any, ids: RandomIdGenerator | None = None) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({"service.name": service}), id_generator=ids or RandomIdGenerator())
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider


def _send_spans(server: SpanwiseProcess, project: Project) -> None:
    """Service traces over gRPC (checkout calling the project's ledger), the first with the
    shared trace id and a log record inside it sent over HTTP; predictions over HTTP, the
    first linking to the shared trace. Every request also names the other project in the
    header only an admin may use, which must change nothing."""
    grpc_auth = (("authorization", f"Bearer {project.tokens['ingest']}"), ("x-spanwise-project", _other(project).name))
    http_auth = _ingest_headers(project)
    checkout = _provider("checkout", GrpcSpanExporter(endpoint=server.grpc_endpoint, insecure=True, headers=grpc_auth), _Ids())
    ledger = _provider(project.ledger, GrpcSpanExporter(endpoint=server.grpc_endpoint, insecure=True, headers=grpc_auth))
    scorer = _provider("scorer", HttpSpanExporter(endpoint=f"{server.http_url}/v1/traces", headers=http_auth))
    logs = LoggerProvider(resource=Resource.create({"service.name": "checkout"}))
    logs.add_log_record_processor(SimpleLogRecordProcessor(HttpLogExporter(endpoint=f"{server.http_url}/v1/logs", headers=http_auth)))
    logger = logging.getLogger(f"isolation.{project.name}")
    logger.propagate = False
    handler = LoggingHandler(logger_provider=logs)
    logger.addHandler(handler)
    root_context = None
    for _ in range(project.traces):
        with checkout.get_tracer("isolation").start_as_current_span("POST /checkout", kind=SpanKind.SERVER,
                                                                     attributes={"team": project.name}) as root:
            if root_context is None:
                root_context = root.get_span_context()
                project.shared_root = format(root_context.span_id, "016x")
                logger.warning("card declined for %s", project.name)
            with checkout.get_tracer("isolation").start_as_current_span(f"validate-{project.name}", attributes={"team": project.name}):
                pass
            with ledger.get_tracer("isolation").start_as_current_span("debit", kind=SpanKind.SERVER, attributes={"team": project.name}):
                pass
            project.trace_ids.add(format(root.get_span_context().trace_id, "032x"))
    now = project.sent_ns = time.time_ns()
    predict = scorer.get_tracer("isolation")
    for i in range(project.predictions):
        start = now - 20 * MINUTE + i * (15 * MINUTE // project.predictions)
        attributes: dict[str, Any] = {"ml.model.name": "churn", "ml.model.version": "v1", "ml.prediction.id": f"pred-{i}",
                      "ml.prediction.label": "yes", "ml.prediction.score": 0.9, "ml.prediction.confidence": 0.9,
                      "ml.feature.amount": project.feature + i % 5, "team": project.name}
        links = [Link(root_context)] if i == 0 and root_context else []
        predict.start_span("predict", start_time=start, attributes=attributes, links=links).end(end_time=start + 2_000_000)
    only: dict[str, Any] = {"ml.model.name": project.only_model, "ml.model.version": "v1", "ml.prediction.id": project.only_prediction,
            "ml.prediction.label": "yes", "ml.feature.amount": project.feature}
    predict.start_span("predict", start_time=now - MINUTE, attributes=only).end(end_time=now - MINUTE + 10**6)
    for provider in (checkout, ledger, scorer):
        provider.shutdown()
    logger.removeHandler(handler)
    logs.shutdown()


def _send_metrics(server: SpanwiseProcess, project: Project) -> None:
    """An `orders` counter (the same name and service in both projects) and a gauge only
    this project has, over OTLP/HTTP."""
    reader = InMemoryMetricReader()
    provider = MeterProvider(resource=Resource.create({"service.name": "checkout"}), metric_readers=[reader])
    meter = provider.get_meter("isolation")
    meter.create_counter("orders").add(project.orders, {"team": project.name})
    meter.create_observable_gauge(f"{project.name}.queue", callbacks=[lambda options: [Observation(1)]])
    data = reader.get_metrics_data()
    assert data is not None
    exporter = HttpMetricExporter(endpoint=f"{server.http_url}/v1/metrics", headers=_ingest_headers(project))
    assert exporter.export(data).name == "SUCCESS"
    provider.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """A server with auth; model signals scheduled every 4 s (per project: the first run comes
    4 s after a model is first seen, when its labels are in)."""
    base = tmp_path_factory.mktemp("isolation")
    config = os.path.join(base, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("models:\n  schedule_interval_s: 4\n  window_s: 3600\n")
    process = SpanwiseProcess(os.path.join(base, "data"), ["--config", config], auth=True)
    process.start()
    yield process
    HTTP.close()
    assert process.stop() == 0


def _admin(server: SpanwiseProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    answer = HTTP.post(f"{server.query_url}{path}", json=body, headers=server.auth_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


@pytest.fixture(scope="module")
def projects(server: SpanwiseProcess) -> dict[str, Project]:
    """Both projects created, with tokens, their telemetry sent and stored, and feedback posted."""
    for project in (ALPHA, BETA):
        project.tokens.clear()
        project.trace_ids.clear()
        _admin(server, "/api/v1/projects", {"name": project.name})
        for role in ("ingest", "viewer", "editor"):
            issued = _admin(server, "/api/v1/tokens", {"name": f"{project.name}-{role}", "role": role, "project": project.name})
            project.tokens[role] = issued["token"]
    for project in (ALPHA, BETA):
        _send_spans(server, project)
        _send_metrics(server, project)
    for project in (ALPHA, BETA):
        assert server.wait_for(lambda: _stored(server, project)), _models(server, project)
        feedback = [{"prediction_id": f"pred-{i}", "label": project.label} for i in range(project.predictions)]
        answer = HTTP.post(f"{server.query_url}/api/v1/feedback", json=feedback, headers=project.headers("editor"))
        assert answer.status_code == 200 and answer.json()["accepted"] == project.predictions, answer.text
    return {p.name: p for p in (ALPHA, BETA)}


def _stored(server: SpanwiseProcess, project: Project) -> bool:
    traces = _json(server, project, "/api/v1/traces", service="checkout", lookback="1h")["traces"]
    return len(traces) == project.traces and _models(server, project).get("churn", {}).get("predictions") == project.predictions


def _get(server: SpanwiseProcess, project: Project | None, path: str, **params: Any) -> httpx.Response:
    """GET as `project`'s viewer (None: a request as the admin, in the default project)."""
    headers = project.headers() if project else server.auth_headers()
    return HTTP.get(f"{server.query_url}{path}", params=params, headers=headers)


def _json(server: SpanwiseProcess, project: Project | None, path: str, **params: Any) -> Any:
    answer = _get(server, project, path, **params)
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return answer.json()


def _models(server: SpanwiseProcess, project: Project) -> dict[str, Any]:
    return {m["name"]: m for m in _json(server, project, "/api/v1/models")}


def _only_trace(project: Project) -> str:
    """A trace id only `project` sent."""
    return sorted(project.trace_ids - {SHARED_TRACE})[0]


@pytest.fixture(params=PROJECTS)
def mine(request: pytest.FixtureRequest, projects: dict[str, Project]) -> Project:
    """Each test runs once as each project's viewer."""
    return projects[request.param]


def test_native_trace_reads_see_only_their_project(server: SpanwiseProcess, mine: Project) -> None:
    shared = _json(server, mine, f"/api/v1/traces/{SHARED_TRACE}")
    assert len(shared["spans"]) == 3 and shared["totalSpans"] == 3
    assert {s["attributes"]["team"] for s in shared["spans"]} == {mine.name}
    assert {s["serviceName"] for s in shared["spans"]} == {"checkout", mine.ledger}
    found = _json(server, mine, "/api/v1/traces", service="checkout", lookback="1h")["traces"]
    assert {t["traceId"] for t in found} == mine.trace_ids
    assert all(t["services"] == sorted(["checkout", mine.ledger]) for t in found)
    assert _json(server, mine, "/api/v1/traces", attribute=f"team:{_other(mine).name}", lookback="1h")["traces"] == []
    assert _json(server, mine, "/api/v1/services")["services"] == sorted(["checkout", mine.ledger, "scorer"])
    operations = _json(server, mine, "/api/v1/services/checkout/operations")["operations"]
    assert {o["name"] for o in operations} == {"POST /checkout", f"validate-{mine.name}"}
    edges = _json(server, mine, "/api/v1/dependencies", lookback="1h")["dependencies"]
    assert [(e["parent"], e["child"], e["call_count"]) for e in edges] == [("checkout", mine.ledger, mine.traces)]


def test_red_and_span_metric_series_count_only_their_project(server: SpanwiseProcess, mine: Project) -> None:
    rows = {r["name"]: r["count"] for r in _json(server, mine, "/api/v1/metrics/red", lookback="1h")["rows"]}
    assert rows == {"checkout": 2 * mine.traces, mine.ledger: mine.traces, "scorer": mine.predictions + 1}
    operations = {r["name"]: r["count"] for r in _json(server, mine, "/api/v1/metrics/red", service="checkout")["rows"]}
    assert operations == {"POST /checkout": mine.traces, f"validate-{mine.name}": mine.traces}
    points = _json(server, mine, "/api/v1/metrics/latency", service="checkout", lookback="1h")["points"]
    assert sum(p["count"] for p in points) == 2 * mine.traces


def test_jaeger_api_sees_only_its_project(server: SpanwiseProcess, mine: Project) -> None:
    assert _json(server, mine, "/api/services")["data"] == sorted(["checkout", mine.ledger, "scorer"])
    assert sorted(_json(server, mine, "/api/services/checkout/operations")["data"]) == sorted(["POST /checkout", f"validate-{mine.name}"])
    operations = _json(server, mine, "/api/operations", service="checkout")["data"]
    assert {o["name"] for o in operations} == {"POST /checkout", f"validate-{mine.name}"}
    shared = _json(server, mine, f"/api/traces/{SHARED_TRACE}")["data"]
    assert len(shared) == 1 and len(shared[0]["spans"]) == 3
    teams = {t["value"] for s in shared[0]["spans"] for t in s["tags"] if t["key"] == "team"}
    assert teams == {mine.name}
    found = _json(server, mine, "/api/traces", service="checkout", lookback="1h", limit=20)["data"]
    assert {t["traceID"] for t in found} == mine.trace_ids
    by_id = _json(server, mine, "/api/traces", traceID=[SHARED_TRACE, _only_trace(_other(mine))])["data"]
    assert [t["traceID"] for t in by_id] == [SHARED_TRACE] and len(by_id[0]["spans"]) == 3
    edges = _json(server, mine, "/api/dependencies", lookback=3_600_000)["data"]
    assert [(e["parent"], e["child"], e["callCount"]) for e in edges] == [("checkout", mine.ledger, mine.traces)]


def _amounts(project: Project) -> set[float]:
    return {project.feature + i for i in range(5)}


def test_models_and_their_analytics_see_only_their_project(server: SpanwiseProcess, mine: Project) -> None:
    models = _models(server, mine)
    assert set(models) == {"churn", mine.only_model}
    churn = models["churn"]
    assert churn["predictions"] == mine.predictions
    assert (churn["features"][0]["min"], churn["features"][0]["max"]) == (mine.feature, mine.feature + 4)
    windows = _json(server, mine, "/api/v1/models/churn/quality", lookback="1h")["windows"]
    assert sum(w["labelled"] for w in windows) == sum(w["predictions"] for w in windows) == mine.predictions
    assert {w["accuracy"] for w in windows} == {_accuracy(mine)}
    half = mine.sent_ns - 20 * MINUTE + 15 * MINUTE // 2
    drift = _json(server, mine, "/api/v1/models/churn/drift", lookback="1h",
                  reference_start=mine.sent_ns - 21 * MINUTE, reference_end=half - 1)
    assert (drift["reference"]["rows"], drift["current"]["rows"]) == (mine.predictions // 2, mine.predictions)
    amount = next(f for f in drift["features"] if f["feature"] == "amount")
    assert (amount["current"]["min"], amount["current"]["max"]) == (mine.feature, mine.feature + 4)
    points = _json(server, mine, "/api/v1/models/churn/metrics", lookback="1h")["points"]
    assert sum(p["count"] for p in points) == mine.predictions
    checked = _json(server, mine, "/api/v1/models/churn/data-quality", lookback="1h")["windows"]
    assert [(w["predictions"], w["features"][0]["min"]) for w in checked] == [(mine.predictions, mine.feature)]
    concept = _json(server, mine, "/api/v1/models/churn/concept-drift", lookback="1h")
    assert concept["overall"]["current_labelled"] == mine.predictions
    estimated = _json(server, mine, "/api/v1/models/churn/estimated-quality", lookback="1h", step=3600)
    assert sum(w["scored"] for w in estimated["windows"]) == mine.predictions
    assert estimated["calibration"]["labelled"] == mine.predictions
    assert estimated["calibration"]["realized_accuracy"] == _accuracy(mine)


def test_prediction_pages_and_exports_see_only_their_project(server: SpanwiseProcess, mine: Project) -> None:
    prediction = _json(server, mine, "/api/v1/predictions/pred-0")
    assert prediction["features"] == {"amount": mine.feature} and prediction["label"] == mine.label
    assert prediction["lineage"] == [{"trace_id": SHARED_TRACE, "span_id": mine.shared_root, "attributes": {}}]
    linked = _json(server, mine, f"/api/v1/lineage/{SHARED_TRACE}/predictions")["predictions"]
    assert [(p["prediction_id"], p["linked_span_ids"]) for p in linked] == [("pred-0", [mine.shared_root])]
    rows = _json(server, mine, "/api/v1/models/churn/predictions", format="json")
    assert len(rows) == mine.predictions
    assert {r["feature.amount"] for r in rows} == _amounts(mine) and {r["label"] for r in rows} == {mine.label}
    csv = _get(server, mine, "/api/v1/models/churn/predictions", format="csv")
    assert csv.status_code == 200 and len(csv.text.strip().splitlines()) == mine.predictions + 1
    assert _other(mine).name not in csv.text and str(_other(mine).feature) not in csv.text


def _accuracy(project: Project) -> float:
    """What its labels make of its predictions (all "yes"): alpha's agree, beta's do not."""
    return 1.0 if project.label == "yes" else 0.0


def _latest_accuracy(server: SpanwiseProcess, project: Project) -> float | None:
    rows = _json(server, project, "/api/v1/models/churn/signals", signal="accuracy", lookback="1h")["signals"]
    return max(rows, key=lambda r: r["window_end_unix_nano"])["value"] if rows else None


def test_model_signals_are_computed_and_read_per_project(server: SpanwiseProcess, mine: Project) -> None:
    scheduled = server.wait_for(lambda: _latest_accuracy(server, mine) is not None, timeout=15)
    assert scheduled and _latest_accuracy(server, mine) == _accuracy(mine), "the scheduler ran as this project"
    computed = HTTP.post(f"{server.query_url}/api/v1/models/churn/signals/compute", headers=mine.headers("editor"))
    assert computed.status_code == 200 and computed.json()["rows_written"] > 0, computed.text
    assert _latest_accuracy(server, mine) == _accuracy(mine)


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    """(name, labels, value) of every sample in a Prometheus exposition."""
    found = []
    for line in text.splitlines():
        match = re.match(r"^([a-z_]+)(?:\{(.*)\})? (\S+)$", line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(2) or ""))
            found.append((match.group(1), labels, float(match.group(3))))
    return found


def _accuracy_gauges(samples: list[tuple[str, dict[str, str], float]]) -> list[float]:
    return [v for n, labels, v in samples if n == "spanwise_model_signal" and labels.get("signal") == "accuracy"]


def test_metrics_scrape_shows_only_its_project(server: SpanwiseProcess, mine: Project) -> None:
    assert server.wait_for(lambda: _accuracy_gauges(_samples(_get(server, mine, "/metrics").text)), timeout=15)
    text = _get(server, mine, "/metrics").text
    samples = _samples(text)
    assert _accuracy_gauges(samples) == [_accuracy(mine)]
    calls = {(l["service_name"], l["span_name"]): v for n, l, v in samples if n == "traces_span_metrics_calls_total"}
    assert calls == {("checkout", "POST /checkout"): mine.traces, ("checkout", f"validate-{mine.name}"): mine.traces,
                     (mine.ledger, "debit"): mine.traces, ("scorer", "predict"): mine.predictions + 1}
    predictions = {l["model_name"]: v for n, l, v in samples if n == "spanwise_model_predictions_total"}
    assert predictions == {"churn": mine.predictions, mine.only_model: 1}
    modelled = {l["model_name"] for n, l, v in samples if n.startswith("spanwise_model") and "model_name" in l}
    assert modelled == {"churn", mine.only_model}
    assert _other(mine).name not in text


def test_logs_are_read_only_in_their_project(server: SpanwiseProcess, mine: Project) -> None:
    bodies = [entry["body"] for entry in _json(server, mine, "/api/v1/logs", lookback="1h")["logs"]]
    assert bodies == [f"card declined for {mine.name}"]
    assert _json(server, mine, "/api/v1/logs", q=_other(mine).name, lookback="1h")["logs"] == []
    correlated = _json(server, mine, f"/api/v1/traces/{SHARED_TRACE}/logs")["logs"]
    assert [(e["body"], e["spanId"]) for e in correlated] == [(f"card declined for {mine.name}", mine.shared_root)]


def test_otlp_metrics_are_read_only_in_their_project(server: SpanwiseProcess, mine: Project) -> None:
    listed = {m["name"]: m for m in _json(server, mine, "/api/v1/otlp/metrics", lookback="1h")["metrics"]}
    assert set(listed) == {"orders", f"{mine.name}.queue"} and listed["orders"]["points"] == 1
    orders = _json(server, mine, "/api/v1/otlp/metrics/orders", service="checkout", lookback="1h", group_by="team")
    assert [(g["attributes"], sum(p["increase"] for p in g["points"])) for g in orders["series"]] == [
        ({"team": mine.name}, mine.orders)], orders


@pytest.fixture(scope="module")
def stolen_labels(server: SpanwiseProcess, projects: dict[str, Project]) -> dict[str, tuple[httpx.Response, httpx.Response]]:
    """Each project's editor labels the other project's only prediction and one nobody made;
    the answers, after the resolver's next tick (every second), which would have joined them."""
    def post(project: Project, prediction_id: str) -> httpx.Response:
        return HTTP.post(f"{server.query_url}/api/v1/feedback", headers=project.headers("editor"),
                          json=[{"prediction_id": prediction_id, "label": f"from-{project.name}"}])

    answers = {p.name: (post(p, _other(p).only_prediction), post(p, "nobodys-prediction")) for p in (ALPHA, BETA)}
    time.sleep(1.5)
    return answers


def test_labels_never_meet_the_other_projects_prediction(
        server: SpanwiseProcess, stolen_labels: dict[str, tuple[httpx.Response, httpx.Response]], mine: Project) -> None:
    other = _other(mine)
    theirs, nobodys = stolen_labels[mine.name]
    assert theirs.status_code == nobodys.status_code == 200
    assert theirs.text.replace(other.only_prediction, "nobodys-prediction") == nobodys.text
    assert theirs.json()["pending"] == 1, theirs.text  # it waits for a prediction of its own project
    assert _json(server, other, f"/api/v1/predictions/{other.only_prediction}")["label"] is None
    assert _get(server, mine, f"/api/v1/predictions/{other.only_prediction}").status_code == 404


@pytest.fixture(scope="module")
def baselines(server: SpanwiseProcess, projects: dict[str, Project]) -> None:
    """A baseline named `train` for `churn` in each project: alpha's like its data, beta's far from it."""
    for project, values in ((ALPHA, [ALPHA.feature + i % 5 for i in range(50)]), (BETA, [1.0 + i for i in range(70)])):
        answer = HTTP.post(f"{server.query_url}/api/v1/models/churn/baselines", params={"name": "train", "version": "v1"},
                            content="amount\n" + "\n".join(map(str, values)) + "\n",
                            headers={**project.headers("editor"), "content-type": "text/csv"})
        assert answer.status_code == 200, answer.text


def test_baselines_are_kept_per_project(server: SpanwiseProcess, baselines: None, mine: Project) -> None:
    listed = _json(server, mine, "/api/v1/models/churn/baselines")["baselines"]
    assert [(b["name"], b["version"]) for b in listed] == [("train", "v1")]
    drift = _json(server, mine, "/api/v1/models/churn/drift", lookback="1h", baseline="train", version="v1")
    assert (drift["reference"]["rows"], drift["current"]["rows"]) == (50 if mine is ALPHA else 70, mine.predictions)
    assert drift["drifted"] is (mine is BETA), drift["drifted_features"]


@pytest.fixture(scope="module")
def alert_rules(server: SpanwiseProcess, projects: dict[str, Project]) -> None:
    """An alert rule in each project, on the service both have."""
    for project in projects.values():
        rule = {"name": f"{project.name}-rule", "query": {"kind": "span_metric", "metric": "error_rate", "service": "checkout"},
                "condition": {"op": ">", "threshold": 0.5}}
        answer = HTTP.post(f"{server.query_url}/api/v1/alerts/rules", json=rule, headers=project.headers("editor"))
        assert answer.status_code == 200, answer.text


def _unknown_like(server: SpanwiseProcess, project: Project, method: str, path: str, unknown: str, other: str) -> None:
    """`path` with the other project's id answers exactly as with an id that exists nowhere."""
    def ask(key: str) -> httpx.Response:
        headers = project.headers("viewer" if method == "GET" else "editor")
        return HTTP.request(method, f"{server.query_url}{path.format(key)}", headers=headers)

    theirs, nobodys = ask(other), ask(unknown)
    assert theirs.status_code == nobodys.status_code, (path, theirs.text, nobodys.text)
    assert theirs.text.replace(other, unknown) == nobodys.text, (path, theirs.text, nobodys.text)


@pytest.mark.parametrize("method, path, kind", [
    ("GET", "/api/v1/traces/{}", "trace"),
    ("GET", "/api/traces/{}", "trace"),
    ("GET", "/api/v1/traces/{}/logs", "trace"),
    ("GET", "/api/v1/lineage/{}/predictions", "trace"),
    ("GET", "/api/v1/predictions/{}", "prediction"),
    ("GET", "/api/v1/models/{}", "model"),
    ("GET", "/api/v1/models/{}/versions/v1", "model"),
    ("GET", "/api/v1/models/{}/quality", "model"),
    ("GET", "/api/v1/models/{}/metrics", "model"),
    ("GET", "/api/v1/models/{}/data-quality", "model"),
    ("GET", "/api/v1/models/{}/explanations", "model"),
    ("GET", "/api/v1/models/{}/concept-drift", "model"),
    ("GET", "/api/v1/models/{}/baselines", "model"),
    ("GET", "/api/v1/models/{}/compare?a=v1&b=v2", "model"),
    ("GET", "/api/v1/models/{}/drift", "model"),
    ("GET", "/api/v1/models/{}/signals", "model"),
    ("GET", "/api/v1/models/{}/estimated-quality", "model"),
    ("GET", "/api/v1/models/{}/predictions?format=json", "model"),
    ("POST", "/api/v1/models/{}/signals/compute", "model"),
    ("GET", "/api/v1/services/{}/operations", "service"),
    ("GET", "/api/services/{}/operations", "service"),
    ("GET", "/api/operations?service={}", "service"),
    ("GET", "/api/v1/metrics/red?service={}", "service"),
    ("GET", "/api/v1/otlp/metrics/{}", "metric"),
    ("GET", "/api/v1/alerts/rules/{}/series", "rule"),
    ("DELETE", "/api/v1/alerts/rules/{}", "rule"),
])
def test_the_other_projects_ids_answer_like_unknown_ones(server: SpanwiseProcess, alert_rules: None, mine: Project,
                                                          method: str, path: str, kind: str) -> None:
    other = _other(mine)
    theirs = {"trace": _only_trace(other), "prediction": other.only_prediction, "model": other.only_model,
              "service": other.ledger, "metric": f"{other.name}.queue", "rule": f"{other.name}-rule"}[kind]
    unknown = {"trace": UNKNOWN_TRACE, "prediction": "nobodys-prediction", "model": "nobodys-model",
               "service": "nobodys-ledger", "metric": "nobodys.queue", "rule": "nobodys-rule"}[kind]
    _unknown_like(server, mine, method, path, unknown, theirs)
    rules = [r["name"] for r in _json(server, other, "/api/v1/alerts/rules")["rules"]]
    assert rules == [f"{other.name}-rule"], "the other project's rule is untouched"


def test_status_counts_only_its_project(server: SpanwiseProcess, mine: Project) -> None:
    counts = {"spans": 3 * mine.traces + mine.predictions + 1, "predictions": mine.predictions + 1}
    assert _json(server, mine, "/api/v1/status") == counts, "the platform's figures add up every project"
    headers = {**server.auth_headers(), "X-Spanwise-Project": mine.name}
    as_admin = HTTP.get(f"{server.query_url}/api/v1/status", headers=headers).json()
    assert {k: as_admin[k] for k in counts} == counts
    assert as_admin["ingest"]["spans_accepted"] == sum(3 * p.traces + p.predictions + 1 for p in (ALPHA, BETA))


def test_an_admin_reads_the_project_it_names(server: SpanwiseProcess, mine: Project) -> None:
    def as_admin(path: str, **params: Any) -> Any:
        headers = {**server.auth_headers(), "X-Spanwise-Project": mine.name}
        answer = HTTP.get(f"{server.query_url}{path}", params=params, headers=headers)
        assert answer.status_code == 200, answer.text
        return answer.json()

    assert as_admin("/api/v1/services")["services"] == sorted(["checkout", mine.ledger, "scorer"])
    assert {s["attributes"]["team"] for s in as_admin(f"/api/v1/traces/{SHARED_TRACE}")["spans"]} == {mine.name}
    assert {m["name"]: m["predictions"] for m in as_admin("/api/v1/models")} == {"churn": mine.predictions, mine.only_model: 1}
    assert as_admin("/api/v1/predictions/pred-0")["features"] == {"amount": mine.feature}
    scrape = HTTP.get(f"{server.query_url}/metrics", headers={**server.auth_headers(), "X-Spanwise-Project": mine.name})
    predictions = {l["model_name"]: v for n, l, v in _samples(scrape.text) if n == "spanwise_model_predictions_total"}
    assert predictions == {"churn": mine.predictions, mine.only_model: 1}


def test_an_admin_without_a_project_reads_the_default_one(server: SpanwiseProcess, projects: dict[str, Project]) -> None:
    assert _json(server, None, "/api/v1/services")["services"] == []
    assert _get(server, None, f"/api/v1/traces/{SHARED_TRACE}").status_code == 404
    assert _json(server, None, "/api/v1/models") == []
    headers = {**server.auth_headers(), "X-Spanwise-Project": ALPHA.name}
    viewer = {**ALPHA.headers(), "X-Spanwise-Project": BETA.name}
    as_viewer = HTTP.get(f"{server.query_url}/api/v1/services", headers=viewer).json()["services"]
    assert as_viewer == sorted(["checkout", ALPHA.ledger, "scorer"]), "only an admin may name another project"
    assert HTTP.get(f"{server.query_url}/api/v1/services", headers=headers).json()["services"] == as_viewer


def test_an_admin_naming_a_project_that_does_not_exist_is_refused_everywhere(
        server: SpanwiseProcess, projects: dict[str, Project]) -> None:
    """Not an empty answer (reads) nor data no one can see (writes): a 404 naming the header,
    on the query API, OTLP/HTTP (as a google.rpc.Status NOT_FOUND) and OTLP/gRPC."""
    ghost = {**server.auth_headers(), "X-Spanwise-Project": "ghost"}
    read = HTTP.get(f"{server.query_url}/api/v1/services", headers=ghost)
    assert read.status_code == 404 and "no project 'ghost'" in read.json()["error"]["message"]
    write = HTTP.post(f"{server.http_url}/v1/traces", content=b"{}",
                      headers={**ghost, "Content-Type": "application/json"})
    assert write.status_code == 404 and write.json() == {
        "code": 5, "message": "no project 'ghost' (named in the x-spanwise-project header)"}
    with grpc.insecure_channel(server.grpc_endpoint) as channel:
        export = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        with pytest.raises(grpc.RpcError) as refused:
            export(b"", metadata=[(k.lower(), v) for k, v in ghost.items()], timeout=10)
    assert refused.value.code() == grpc.StatusCode.NOT_FOUND and "ghost" in refused.value.details()
    viewer = HTTP.get(f"{server.query_url}/api/v1/services", headers={**ALPHA.headers(), "X-Spanwise-Project": "ghost"})
    assert viewer.status_code == 200, "a non-admin's header is ignored, as before"



def test_a_viewer_signed_in_to_the_web_ui_sees_only_its_project(server: SpanwiseProcess, projects: dict[str, Project]) -> None:
    """In Chromium: alpha's viewer signs in; the services page and the shared trace show alpha's only."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.set_default_timeout(15_000)
            uncaught: list[str] = []
            page.on("pageerror", lambda exc: uncaught.append(str(exc)))
            page.goto(f"{server.query_url}/signin?next=%2Fservices")
            page.fill("#signin-token", ALPHA.tokens["viewer"])
            page.click("#signin-form button[type=submit]")
            rows = page.locator("tr.service-row")
            expect(rows).to_have_count(3)
            expect(rows.filter(has_text=ALPHA.ledger)).to_have_count(1)
            expect(rows.filter(has_text=BETA.ledger)).to_have_count(0)
            page.goto(f"{server.query_url}/trace/{SHARED_TRACE}")
            expect(page.locator(".wf-row")).to_have_count(3)
            expect(page.locator(".wf-row").filter(has_text=f"validate-{ALPHA.name}")).to_have_count(1)
            expect(page.locator(".wf-row").filter(has_text=f"validate-{BETA.name}")).to_have_count(0)
            assert not uncaught, uncaught
        finally:
            browser.close()
