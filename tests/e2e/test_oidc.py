"""OIDC on a real server: JWTs signed with joserfc, checked against a JWKS file (and, in one
case, a JWKS URL served by a local HTTP server that rotates its keys); claims mapped to
projects and roles; OTLP over HTTP and gRPC with the real OTel SDK exporters."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import grpc
import httpx
import pytest
import yaml
from joserfc import jwt
from joserfc.jwk import ECKey, Key, RSAKey
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from server_process import SpanwiseProcess, free_port
from sdk_export import send_one_span

from spanwise.config import AUTH_ROLES, load_config
from spanwise.config.auth import PROJECT_NAME
from spanwise.config.check import config_warnings
from spanwise.serve import auth
from spanwise.errors import ConfigError
from spanwise.serve.access import ROLES

pytestmark = pytest.mark.slow
ISSUER, AUDIENCE = "https://idp.example.test/realms/ml", "spanwise"
RSA = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
EC = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
FORGER = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})  # same kid, another key
ROTATED = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})
MAPPINGS = [{"claim": "groups", "value": "ml-fraud", "project": "fraud", "role": "editor"},
            {"claim": "realm_access.roles", "value": "telemetry", "project": "default", "role": "ingest"}]


def _jwks(*keys: Key) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def _oidc_config(path: str, **oidc: Any) -> list[str]:
    """`--config` args for a YAML file at `path` with these auth.oidc keys."""
    settings = {"issuer": ISSUER, "audience": AUDIENCE, "clock_skew_s": 30, "name_claim": "email",
                "role_claim": "spanwise_role", "project_claim": "spanwise_project", "mappings": MAPPINGS, **oidc}
    with open(path, "w", encoding="utf-8") as handle:
        yaml.safe_dump({"auth": {"signin_per_minute": 1000, "oidc": settings}}, handle)
    return ["--config", path]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    folder = tmp_path_factory.mktemp("oidc")
    jwks_file = folder / "jwks.json"
    jwks_file.write_text(json.dumps(_jwks(RSA, EC)))
    args = _oidc_config(str(folder / "spanwise.yaml"), jwks_file=str(jwks_file))
    process = SpanwiseProcess(str(folder / "data"), extra_args=args, auth=True)
    process.start()
    yield process
    assert process.stop() == 0


def _token(key: Key = RSA, alg: str = "RS256", kid: str | None = "rsa-1", **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "aud": AUDIENCE, "sub": "user-1", "email": "ana@example.test", "iat": now,
            "exp": now + 300, "spanwise_role": "viewer", "spanwise_project": "default"} | claims
    header = {"alg": alg} | ({"kid": kid} if kid else {})
    return jwt.encode(header, {k: v for k, v in body.items() if v is not None}, key, algorithms=[alg])


def _b64(data: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _hs256_with(secret: bytes) -> str:
    """Signed by hand: joserfc itself refuses to use a public key as an HMAC secret."""
    now = int(time.time())
    signing_input = f"{_b64({'alg': 'HS256', 'kid': 'rsa-1'})}.{_b64({'iss': ISSUER, 'aud': AUDIENCE, 'sub': 'x', 'exp': now + 60, 'spanwise_role': 'admin', 'spanwise_project': 'default'})}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"


def _status(server: SpanwiseProcess, token: str, method: str = "GET", path: str = "/api/v1/status",
            **kwargs: Any) -> int:
    url = (server.http_url if path.startswith("/v1/") else server.query_url) + path
    return httpx.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs).status_code


def test_each_role_gets_exactly_what_api_tokens_of_that_role_get(server: SpanwiseProcess) -> None:
    feedback = {"json": [{"prediction_id": f"{7:032x}", "label": 1}]}
    otlp = {"json": {"resourceSpans": []}}
    expected = {  # read, write feedback, list tokens, send OTLP
        "ingest": (403, 403, 403, 200),
        "viewer": (200, 403, 403, 403),
        "editor": (200, 200, 403, 403),
        "admin": (200, 200, 200, 200),
    }
    for role, codes in expected.items():
        token = _token(spanwise_role=role, sub=f"user-{role}")
        got = (_status(server, token), _status(server, token, "POST", "/api/v1/feedback", **feedback),
               _status(server, token, path="/api/v1/tokens"), _status(server, token, "POST", "/v1/traces", **otlp))
        assert got == codes, role
    assert _status(server, _token(EC, "ES256", "ec-1")) == 200


def test_claims_map_to_a_project_role_and_name(server: SpanwiseProcess) -> None:
    def sign_in(token: str) -> httpx.Response:
        return httpx.post(f"{server.query_url}/api/v1/session", json={"token": token})

    mapped = sign_in(_token(groups=["staff", "ml-fraud"], spanwise_role=None, sub="fraud-analyst"))
    assert mapped.status_code == 200, mapped.text
    assert {k: mapped.json()[k] for k in ("name", "role", "project")} == {
        "name": "ana@example.test", "role": "editor", "project": "fraud"}
    # The session signed in with a JWT lasts (here) as long as the JWT.
    session = httpx.get(f"{server.query_url}/api/v1/status", cookies=mapped.cookies)
    assert session.status_code == 200
    nested = sign_in(_token(realm_access={"roles": ["telemetry"]}, spanwise_role=None, email=None)).json()
    assert (nested["role"], nested["project"], nested["name"]) == ("ingest", "default", "user-1")
    # A mapping wins over the role claim; unmapped, the role claim decides.
    assert sign_in(_token(groups="ml-fraud", spanwise_role="admin")).json()["role"] == "editor"
    assert sign_in(_token(spanwise_role="admin")).json()["project"] == "default"
    # Nothing maps, an unknown role, no project claim, a project that does not exist: no principal.
    for token in (_token(groups=["staff"], spanwise_role=None), _token(spanwise_role="root"), _token(spanwise_project=None),
                  _token(spanwise_role=["viewer"]), _token(spanwise_project="team-b")):
        assert _status(server, token) == 401
    created = httpx.post(f"{server.query_url}/api/v1/projects", json={"name": "team-b"}, headers=server.auth_headers())
    assert created.status_code == 200
    assert sign_in(_token(spanwise_project="team-b")).json()["project"] == "team-b"
    assert "matches no auth.oidc mapping" in server.log()


def test_bad_jwts_are_401(server: SpanwiseProcess) -> None:
    now = int(time.time())
    public_pem = RSA.as_pem(private=False)  # the classic confusion attack: the public key as HMAC secret
    bad = {
        "expired beyond the skew": _token(exp=now - 120),
        "not valid before a minute from now": _token(nbf=now + 120),
        "issued in the future": _token(iat=now + 120),
        "no expiry": _token(exp=None),
        "no subject": _token(sub=None),
        "forged": _token(FORGER),
        "wrong audience": _token(aud="another-service"),
        "wrong issuer": _token(iss="https://evil.example.test"),
        "unknown kid": _token(kid="rsa-404"),
        "no kid with two keys": _token(kid=None),
        "ES256 key for RS256": _token(EC, "ES256", "rsa-1"),
        "HS256 keyed with the public key": _hs256_with(public_pem),
        "alg none": f"{_b64({'alg': 'none', 'kid': 'rsa-1'})}.{_b64({'iss': ISSUER, 'aud': AUDIENCE, 'sub': 'x', 'exp': now + 60, 'spanwise_role': 'admin'})}.",
        "alg none, signature kept": ".".join([_b64({"alg": "none", "kid": "rsa-1"}), *_token(spanwise_role="admin").split(".")[1:]]),
        "tampered claims": ".".join([_token().split(".")[0], _b64({"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 60, "spanwise_role": "admin"}), _token().split(".")[2]]),
        "exp not a number": _token(exp="never"),
        "malformed": "a.b.c",
        "empty parts": "..",
        "header not an object": f"{_b64([1])}.{_b64({})}.AAAA",
        "oversized": "e" * 20_000 + ".e.e",
    }
    for what, token in bad.items():
        assert _status(server, token) == 401, what
    # Within the skew (30 s) a token is still (already) valid.
    assert _status(server, _token(exp=now - 10, nbf=now + 10, iat=now + 10)) == 200
    assert _status(server, _token(aud=["other", AUDIENCE])) == 200
    assert _status(server, _token(exp=10**400)) == 200, "a (very) distant expiry is no crash"
    assert httpx.get(f"{server.query_url}/api/v1/health").status_code == 200, "the server survived them all"


def _grpc_code(server: SpanwiseProcess, token: str | None) -> grpc.StatusCode:
    metadata = (("authorization", f"Bearer {token}"),) if token else ()
    with grpc.insecure_channel(server.grpc_endpoint) as channel:
        call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export")
        try:
            call(b"", metadata=metadata, timeout=5)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def test_grpc_status_codes(server: SpanwiseProcess) -> None:
    assert _grpc_code(server, _token(exp=int(time.time()) - 120, spanwise_role="ingest")) == grpc.StatusCode.UNAUTHENTICATED
    assert _grpc_code(server, _token(groups=["staff"], spanwise_role=None)) == grpc.StatusCode.UNAUTHENTICATED
    assert _grpc_code(server, _token(spanwise_role="viewer")) == grpc.StatusCode.PERMISSION_DENIED
    assert _grpc_code(server, _token(spanwise_role="ingest")) == grpc.StatusCode.OK


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_otel_sdk_exporters_send_with_a_jwt(server: SpanwiseProcess, protocol: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def exporter() -> SpanExporter:
        if protocol == "http":
            return HttpExporter(endpoint=f"{server.http_url}/v1/traces", timeout=5)
        return GrpcExporter(endpoint=server.grpc_endpoint, insecure=True, timeout=5)

    def stored(service: str) -> int:
        return len(server.query("/api/v1/traces", service=service, lookback="1h").json()["traces"])

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_HEADERS", raising=False)
    assert send_one_span(exporter(), f"oidc-anon-{protocol}") == SpanExportResult.FAILURE
    ingest = _token(realm_access={"roles": ["telemetry"]}, spanwise_role=None)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"authorization=Bearer%20{ingest}")
    assert send_one_span(exporter(), f"oidc-ingest-{protocol}") == SpanExportResult.SUCCESS
    assert server.wait_for(lambda: stored(f"oidc-ingest-{protocol}") == 1)
    assert stored(f"oidc-anon-{protocol}") == 0


class _JwksServer:
    """A tiny identity provider's JWKS endpoint: serves `document` (503 while None), counts fetches."""

    def __init__(self) -> None:
        self.document: dict[str, Any] | None = None
        self.fetches = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                outer.fetches += 1
                body = json.dumps(outer.document).encode() if outer.document else b"{}"
                self.send_response(200 if outer.document else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/jwks"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()


def test_jwks_url_is_fetched_at_start_retried_and_refetched_on_rotation(tmp_path: Any) -> None:
    idp = _JwksServer()
    args = _oidc_config(str(tmp_path / "spanwise.yaml"), jwks_url=idp.url, jwks_refresh_min_s=1)
    process = SpanwiseProcess(str(tmp_path / "data"), extra_args=args, auth=True)
    process.start()
    try:
        assert idp.fetches >= 1, "fetched at start"
        assert "cannot load the JWKS" in process.log(), "the provider was down: logged, the server started anyway"
        idp.document = _jwks(RSA)
        assert process.wait_for(lambda: _status(process, _token()) == 200, timeout=10)
        # Rotation: the provider now signs with a new key; a token naming it brings the new set.
        idp.document = _jwks(ROTATED)
        rotated = _token(ROTATED, kid="rsa-2")
        assert process.wait_for(lambda: _status(process, rotated) == 200, timeout=10)
        assert _status(process, _token()) == 401, "the retired key no longer verifies"
        # A flood of unknown key ids costs at most one fetch per jwks_refresh_min_s (1 s).
        before, started = idp.fetches, time.monotonic()
        for index in range(20):
            assert _status(process, _token(ROTATED, kid=f"made-up-{index}")) == 401
        time.sleep(1.2)
        assert idp.fetches - before <= int(time.monotonic() - started) + 1
    finally:
        assert process.stop() == 0
        idp.httpd.shutdown()


@pytest.mark.parametrize("oidc, message", [
    ({"mappings": [{"claim": "groups", "value": "g", "project": "p", "role": "root"}]}, "auth.oidc.mappings[0]: role: unknown role 'root'"),
    ({"mappings": [{"claim": "groups", "value": "g", "role": "viewer"}]}, "auth.oidc.mappings[0]: missing required key(s) project"),
    ({"mappings": [{"claim": "groups", "value": "g", "project": "../etc", "role": "viewer"}]}, "auth.oidc.mappings[0]: project: 1 to 63"),
    ({"algorithms": ["RS256", "HS256"]}, "algorithms: 'HS256'"),
    ({"algorithms": ["none"]}, "algorithms: 'none'"),
    ({"issuer": ""}, "issuer: required"),
    ({"jwks_url": "https://idp.example.test/jwks"}, "jwks_file or jwks_url: exactly one"),
    ({"jwks_file": "", "jwks_url": "http://idp.example.test/jwks"}, "jwks_url: must be an https:// URL"),
    ({"role_claim": "", "project_claim": "", "mappings": []}, "mappings or role_claim"),
    ({"clock_skew_s": -1}, "clock_skew_s"),
])
def test_config_errors_name_the_key(tmp_path: Any, oidc: dict[str, Any], message: str) -> None:
    settings = {"issuer": ISSUER, "audience": AUDIENCE, "jwks_file": "jwks.json", "role_claim": "role"} | oidc
    path = tmp_path / "spanwise.yaml"
    path.write_text(yaml.safe_dump({"auth": {"enabled": True, "oidc": settings}}))
    with pytest.raises(ConfigError) as raised:
        load_config(str(path))
    assert message in str(raised.value), str(raised.value)


def test_config_roles_match_the_access_rules_and_env_reaches_oidc() -> None:
    assert AUTH_ROLES == ROLES and PROJECT_NAME.pattern == auth._NAME.pattern
    config = load_config(environ={"SPANWISE_AUTH_OIDC_ISSUER": ISSUER, "SPANWISE_AUTH_OIDC_AUDIENCE": AUDIENCE,
                                  "SPANWISE_AUTH_OIDC_JWKS_FILE": os.devnull, "SPANWISE_AUTH_OIDC_ROLE_CLAIM": "role"})
    assert config.auth.oidc.enabled and config.auth.oidc.issuer == ISSUER and config.auth.oidc.algorithms == ["RS256", "ES256"]
    assert any(w.startswith("auth.oidc: has no effect while auth is off") for w in config_warnings(config))


def test_a_jwks_file_that_does_not_parse_stops_the_start(tmp_path: Any) -> None:
    (tmp_path / "jwks.json").write_text('{"keys": "not a list"}')
    args = _oidc_config(str(tmp_path / "spanwise.yaml"), jwks_file=str(tmp_path / "jwks.json"))
    process = SpanwiseProcess(str(tmp_path / "data"), extra_args=args, auth=True)
    with pytest.raises(RuntimeError, match="auth.oidc.jwks_file: not a JWKS"):
        process.start(timeout=30)
