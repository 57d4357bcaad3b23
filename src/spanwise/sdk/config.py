"""Where the SDK sends things, resolved once at `init()` from arguments, then the
environment variables OpenTelemetry defines, then defaults.

Precedence per setting: argument > environment > default.

The OTLP protocol is `protocol=`, else `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
`OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf` (the OTel specification's default) --
with one convenience kept for compatibility: an endpoint on port 4317, the standard gRPC
port, with no protocol given means gRPC. Any other port is never guessed from: when no
protocol is given for a port other than 4317/4318, `protocol_note` says so and `init()`
logs it, because a gRPC receiver on a custom port fed OTLP/HTTP fails only at export.

The query API (feedback, baselines) is `api_url=`, else `SPANWISE_API_URL`, else port
16686 on the endpoint's host -- but only when the endpoint is on a standard OTLP port
(4317/4318): a server started with custom ports has a custom query port too, which
cannot be guessed, so `api_url` stays empty and `api_url_note` asks for it.

Logs and metrics go to the same endpoint with the same protocol and headers;
`OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER` or `OTEL_METRICS_EXPORTER` set to `none`
turns that signal off.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Mapping

DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
DEFAULT_API_PORT = 16686
#: The OTLP ports a Spanwise server listens on by default (gRPC, HTTP).
STANDARD_OTLP_PORTS = (4317, 4318)
DEFAULT_METRIC_INTERVAL_S = 60.0
PROTOCOLS = ("grpc", "http/protobuf")
SIGNALS = ("traces", "logs", "metrics")


@dataclass(frozen=True)
class SdkConfig:
    """Resolved settings; `api_url` is the query API (feedback, baselines), empty when it
    could not be derived (`api_url_note` says why); `protocol_note` warns about a protocol
    taken by default on a non-standard port."""

    service_name: str
    endpoint: str
    protocol: str
    api_url: str
    headers: Mapping[str, str]
    export_timeout_s: float
    disabled: bool
    logs: bool = True
    metrics: bool = True
    traces: bool = True
    metric_interval_s: float = DEFAULT_METRIC_INTERVAL_S

    #: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the traces URL exactly as given (OTel's rule for
    #: signal-specific endpoints); empty when traces follow `endpoint`.
    traces_endpoint: str = ""
    api_url_note: str = ""
    protocol_note: str = ""

    @property
    def traces_url(self) -> str:
        """The OTLP/HTTP traces URL."""
        return self.signal_url("traces")

    def signal_url(self, signal: str) -> str:
        """The OTLP/HTTP URL of `signal` (traces, logs, metrics). As OTel specifies for
        OTEL_EXPORTER_OTLP_ENDPOINT, `endpoint` is a base URL: `/v1/<signal>` is appended to
        it, path or not; an endpoint that already ends in `/v1/<some signal>` (a traces URL
        given as the endpoint) has that suffix swapped instead."""
        if signal not in SIGNALS:
            raise ValueError(f"unknown OTLP signal {signal!r}")
        if signal == "traces" and self.traces_endpoint:
            return self.traces_endpoint
        endpoint = self.endpoint
        if self.traces_endpoint and endpoint == self.traces_endpoint:
            endpoint = _without_signal_path(endpoint)
        base = endpoint.rstrip("/")
        path = urllib.parse.urlsplit(endpoint).path.rstrip("/")
        for other in SIGNALS:
            if path.endswith(f"/v1/{other}"):
                return base[: -len(other)] + signal
        return f"{base}/v1/{signal}"

    @property
    def grpc_target(self) -> tuple[str, bool]:
        """host:port and whether the channel is insecure (http:// or no scheme)."""
        parsed = urllib.parse.urlsplit(self.endpoint if "//" in self.endpoint else "//" + self.endpoint)
        return parsed.netloc, parsed.scheme != "https"


def resolve(
    service_name: str | None = None, endpoint: str | None = None, protocol: str | None = None,
    api_url: str | None = None, headers: Mapping[str, str] | None = None,
    export_timeout_s: float | None = None, environ: Mapping[str, str] | None = None, *,
    logs: bool | None = None, metrics: bool | None = None, metric_interval_s: float | None = None,
) -> SdkConfig:
    """Settings from arguments, then `OTEL_*` / `SPANWISE_API_URL`, then defaults."""
    env = os.environ if environ is None else environ
    traces_endpoint = "" if endpoint else env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
    endpoint = endpoint or env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or traces_endpoint or DEFAULT_HTTP_ENDPOINT
    if "//" not in endpoint:
        endpoint = "http://" + endpoint
    protocol, protocol_note = _protocol(protocol or env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
                                        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL"), endpoint)
    api_url = (api_url or env.get("SPANWISE_API_URL") or _api_url_beside(endpoint)).rstrip("/")
    timeout = export_timeout_s if export_timeout_s is not None else float(env.get("OTEL_EXPORTER_OTLP_TIMEOUT", "10000")) / 1000
    return SdkConfig(
        service_name=service_name or env.get("OTEL_SERVICE_NAME") or "unknown_service",
        endpoint=endpoint,
        traces_endpoint=traces_endpoint,
        protocol=protocol,
        api_url=api_url,
        api_url_note="" if api_url else (
            f"the query API's URL cannot be derived from the OTLP endpoint {endpoint} (not on port 4317/4318): "
            "feedback and baseline uploads are not sent until you pass api_url= or set SPANWISE_API_URL "
            "(e.g. http://host:16686, the server's --query-port)"),
        protocol_note=protocol_note,
        headers=dict(headers or _parse_headers(env.get("OTEL_EXPORTER_OTLP_HEADERS", ""))),
        export_timeout_s=timeout,
        disabled=env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true",
        logs=logs if logs is not None else _exporter_on(env.get("OTEL_LOGS_EXPORTER", "")),
        metrics=metrics if metrics is not None else _exporter_on(env.get("OTEL_METRICS_EXPORTER", "")),
        traces=_exporter_on(env.get("OTEL_TRACES_EXPORTER", "")),
        metric_interval_s=metric_interval_s if metric_interval_s is not None
        else float(env.get("OTEL_METRIC_EXPORT_INTERVAL", DEFAULT_METRIC_INTERVAL_S * 1000)) / 1000,
    )


def _exporter_on(value: str) -> bool:
    """`OTEL_<SIGNAL>_EXPORTER`: `none` turns the signal off; unset or `otlp` leaves it on."""
    return value.strip().lower() != "none"


def _without_signal_path(url: str) -> str:
    """A signal URL's base: `https://h/otlp/v1/traces` -> `https://h/otlp`."""
    for signal in SIGNALS:
        if url.rstrip("/").endswith(f"/v1/{signal}"):
            return url.rstrip("/")[: -len(f"/v1/{signal}")]
    return url


def _protocol(given: str | None, endpoint: str) -> tuple[str, str]:
    """The OTLP protocol, and a note when it was taken by default on a non-standard port."""
    port = urllib.parse.urlsplit(endpoint).port
    if given:
        given = given.strip().lower()
        if given not in PROTOCOLS:
            raise ValueError(f"unsupported OTLP protocol {given!r}: use one of {', '.join(PROTOCOLS)}")
        return given, ""
    if port == 4317:
        return "grpc", ""
    if port is None or port in STANDARD_OTLP_PORTS:
        return "http/protobuf", ""
    return "http/protobuf", (
        f"no OTLP protocol given for {endpoint}: sending OTLP/HTTP (http/protobuf, the OpenTelemetry default); "
        "if that port is a gRPC receiver, pass protocol='grpc' or set OTEL_EXPORTER_OTLP_PROTOCOL=grpc")


def _api_url_beside(endpoint: str) -> str:
    """The query API on the OTLP endpoint's host (Spanwise serves both), when the endpoint
    is on a standard OTLP port; else empty (a custom query port cannot be guessed)."""
    parsed = urllib.parse.urlsplit(endpoint)
    if parsed.port not in STANDARD_OTLP_PORTS:
        return ""
    host = parsed.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{DEFAULT_API_PORT}"


def _parse_headers(text: str) -> dict[str, str]:
    """`key1=value1,key2=value2` as OTEL_EXPORTER_OTLP_HEADERS writes them (URL-encoded)."""
    found = {}
    for item in text.split(","):
        if "=" in item:
            key, value = item.split("=", 1)
            found[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return found
