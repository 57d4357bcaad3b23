"""TLS on all three ports with mutual TLS for ingest, on a real server with auth: the real
OTel SDK exporters deliver over gRPC and HTTP with a custom CA and a client certificate,
plain and certificate-less connections are refused, replaced certificate files are served
to new connections within the reload interval (a half-written set is not), and bad files
stop the server from starting with one line naming the file."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
from dataclasses import dataclass
from typing import Iterator

import grpc
import httpx
import pytest
from cert_authority import CertAuthority, Issued
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.sdk.trace.export import SpanExportResult
from server_process import SpanwiseProcess
from sdk_export import send_one_span

pytestmark = pytest.mark.slow
RELOAD_INTERVAL_S = 0.5
EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"


@dataclass(frozen=True)
class Pki:
    ca: CertAuthority
    first: Issued  # the server's certificate at start (serial 1001)
    second: Issued  # its replacement (serial 1002)
    client: Issued  # signed by the CA: may send
    stranger: Issued  # a client certificate from another CA
    live: Issued  # the paths the server is configured with


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = str(tmp_path_factory.mktemp("pki"))
    ca = CertAuthority(directory)
    other = CertAuthority(str(tmp_path_factory.mktemp("other-pki")), "Someone Else's CA")
    first, second = ca.issue("spanwise-first", 1001), ca.issue("spanwise-second", 1002)
    live = Issued(os.path.join(directory, "live.pem"), os.path.join(directory, "live.key"))
    shutil.copyfile(first.cert, live.cert)
    shutil.copyfile(first.key, live.key)
    return Pki(ca, first, second, ca.issue("sender", 2001, client=True), other.issue("stranger", 3001, client=True), live)


@pytest.fixture(scope="module")
def server(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    data = tmp_path_factory.mktemp("tls-data")
    config = os.path.join(data, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write(f"tls:\n  cert_file: {pki.live.cert}\n  key_file: {pki.live.key}\n"
                     f"  client_ca_file: {pki.ca.cert}\n  reload_interval_s: {RELOAD_INTERVAL_S}\n")
    process = SpanwiseProcess(os.path.join(data, "store"), extra_args=["--config", config], auth=True,
                              tls_ca=pki.ca.cert)
    process.start()
    yield process
    assert process.stop() == 0


def _stored(server: SpanwiseProcess, service: str) -> int:
    return len(server.query("/api/v1/traces", service=service, lookback="1h").json()["traces"])


def test_otel_sdk_exporters_deliver_over_mutual_tls(server: SpanwiseProcess, pki: Pki,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # requests (under the HTTP exporter) lets these override the exporter's CA file
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    headers = {"authorization": f"Bearer {server.admin_token}"}
    http = HttpExporter(endpoint=f"{server.http_url}/v1/traces", certificate_file=pki.ca.cert,
                        client_certificate_file=pki.client.cert, client_key_file=pki.client.key,
                        headers=headers, timeout=5)
    assert send_one_span(http, "tls-http") == SpanExportResult.SUCCESS
    # gRPC from the environment variables the README gives for a custom CA and a client certificate
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CERTIFICATE", pki.ca.cert)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", pki.client.cert)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_CLIENT_KEY", pki.client.key)
    grpc_exporter = GrpcExporter(endpoint=f"https://localhost:{server.grpc_port}", headers=headers, timeout=5)
    assert send_one_span(grpc_exporter, "tls-grpc") == SpanExportResult.SUCCESS
    assert server.wait_for(lambda: _stored(server, "tls-http") == 1 and _stored(server, "tls-grpc") == 1)
    assert server.query_url.startswith("https://")


def _grpc_export(server: SpanwiseProcess, credentials: grpc.ChannelCredentials | None) -> grpc.StatusCode:
    """An empty OTLP export over a fresh channel (None: plaintext); its status."""
    target = f"localhost:{server.grpc_port}"
    channel = grpc.secure_channel(target, credentials) if credentials else grpc.insecure_channel(target)
    with channel:
        try:
            channel.unary_unary(EXPORT)(b"", metadata=(("authorization", f"Bearer {server.admin_token}"),), timeout=5)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
    return grpc.StatusCode.OK


def _read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def _client(server: SpanwiseProcess, pki: Pki, issued: Issued | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=pki.ca.cert)
    if issued:
        context.load_cert_chain(issued.cert, issued.key)
    return httpx.Client(verify=context, headers=server.auth_headers(), timeout=5)


def test_ingest_without_a_trusted_client_certificate_is_refused(server: SpanwiseProcess, pki: Pki) -> None:
    ca = _read(pki.ca.cert)
    with_client = grpc.ssl_channel_credentials(ca, _read(pki.client.key), _read(pki.client.cert))
    assert _grpc_export(server, with_client) == grpc.StatusCode.OK
    assert _grpc_export(server, grpc.ssl_channel_credentials(ca)) == grpc.StatusCode.UNAVAILABLE
    stranger = grpc.ssl_channel_credentials(ca, _read(pki.stranger.key), _read(pki.stranger.cert))
    assert _grpc_export(server, stranger) == grpc.StatusCode.UNAVAILABLE
    assert _grpc_export(server, None) == grpc.StatusCode.UNAVAILABLE

    url, body = f"{server.http_url}/v1/traces", {"resourceSpans": []}
    with _client(server, pki, pki.client) as client:
        assert client.post(url, json=body).status_code == 200
    for issued in (None, pki.stranger):
        with _client(server, pki, issued) as client, pytest.raises(httpx.TransportError):
            client.post(url, json=body)
    with pytest.raises(httpx.TransportError):
        httpx.post(url.replace("https://", "http://"), json=body, headers=server.auth_headers(), timeout=5)


def test_the_query_api_is_https_without_a_client_certificate(server: SpanwiseProcess, pki: Pki) -> None:
    with _client(server, pki, None) as client:
        assert client.get(f"{server.query_url}/api/v1/status").status_code == 200
        signed_in = client.post(f"{server.query_url}/api/v1/session", json={"token": server.admin_token})
    assert signed_in.status_code == 200
    cookies = signed_in.headers.get_list("set-cookie")
    assert len(cookies) == 2 and all("; secure" in c.lower() for c in cookies), cookies
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{server.query_url.replace('https://', 'http://')}/api/v1/health", timeout=5)


def _peer(port: int, pki: Pki, alpn: str) -> tuple[int, str]:
    """The serial number and CN of the certificate a new connection to `port` is shown."""
    context = ssl.create_default_context(cafile=pki.ca.cert)
    context.load_cert_chain(pki.client.cert, pki.client.key)
    context.set_alpn_protocols([alpn])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname="localhost") as tls:
            cert = tls.getpeercert()
    assert cert is not None
    names = dict(item[0] for item in cert["subject"])  # type: ignore[misc]
    return int(str(cert["serialNumber"]), 16), str(names["commonName"])


def _peers(server: SpanwiseProcess, pki: Pki) -> list[tuple[int, str]]:
    return [_peer(server.grpc_port, pki, "h2"), _peer(server.http_port, pki, "http/1.1"),
            _peer(server.query_port, pki, "http/1.1")]


def _replace(path: str, content: bytes) -> None:
    """Write a new version of `path` the way deployment tools do: a temporary file, renamed over it."""
    with open(f"{path}.tmp", "wb") as handle:
        handle.write(content)
    os.replace(f"{path}.tmp", path)


def test_replaced_certificate_files_reach_new_connections_on_every_port(server: SpanwiseProcess, pki: Pki,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    assert _peers(server, pki) == [(1001, "spanwise-first")] * 3
    # a half-written update (the new key, not yet its certificate) is not taken, and is said once
    _replace(pki.live.key, _read(pki.second.key))
    assert server.wait_for(lambda: "keeping the current certificate" in server.log(), timeout=10)
    assert "does not match" in server.log()
    assert _peers(server, pki) == [(1001, "spanwise-first")] * 3
    assert _grpc_export(server, grpc.ssl_channel_credentials(
        _read(pki.ca.cert), _read(pki.client.key), _read(pki.client.cert))) == grpc.StatusCode.OK

    _replace(pki.live.cert, _read(pki.second.cert))
    started = time.monotonic()
    assert server.wait_for(lambda: _peers(server, pki) == [(1002, "spanwise-second")] * 3, timeout=10)
    took = time.monotonic() - started
    assert took < RELOAD_INTERVAL_S + 1.5, f"new certificate served after {took:.2f} s"
    assert server.log().count("keeping the current certificate") == 1
    # the new certificate carries real traffic: a new exporter delivers over it
    exporter = HttpExporter(endpoint=f"{server.http_url}/v1/traces", certificate_file=pki.ca.cert,
                            client_certificate_file=pki.client.cert, client_key_file=pki.client.key,
                            headers={"authorization": f"Bearer {server.admin_token}"}, timeout=5)
    assert send_one_span(exporter, "after-reload") == SpanExportResult.SUCCESS
    assert _grpc_export(server, grpc.ssl_channel_credentials(
        _read(pki.ca.cert), _read(pki.client.key), _read(pki.client.cert))) == grpc.StatusCode.OK


@pytest.mark.parametrize("problem", ["missing certificate", "key of another certificate"])
def test_bad_files_refuse_to_start_naming_the_file(pki: Pki, tmp_path: os.PathLike[str], problem: str) -> None:
    cert = os.path.join(tmp_path, "nowhere.pem") if problem == "missing certificate" else pki.first.cert
    key = pki.second.key if problem == "key of another certificate" else pki.first.key
    process = SpanwiseProcess(os.path.join(tmp_path, "data"))
    env = {**os.environ, "SPANWISE_TLS_CERT_FILE": cert, "SPANWISE_TLS_KEY_FILE": key}
    result = subprocess.run(process.command(), capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    named = cert if problem == "missing certificate" else key
    assert f"tls.{'cert' if problem == 'missing certificate' else 'key'}_file {named}" in lines[0], lines[0]
    assert not os.path.exists(os.path.join(tmp_path, "data")), "refused before touching the data directory"
