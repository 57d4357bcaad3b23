"""Where the SDK sends things, resolved once at `init()` from arguments, then the
environment variables OpenTelemetry defines, then defaults.

Precedence per setting: argument > environment > default. The OTLP protocol defaults to
`http/protobuf` (the OTel specification's default) unless the endpoint's port is 4317,
the gRPC port, in which case gRPC is meant. Logs and metrics go to the same endpoint with
the same protocol and headers; `OTEL_TRACES_EXPORTER`, `OTEL_LOGS_EXPORTER` or
`OTEL_METRICS_EXPORTER` set to `none` turns that signal off.
"""

from __future__ import annotations

import os
import urllib.parse
from dataclasses import dataclass
from typing import Mapping

DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
DEFAULT_API_PORT = 16686
DEFAULT_METRIC_INTERVAL_S = 60.0
PROTOCOLS = ("grpc", "http/protobuf")
SIGNALS = ("traces", "logs", "metrics")


@dataclass(frozen=True)
class SdkConfig:
    """Resolved settings; `api_url` is the query API (feedback, baselines)."""

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
    protocol = protocol or env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL") \
        or ("grpc" if urllib.parse.urlsplit(endpoint).port == 4317 else "http/protobuf")
    if protocol not in PROTOCOLS:
        raise ValueError(f"unsupported OTLP protocol {protocol!r}: use one of {', '.join(PROTOCOLS)}")
    timeout = export_timeout_s if export_timeout_s is not None else float(env.get("OTEL_EXPORTER_OTLP_TIMEOUT", "10000")) / 1000
    return SdkConfig(
        service_name=service_name or env.get("OTEL_SERVICE_NAME") or "unknown_service",
        endpoint=endpoint,
        traces_endpoint=traces_endpoint,
        protocol=protocol,
        api_url=(api_url or env.get("SPANWISE_API_URL") or _api_url_beside(endpoint)).rstrip("/"),
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


def _api_url_beside(endpoint: str) -> str:
    """The query API on the OTLP endpoint's host (Spanwise serves both)."""
    host = urllib.parse.urlsplit(endpoint).hostname or "localhost"
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
