"""A tiny JSON-over-HTTP service on loopback (stdlib `http.server` in a thread) that
continues the caller's trace: each request is a SERVER span of the service's own tracer
provider, its parent extracted from the W3C headers by the SDK; `call()` makes a CLIENT
span and injects the context into the outgoing headers."""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from opentelemetry.trace import SpanKind, Status, StatusCode

from spanwise.sdk import Spanwise, extract, inject

log = logging.getLogger(__name__)
Handler = Callable[[dict[str, Any]], dict[str, Any]]


class ServiceError(Exception):
    """A request the service fails (answered 500, span status ERROR)."""


class HttpService:
    """One service: `routes` maps a path to a handler of the JSON body."""

    def __init__(self, name: str, sdk: Spanwise, routes: dict[str, Handler]) -> None:
        self.name, self.sdk, self.routes = name, sdk, routes
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"demo-{name}", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def shutdown(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 (the stdlib's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status, answer = service.handle(self.path, dict(self.headers.items()), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return RequestHandler

    def handle(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        route = self.routes.get(path)
        attributes = {"http.request.method": "POST", "url.path": path, "http.route": path}
        with self.sdk.tracer.start_as_current_span(f"POST {path}", context=extract(headers), kind=SpanKind.SERVER,
                                                   attributes=attributes, record_exception=False,
                                                   set_status_on_exception=False) as span:
            if route is None:
                span.set_attribute("http.response.status_code", 404)
                return 404, {"error": "not found"}
            try:
                answer = route(json.loads(body or b"{}"))
            except ServiceError as exc:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                span.set_attribute("http.response.status_code", 500)
                return 500, {"error": str(exc)}
            span.set_attribute("http.response.status_code", 200)
            return 200, answer


def call(sdk: Spanwise, url: str, path: str, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
    """POST JSON to another service in a CLIENT span; a failed call raises ServiceError."""
    with sdk.tracer.start_as_current_span(f"POST {path}", kind=SpanKind.CLIENT,
                                          attributes={"http.request.method": "POST", "url.full": url + path},
                                          record_exception=False, set_status_on_exception=False) as span:
        headers: dict[str, str] = {"Content-Type": "application/json"}
        inject(headers)
        request = urllib.request.Request(url + path, data=json.dumps(payload).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                span.set_attribute("http.response.status_code", response.status)
                return dict(json.loads(response.read()))
        except urllib.error.HTTPError as exc:
            span.set_attribute("http.response.status_code", exc.code)
            span.set_status(Status(StatusCode.ERROR, f"HTTP {exc.code}"))
            raise ServiceError(f"{path} answered {exc.code}") from None
        except (urllib.error.URLError, OSError) as exc:
            span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise ServiceError(f"{path} unreachable: {exc}") from None
