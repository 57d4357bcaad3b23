"""The web UI as HTTP: page paths get the shell with a strict CSP, static files are
compressed, unknown paths and the API keep their own answers."""

from __future__ import annotations

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("path", ["/", "/traces?service=a", "/trace/0af7651916cd43dd8448eb211c80319c",
                                  "/services", "/models", "/models/fraud%3Cscript%3E", "/prediction/p-1"])
def test_page_paths_serve_the_shell(server: SpanwiseProcess, path: str) -> None:
    answer = httpx.get(server.query_url + path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert '<main id="page"' in answer.text
    csp = answer.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_static_files_are_gzipped_and_revalidated(server: SpanwiseProcess) -> None:
    url = server.query_url + "/static/vendor/echarts/echarts.esm.min.mjs"
    with httpx.stream("GET", url, headers={"accept-encoding": "gzip"}) as answer:
        assert answer.status_code == 200
        assert answer.headers["content-encoding"] == "gzip"
        assert "javascript" in answer.headers["content-type"]
        on_the_wire = sum(len(chunk) for chunk in answer.iter_raw())
    assert on_the_wire < 450_000 < len(httpx.get(url).content)
    again = httpx.get(server.query_url + "/static/js/app.js", headers={"if-none-match": httpx.get(
        server.query_url + "/static/js/app.js").headers["etag"]})
    assert again.status_code == 304


def test_unknown_paths_stay_404(server: SpanwiseProcess) -> None:
    assert httpx.get(server.query_url + "/nope").status_code == 404
    assert httpx.get(server.query_url + "/static/js/nope.js").status_code == 404
    outside = httpx.get(server.query_url + "/static/..%2F..%2Fserve%2Fui.py")
    assert outside.status_code == 404 and b"STATIC_DIR" not in outside.content
    missing = httpx.get(server.query_url + "/api/v1/nope")
    assert missing.status_code == 404 and "<main" not in missing.text
    assert httpx.get(server.query_url + "/api/v1/health").json()["status"] == "ok"
