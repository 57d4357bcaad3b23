"""The web UI on the query port: static files with no build step, and one HTML shell for
every page path so that URLs can be shared and reloaded.

Everything the pages show comes from telemetry that anyone who can send spans controls, so
the shell is served with a Content-Security-Policy that allows only our own scripts: even a
rendering bug could not run a `<script>` or `onerror=` payload from a span.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

STATIC_DIR = Path(__file__).resolve().parent.parent / "ui" / "static"
_MEDIA_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css"}

# Top-level paths the single-page app routes itself (see ui/static/js/app.js).
PAGE_PREFIXES = ("traces", "trace", "prediction", "services", "models", "signin", "alerts")

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; img-src 'self' data:; style-src 'self' 'unsafe-inline'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


@lru_cache(maxsize=512)
def _asset(relative: str) -> _Asset | None:
    """A static file, read and compressed once: the files ship inside the package and do
    not change while the server runs (the charting library would otherwise be gzipped,
    ~130 ms, on every cold page load)."""
    path = (STATIC_DIR / relative).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        return None
    body = path.read_bytes()
    media_type = _MEDIA_TYPES.get(path.suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return _Asset(body, gzip.compress(body, compresslevel=6, mtime=0), f'"{hashlib.sha1(body).hexdigest()}"', media_type)


async def _static(request: Request) -> Response:
    asset = _asset(request.path_params["path"])
    if asset is None:
        return Response("Not Found", status_code=404, media_type="text/plain")
    headers = {**SECURITY_HEADERS, "ETag": asset.etag, "Cache-Control": "no-cache", "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == asset.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(asset.gzipped, headers={**headers, "Content-Encoding": "gzip"}, media_type=asset.media_type)
    return Response(asset.body, headers=headers, media_type=asset.media_type)


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
        Route("/static/{path:path}", _static),
        Route("/", _shell),
        Route("/{path:path}", _shell),
    ]
