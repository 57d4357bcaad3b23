"""Auth on a real server: the first admin token, tokens and projects through the API,
revocation and expiry, and OTLP over HTTP and gRPC with the real OTel SDK exporters."""

from __future__ import annotations

import os
import stat
import time
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

import grpc
import httpx
import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from server_process import SpanwiseProcess
from sdk_export import send_one_span

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("auth-data")), auth=True)
    process.start()
    yield process
    assert process.stop() == 0


def _token(server: SpanwiseProcess, role: str, name: str | None = None, **extra: Any) -> dict[str, Any]:
    body = {"name": name or f"t-{role}-{time.monotonic_ns()}", "role": role, "project": "default", **extra}
    answer = httpx.post(f"{server.query_url}/api/v1/tokens", json=body, headers=server.auth_headers())
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _get(server: SpanwiseProcess, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"{server.query_url}{path}", headers=headers)


def test_first_start_writes_the_admin_token_once(server: SpanwiseProcess) -> None:
    path = os.path.join(server.data_dir, "admin-token")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert server.admin_token and server.admin_token.startswith("sw_") and len(server.admin_token) > 40
    assert server.log().count(server.admin_token) == 1, "printed once, in the log"
    assert _get(server, "/api/v1/status", server.admin_token).status_code == 200


def test_tokens_are_issued_listed_and_never_shown_again(server: SpanwiseProcess) -> None:
    issued = _token(server, "viewer", "dashboards")
    assert set(issued) >= {"id", "token"} and issued["token"].startswith("sw_")
    listed = httpx.get(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers()).json()["tokens"]
    mine = next(t for t in listed if t["id"] == issued["id"])
    assert mine["name"] == "dashboards" and mine["role"] == "viewer" and mine["revoked"] is False
    assert all("token" not in t and "hash" not in t for t in listed)
    assert issued["token"] not in httpx.get(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers()).text


@pytest.mark.parametrize("body, message", [
    ({"name": "x", "role": "root", "project": "default"}, "role"),
    ({"name": "x", "role": "viewer", "project": "nope"}, "project"),
    ({"name": "x", "role": "viewer", "project": {"a": 1}}, "project"),
    ({"name": "x", "role": ["viewer"], "project": "default"}, "role"),
    ({"name": "", "role": "viewer", "project": "default"}, "name"),
    ({"name": "x", "role": "viewer", "project": "default", "expires": "2001-01-01T00:00:00Z"}, "expires"),
    ({"name": "x", "role": "viewer", "project": "default", "expires": "tomorrow"}, "expires"),
])
def test_bad_token_requests_are_400_naming_the_field(server: SpanwiseProcess, body: dict[str, Any], message: str) -> None:
    answer = httpx.post(f"{server.query_url}/api/v1/tokens", json=body, headers=server.auth_headers())
    assert answer.status_code == 400 and message in answer.json()["error"]["message"]


def test_revocation_takes_effect_on_the_next_request(server: SpanwiseProcess) -> None:
    issued = _token(server, "viewer")
    assert _get(server, "/api/v1/status", issued["token"]).status_code == 200
    revoked = httpx.delete(f"{server.query_url}/api/v1/tokens/{issued['id']}", headers=server.auth_headers())
    assert revoked.status_code == 200 and revoked.json()["revoked"]["revoked"] is True
    assert _get(server, "/api/v1/status", issued["token"]).status_code == 401
    assert httpx.delete(f"{server.query_url}/api/v1/tokens/nope", headers=server.auth_headers()).status_code == 404


def test_expired_forged_and_malformed_credentials_are_401(server: SpanwiseProcess) -> None:
    soon = (datetime.now(timezone.utc) + timedelta(seconds=2)).isoformat()
    expiring = _token(server, "viewer", expires=soon)
    assert _get(server, "/api/v1/status", expiring["token"]).status_code == 200
    time.sleep(2.2)
    assert _get(server, "/api/v1/status", expiring["token"]).status_code == 401
    assert _get(server, "/api/v1/status", "sw_" + "A" * 43).status_code == 401
    assert _get(server, "/api/v1/status", None).status_code == 401
    for header in ("Basic YWRtaW46YWRtaW4=", "Bearer", "Bearer x y", server.admin_token or ""):
        answer = httpx.get(f"{server.query_url}/api/v1/status", headers={"Authorization": header})
        assert answer.status_code == 401, header
        assert answer.headers["www-authenticate"] == "Bearer"


def test_roles_are_enforced(server: SpanwiseProcess) -> None:
    viewer, editor = _token(server, "viewer")["token"], _token(server, "editor")["token"]
    feedback = {"prediction_id": "p-1", "label": 1}
    refused = httpx.post(f"{server.query_url}/api/v1/feedback", json=feedback, headers={"Authorization": f"Bearer {viewer}"})
    assert refused.status_code == 403 and "editor" in refused.json()["error"]["message"]
    accepted = httpx.post(f"{server.query_url}/api/v1/feedback", json=feedback, headers={"Authorization": f"Bearer {editor}"})
    assert accepted.status_code not in (401, 403), accepted.text
    assert _get(server, "/api/v1/tokens", editor).status_code == 403


def test_projects_are_created_and_listed(server: SpanwiseProcess) -> None:
    url = f"{server.query_url}/api/v1/projects"
    assert httpx.post(url, json={"name": "team-a"}, headers=server.auth_headers()).status_code == 200
    assert httpx.post(url, json={"name": "team-a"}, headers=server.auth_headers()).status_code == 400
    assert httpx.post(url, json={"name": "../x"}, headers=server.auth_headers()).status_code == 400
    names = [p["name"] for p in httpx.get(url, headers=server.auth_headers()).json()["projects"]]
    assert names == ["default", "team-a"]
    issued = httpx.post(f"{server.query_url}/api/v1/tokens", headers=server.auth_headers(),
                        json={"name": "a-ingest", "role": "ingest", "project": "team-a"})
    assert issued.status_code == 200 and issued.json()["project"] == "team-a"


def _stored(server: SpanwiseProcess, service: str) -> int:
    return len(server.query("/api/v1/traces", service=service, lookback="1h").json()["traces"])


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_otel_sdk_exporters_send_with_the_token_from_the_environment(
        server: SpanwiseProcess, protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def exporter() -> SpanExporter:
        if protocol == "http":
            return HttpExporter(endpoint=f"{server.http_url}/v1/traces", timeout=5)
        return GrpcExporter(endpoint=server.grpc_endpoint, insecure=True, timeout=5)

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
    assert send_one_span(exporter(), f"anon-{protocol}") == SpanExportResult.FAILURE
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{_token(server, 'viewer')['token']}")
    assert send_one_span(exporter(), f"viewer-{protocol}") == SpanExportResult.FAILURE
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{_token(server, 'ingest')['token']}")
    assert send_one_span(exporter(), f"ingest-{protocol}") == SpanExportResult.SUCCESS
    assert server.wait_for(lambda: _stored(server, f"ingest-{protocol}") == 1)
    assert _stored(server, f"anon-{protocol}") == 0 and _stored(server, f"viewer-{protocol}") == 0


def _grpc_code(server: SpanwiseProcess, token: str | None) -> grpc.StatusCode:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with grpc.insecure_channel(server.grpc_endpoint) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        try:
            call(b"", metadata=metadata, timeout=5)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_otlp_status_codes(server: SpanwiseProcess) -> None:
    viewer, ingest = _token(server, "viewer")["token"], _token(server, "ingest")["token"]
    assert _grpc_code(server, None) == grpc.StatusCode.UNAUTHENTICATED
    assert _grpc_code(server, "sw_forged") == grpc.StatusCode.UNAUTHENTICATED
    assert _grpc_code(server, viewer) == grpc.StatusCode.PERMISSION_DENIED
    assert _grpc_code(server, ingest) == grpc.StatusCode.OK
    url, body = f"{server.http_url}/v1/traces", {"resourceSpans": []}
    assert httpx.post(url, json=body).status_code == 401
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {viewer}"}).status_code == 403
    assert httpx.post(url, json=body, headers={"Authorization": f"Bearer {ingest}"}).status_code == 200
    assert _get(server, "/api/v1/status", ingest).status_code == 403


def test_tokens_survive_a_restart_and_no_second_admin_token_is_made(server: SpanwiseProcess) -> None:
    viewer = _token(server, "viewer")["token"]
    assert server.stop() == 0
    first_admin = server.admin_token
    server.start()
    assert server.admin_token == first_admin
    assert _get(server, "/api/v1/status", viewer).status_code == 200
    assert server.log().count("created an admin token") == 1


def _prediction_span(model: str, prediction_id: str, amount: float) -> dict[str, Any]:
    now = time.time_ns()
    attributes = [{"key": k, "value": v} for k, v in (
        ("ml.model.name", {"stringValue": model}), ("ml.model.version", {"stringValue": "v1"}),
        ("ml.prediction.id", {"stringValue": prediction_id}), ("ml.feature.amount", {"doubleValue": amount}),
        ("ml.prediction.value", {"doubleValue": 0.5}))]
    return {"traceId": prediction_id, "spanId": prediction_id[16:], "name": "predict", "attributes": attributes,
            "startTimeUnixNano": str(now - 10**6), "endTimeUnixNano": str(now)}


def test_audited_actions_name_who_when_from_where_and_what(server: SpanwiseProcess) -> None:
    editor = _token(server, "editor", "auditee")
    ingest = _token(server, "ingest")["token"]
    spans = [_prediction_span("audited-model", f"{i + 1:032x}", float(i)) for i in range(20)]
    body = {"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "audit"}}]},
                               "scopeSpans": [{"spans": spans}]}]}
    assert httpx.post(f"{server.http_url}/v1/traces", json=body, headers={"Authorization": f"Bearer {ingest}"}).status_code == 200
    as_editor = {"Authorization": f"Bearer {editor['token']}"}
    assert server.wait_for(lambda: _get(server, "/api/v1/models/audited-model", editor["token"]).status_code == 200)
    base = f"{server.query_url}/api/v1"
    writes = [
        httpx.post(f"{base}/feedback", json=[{"prediction_id": f"{1:032x}", "label": 1}], headers=as_editor),
        httpx.post(f"{base}/models/audited-model/baselines", params={"name": "csv", "version": "v1"},
                   content="amount\n1\n2\n3\n", headers={**as_editor, "content-type": "text/csv"}),
        httpx.get(f"{base}/models/audited-model/predictions", params={"format": "json"}, headers=as_editor),
    ]
    assert [w.status_code for w in writes] == [200] * 3, [w.text[:200] for w in writes]
    # The quarantine holds every project's batches: replaying it is the platform's (admin) business.
    assert httpx.post(f"{base}/ingest/quarantine/replay", json={}, headers=as_editor).status_code == 403
    assert httpx.post(f"{base}/ingest/quarantine/replay", json={}, headers=server.auth_headers()).status_code == 200
    entries = httpx.get(f"{base}/audit", headers=server.auth_headers()).json()["entries"]
    by_action = {e["action"]: e for e in entries if "auditee" in e["actor"] or "auditee" in e["detail"]}
    assert set(by_action) >= {"token.create", "feedback.write", "baseline.upload", "export"}
    assert any(e["action"] == "quarantine.replay" and "admin" in e["actor"] for e in entries)
    export = by_action["export"]
    assert export["address"] == "127.0.0.1" and editor["id"] in export["actor"] and "editor" in export["actor"]
    assert "/api/v1/models/audited-model/predictions" in export["detail"] and "format=json" in export["detail"]
    assert abs(export["at_ms"] - time.time() * 1000) < 60_000
    assert _get(server, "/api/v1/audit", editor["token"]).status_code == 403


def test_openapi_describes_the_access_control_routes(server: SpanwiseProcess) -> None:
    paths = server.query("/api/v1/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/tokens"]) and "delete" in paths["/api/v1/tokens/{id}"]
    assert "get" in paths["/api/v1/audit"] and "post" in paths["/api/v1/projects"]


def test_spanwise_clients_send_the_api_token(server: SpanwiseProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """`spanwise.client`, `spanwise baseline upload` and the SDK's feedback and baseline calls
    share one HTTP client; with `SPANWISE_API_TOKEN` set it sends the token."""
    from spanwise.client import SpanwiseClient, SpanwiseClientError

    client = SpanwiseClient(server.query_url, timeout=30)
    monkeypatch.delenv("SPANWISE_API_TOKEN", raising=False)
    with pytest.raises(SpanwiseClientError, match="401"):
        client.predictions_table("audited-model")
    monkeypatch.setenv("SPANWISE_API_TOKEN", _token(server, "ingest")["token"])
    with pytest.raises(SpanwiseClientError, match="403"):
        client.predictions_table("audited-model")
    monkeypatch.setenv("SPANWISE_API_TOKEN", _token(server, "viewer")["token"])
    table = client.predictions_table("audited-model")
    assert table.num_rows == 20 and set(table.column("model").to_pylist()) == {"audited-model"}
