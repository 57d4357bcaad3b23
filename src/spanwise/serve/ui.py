"""The web UI on the query port: static files with no build step, and one HTML shell for
every page path so that URLs can be shared and reloaded.

Everything the pages show comes from telemetry that anyone who can send spans controls, so
the shell is served with a Content-Security-Policy that allows only our own scripts: even a
rendering bug could not run a `<script>` or `onerror=` payload from a span.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

STATIC_DIR = Path(__file__).resolve().parent.parent / "ui" / "static"

# Top-level paths the single-page app routes itself (see ui/static/js/app.js).
PAGE_PREFIXES = ("traces", "trace", "prediction", "services", "models")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class _SecureStatic(StaticFiles):
    """Static files with the same security headers as the shell, revalidated by ETag."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        response.headers.setdefault("Cache-Control", "no-cache")
        return response


def _shell(request: Request) -> Response:
    first = request.path_params.get("path", "").split("/", 1)[0]
    if first and first not in PAGE_PREFIXES:
        return Response("Not Found", status_code=404, media_type="text/plain")
    response = FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})
    response.headers.update(SECURITY_HEADERS)
    return response


def ui_routes() -> list[BaseRoute]:
    """Mount after every API route: the last route answers page paths with the shell."""
    return [
        Mount("/static", app=_SecureStatic(directory=STATIC_DIR), name="static"),
        Route("/", _shell),
        Route("/{path:path}", _shell),
    ]
