"""Erasure of a data subject end to end: two projects on a server with auth receive the same
kinds of telemetry for users A and B through the real OTel SDK (spans with the user in a
span attribute, a resource attribute, a feature attribute and a feature dict; log records;
an OTLP counter; labels, one of them waiting for a prediction), with `user.email` stored
as a keyed hash by the redaction processor. Erasing A in project one must leave nothing of
A there (searched through the API, then in every table on disk), keep B and project two's
A whole, answer exact counts, be audited without the value, and be refused to non-admins."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

import httpx
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.logging.handler import LoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from server_process import SpanwiseProcess

from spanwise.process.redactor import hash_value

pytestmark = pytest.mark.slow
HASH_KEY = "erasure-e2e-key"
PROJECTS = ("one", "two")
USERS = {"A": ("A-17", "alice@example.com"), "B": ("B-23", "bob@example.com")}
#: What erasing user.id=A in one project removes: per table, from what `_send` sends.
EXPECTED = {"otel_traces": 5, "spanwise_tail_pending": 0, "predictions": 3, "feedback": 3, "feedback_pending": 1,
            "otel_logs": 2, "otel_metrics_gauge": 0, "otel_metrics_sum": 1, "otel_metrics_histogram": 0,
            "otel_metrics_exponential_histogram": 0, "otel_metrics_summary": 0}


@dataclass
class Subject:
    """What one user sent in one project (ids to look for afterwards)."""

    project: str
    user: str
    traces: dict[str, str] = field(default_factory=dict)  # what -> trace id
    checkout_span: str = ""

    @property
    def user_id(self) -> str:
        return USERS[self.user][0]

    @property
    def email(self) -> str:
        return USERS[self.user][1]

    @property
    def marker(self) -> str:
        """Text only this subject's log bodies hold."""
        return f"order{self.project}{self.user}"

    def prediction(self, kind: str) -> str:
        return f"{self.project}-{self.user}-{kind}"


def _spans(server: SpanwiseProcess, token: str, subject: Subject) -> None:
    """Checkout (user.id, with a child that carries nothing), three predictions (user.id as
    a span attribute, in a feature dict, as `ml.feature.user.id`), a span of a resource
    that carries user.id, and a newsletter span carrying only user.email (hashed)."""
    exporter = lambda: OTLPSpanExporter(endpoint=f"{server.http_url}/v1/traces", headers={"authorization": f"Bearer {token}"})  # noqa: E731
    shop = TracerProvider(resource=Resource.create({"service.name": "shop"}))
    shop.add_span_processor(BatchSpanProcessor(exporter()))
    mobile = TracerProvider(resource=Resource.create({"service.name": "mobile", "user.id": subject.user_id}))
    mobile.add_span_processor(BatchSpanProcessor(exporter()))
    tracer = shop.get_tracer("erasure")
    model = {"ml.model.name": "churn", "ml.model.version": "v1", "ml.prediction.label": "yes"}
    with tracer.start_as_current_span("checkout", attributes={"user.id": subject.user_id}) as root:
        subject.checkout_span = format(root.get_span_context().span_id, "016x")
        with tracer.start_as_current_span("db"):
            pass
    spans = {
        "checkout": root,
        "p-attr": tracer.start_span("predict", attributes={**model, "ml.prediction.id": subject.prediction("attr"),
                                                           "user.id": subject.user_id, "ml.feature.plan": "pro"}),
        "p-dict": tracer.start_span("predict", attributes={**model, "ml.prediction.id": subject.prediction("dict"),
                                                           "model.input_features": str({"user.id": subject.user_id, "plan": "pro"})}),
        "p-feat": tracer.start_span("predict", attributes={**model, "ml.prediction.id": subject.prediction("feat"),
                                                           "ml.feature.user.id": subject.user_id}),
        "newsletter": tracer.start_span("newsletter", attributes={"user.email": subject.email}),
        "mobile": mobile.get_tracer("erasure").start_span("open-app"),
    }
    for what, span in spans.items():
        if span is not root:
            span.end()
        subject.traces[what] = format(span.get_span_context().trace_id, "032x")
    shop.shutdown()
    mobile.shutdown()


def _logs_and_metrics(server: SpanwiseProcess, token: str, subject: Subject) -> None:
    """Three log records (user.id as a log attribute, as a resource attribute; user.email)
    and one `logins` counter point with user.id."""
    headers = {"authorization": f"Bearer {token}"}
    for resource, extra, body in (({}, {"user.id": subject.user_id}, "placed"),
                                  ({"user.id": subject.user_id}, {}, "paid"),
                                  ({}, {"user.email": subject.email}, "mailed")):
        provider = LoggerProvider(resource=Resource.create({"service.name": "shop", **resource}))
        provider.add_log_record_processor(SimpleLogRecordProcessor(OTLPLogExporter(endpoint=f"{server.http_url}/v1/logs", headers=headers)))
        logger = logging.getLogger(f"erasure.{subject.project}.{subject.user}.{body}")
        logger.propagate = False
        logger.addHandler(LoggingHandler(logger_provider=provider))
        logger.warning("%s %s", subject.marker, body, extra=extra)
        provider.shutdown()
    reader = InMemoryMetricReader()
    meters = MeterProvider(resource=Resource.create({"service.name": "shop"}), metric_readers=[reader])
    meters.get_meter("erasure").create_counter("logins").add(1, {"user.id": subject.user_id})
    data = reader.get_metrics_data()
    assert data is not None
    assert OTLPMetricExporter(endpoint=f"{server.http_url}/v1/metrics", headers=headers).export(data).name == "SUCCESS"
    meters.shutdown()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    base = str(tmp_path_factory.mktemp("erasure"))
    config = os.path.join(base, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"ingest": {"flush_interval_ms": 100}, "redaction": {
            "key_rules": [{"pattern": "user.email", "action": "hash"}], "hash_key": HASH_KEY}}, handle)
    process = SpanwiseProcess(os.path.join(base, "data"), ["--config", config], auth=True)
    process.start()
    yield process
    process.stop()


def _as(server: SpanwiseProcess, project: str) -> dict[str, str]:
    """The admin's headers, acting in `project`."""
    return {**server.auth_headers(), "X-Spanwise-Project": project}


def _get(server: SpanwiseProcess, project: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{server.query_url}{path}", params=params, headers=_as(server, project), timeout=30)


def _found(server: SpanwiseProcess, subject: Subject) -> dict[str, Any]:
    """What the API finds of a subject in its project."""
    traces = _get(server, subject.project, "/api/v1/traces", attribute=f"user.id:{subject.user_id}", limit=50)
    emails = _get(server, subject.project, "/api/v1/traces", attribute=f"user.email:{subject.email}")
    logs = _get(server, subject.project, "/api/v1/logs", q=subject.marker)
    logins = _get(server, subject.project, "/api/v1/otlp/metrics/logins", attribute=f"user.id:{subject.user_id}")
    return {
        "traces": sorted(t["traceId"] for t in traces.json()["traces"]),
        "email_traces": len(emails.json()["traces"]),
        "predictions": [k for k in ("attr", "dict", "feat")
                        if _get(server, subject.project, f"/api/v1/predictions/{subject.prediction(k)}").status_code == 200],
        "logs": sorted(entry["body"] for entry in logs.json()["logs"]),
        "logins": sum(p["points"] for p in logins.json()["points"]) if logins.status_code == 200 else None,
    }


def _complete(subject: Subject) -> dict[str, Any]:
    return {"traces": sorted(subject.traces[w] for w in ("checkout", "p-attr", "mobile")), "email_traces": 1,
            "predictions": ["attr", "dict", "feat"], "logs": [f"{subject.marker} {b}" for b in ("mailed", "paid", "placed")],
            "logins": 1}


@pytest.fixture(scope="module")
def subjects(server: SpanwiseProcess) -> dict[tuple[str, str], Subject]:
    """Both projects, both users: sent, stored and labelled (one label waits, as it names
    a span that is no prediction)."""
    made = {}
    for project in PROJECTS:
        assert httpx.post(f"{server.query_url}/api/v1/projects", json={"name": project}, headers=server.auth_headers()).status_code == 200
        token = httpx.post(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers(),
                           json={"name": f"{project}-ingest", "role": "ingest", "project": project}).json()["token"]
        for user in USERS:
            subject = made[(project, user)] = Subject(project, user)
            _spans(server, token, subject)
            _logs_and_metrics(server, token, subject)
    for subject in made.values():
        assert server.wait_for(lambda s=subject: _found(server, s) == _complete(s)), (_found(server, subject), _complete(subject))
        labels = [{"prediction_id": subject.prediction(k), "label": "yes"} for k in ("attr", "dict", "feat")]
        labels.append({"trace_id": subject.traces["checkout"], "span_id": subject.checkout_span, "label": "fraud"})
        answer = httpx.post(f"{server.query_url}/api/v1/feedback", json=labels, headers=_as(server, subject.project))
        assert answer.status_code == 200 and answer.json()["accepted"] == 4 and answer.json()["pending"] == 1, answer.text
    return made


def _erase(server: SpanwiseProcess, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    """POST an erasure (`body` as JSON, or bytes as they are) as the admin unless `headers` say otherwise."""
    sent = {"content": body} if isinstance(body, bytes) else {"json": body}
    headers = server.auth_headers() if headers is None else headers
    return httpx.post(f"{server.query_url}/api/v1/erasure", **sent, timeout=60,  # type: ignore[arg-type]
                      headers={**headers, "Content-Type": "application/json"})


@pytest.fixture(scope="module")
def reports(server: SpanwiseProcess, subjects: dict[tuple[str, str], Subject]) -> dict[str, dict[str, Any]]:
    """A's user.id erased from project one, then A's (hashed) e-mail address."""
    alice = subjects[("one", "A")]
    stored = _get(server, "one", f"/api/v1/traces/{alice.traces['newsletter']}").json()["spans"][0]["attributes"]
    assert stored["user.email"] == hash_value(HASH_KEY.encode(), alice.email), "redaction stored the address hashed"
    answers = {"user.id": _erase(server, {"project": "one", "attribute": "user.id", "value": alice.user_id}),
               "user.email": _erase(server, {"project": "one", "attribute": "user.email", "value": alice.email})}
    assert all(a.status_code == 200 for a in answers.values()), [a.text for a in answers.values()]
    return {key: dict(answer.json()) for key, answer in answers.items()}


def test_the_report_counts_every_row_removed_per_table(reports: dict[str, dict[str, Any]]) -> None:
    report = reports["user.id"]
    assert report["removed"] == EXPECTED and report["total"] == sum(EXPECTED.values())
    assert report["project"] == "one" and report["attribute"] == "user.id" and report["hashed_form_erased"] is False
    email = reports["user.email"]
    assert email["hashed_form_erased"] is True
    assert {t: n for t, n in email["removed"].items() if n} == {"otel_traces": 1, "otel_logs": 1}


def test_nothing_of_the_subject_is_found_in_its_project(server: SpanwiseProcess, subjects: dict[tuple[str, str], Subject],
                                                      reports: dict[str, Any]) -> None:
    alice = subjects[("one", "A")]
    assert _found(server, alice) == {"traces": [], "email_traces": 0, "predictions": [], "logs": [], "logins": 0}
    assert _get(server, "one", "/api/v1/traces", attribute=f"ml.feature.user.id:{alice.user_id}").json()["traces"] == []
    checkout = _get(server, "one", f"/api/v1/traces/{alice.traces['checkout']}").json()["spans"]
    assert [span["name"] for span in checkout] == ["db"], "only the span that carried nothing is left"
    for what in ("p-attr", "p-dict", "p-feat", "mobile", "newsletter"):
        assert _get(server, "one", f"/api/v1/traces/{alice.traces[what]}").status_code == 404, what
    export = _get(server, "one", "/api/v1/models/churn/predictions", format="json").json()
    exported = {row["prediction_id"] for row in export}
    assert exported and not {alice.prediction(k) for k in ("attr", "dict", "feat")} & exported
    again = _erase(server, {"project": "one", "attribute": "user.id", "value": alice.user_id}).json()
    assert again["total"] == 0, "erasing again finds nothing left"


def test_other_subjects_and_projects_are_intact(server: SpanwiseProcess, subjects: dict[tuple[str, str], Subject],
                                               reports: dict[str, Any]) -> None:
    for key in (("one", "B"), ("two", "A"), ("two", "B")):
        assert _found(server, subjects[key]) == _complete(subjects[key]), key
    labelled = _get(server, "two", f"/api/v1/predictions/{subjects[('two', 'A')].prediction('dict')}").json()
    assert labelled["label"] == "yes", labelled


def test_the_erasure_is_audited_without_its_value(server: SpanwiseProcess, reports: dict[str, Any]) -> None:
    entries = httpx.get(f"{server.query_url}/api/v1/audit", params={"action": "erasure"}, headers=server.auth_headers()).json()["entries"]
    assert len(entries) >= 2 and all(e["actor"].startswith("admin") for e in entries)
    details = [json.loads(e["detail"]) for e in entries]
    assert {"project": "one", "attribute": "user.id", "removed": EXPECTED, "total": sum(EXPECTED.values())} in details
    assert not any(v in e["detail"] for e in entries for v in (*USERS["A"], hash_value(HASH_KEY.encode(), USERS["A"][1])))


def test_only_admins_may_erase_and_bad_requests_are_400(server: SpanwiseProcess, subjects: dict[tuple[str, str], Subject]) -> None:
    body = {"project": "two", "attribute": "user.id", "value": "B-23"}
    for role in ("viewer", "editor", "ingest"):
        token = httpx.post(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers(),
                           json={"name": f"two-{role}-{time.monotonic_ns()}", "role": role, "project": "two"}).json()["token"]
        refused = _erase(server, body, {"Authorization": f"Bearer {token}"})
        assert refused.status_code == 403 and "admin" in refused.json()["error"]["message"], role
    assert _erase(server, body, {}).status_code == 401
    for bad, status, names in (({"project": "two", "attribute": "user.id"}, 400, "value"),
                               ({"project": "two", "attribute": "user.id", "value": ""}, 400, "value"),
                               ({"project": "two", "attribute": "", "value": "B-23"}, 400, "attribute"),
                               ({"project": "two", "attribute": "user.id", "value": ["B-23"]}, 400, "value"),
                               (b'{"project": "two", "attribute": "user.id", "value": "\\ud800"}', 400, "Unicode"),
                               (b"user.id=B-23", 400, "not JSON"),
                               ({"project": "two", "attribute": "user.id", "value": "B-23", "extra": 1}, 400, "extra"),
                               ({"attribute": "user.id", "value": "B-23"}, 400, "project"),
                               ({"project": "nowhere", "attribute": "user.id", "value": "B-23"}, 404, "nowhere"),
                               (["user.id"], 400, "object")):
        answer = _erase(server, bad)
        assert answer.status_code == status and names in answer.json()["error"]["message"], (bad, answer.text)
    assert _found(server, subjects[("two", "B")]) == _complete(subjects[("two", "B")]), "refused erasures removed nothing"


_SCAN = """
import chdb, json, sys
connection = chdb.connect(sys.argv[1])
values = json.loads(sys.argv[2])
found = {}
for table in json.loads(connection.query("SELECT name FROM system.tables WHERE database = currentDatabase() "
                              "AND engine LIKE '%MergeTree'", "JSONCompact").data())["data"]:
    columns = json.loads(connection.query(f"SELECT name, type FROM system.columns WHERE database = currentDatabase() "
                               f"AND table = '{table[0]}'", "JSONCompact").data())["data"]
    if not any(name == "Project" for name, _ in columns):
        continue
    texts = [f"has(mapValues(`{n}`), v)" for n, t in columns if t.startswith("Map(") and t.endswith(", String)")]
    texts += [f"`{n}` = v" for n, t in columns if t in ("String", "LowCardinality(String)") and n != "Project"]
    for project in ("one", "two"):
        for v in values:
            where = " OR ".join(texts).replace(" v)", f" '{v}')").replace("= v", f"= '{v}'")
            rows = connection.query(f"SELECT count() FROM `{table[0]}` WHERE Project = '{project}' AND ({where})", "JSONCompact")
            found[f"{table[0]} {project} {v}"] = int(json.loads(rows.data())["data"][0][0])
print(json.dumps(found))
"""


def test_no_table_on_disk_holds_the_subject_in_its_project(server: SpanwiseProcess, reports: dict[str, Any]) -> None:
    """Last: the server stops, and every data table is searched for A's id and hashed
    address in any string column or string map (project two's copies prove the search finds them)."""
    assert server.stop() == 0
    hashed = hash_value(HASH_KEY.encode(), USERS["A"][1])
    scan = subprocess.run([sys.executable, "-c", _SCAN, os.path.abspath(server.data_dir), json.dumps(["A-17", hashed])],
                          capture_output=True, text=True, timeout=120)
    assert scan.returncode == 0, scan.stderr[-2000:]
    found = json.loads(scan.stdout.strip().splitlines()[-1])
    assert {key: n for key, n in found.items() if " one " in key and n} == {}
    assert found["otel_traces two A-17"] == 4 and found[f"otel_traces two {hashed}"] == 1
    assert found["otel_logs two A-17"] == 2 and found["predictions two A-17"] == 2
