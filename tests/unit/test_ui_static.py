"""The web UI's own code never turns strings into markup: telemetry must stay text."""

from __future__ import annotations

import re
from pathlib import Path

from spanwise.serve.ui import STATIC_DIR

HTML_SINKS = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function\(")


def _own_scripts() -> list[Path]:
    return [p for p in (STATIC_DIR / "js").rglob("*.js")]


def test_no_html_sinks_in_ui_code() -> None:
    scripts = _own_scripts()
    assert len(scripts) >= 5
    offenders = [f"{p.name}: {m.group(0)}" for p in scripts for m in HTML_SINKS.finditer(p.read_text())]
    assert offenders == []


def test_shell_has_no_inline_script() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []


def test_every_imported_module_exists() -> None:
    """A missing page module would only show up as a 404 in the browser."""
    for script in _own_scripts():
        for target in re.findall(r"(?:from|import\()\s*'(\.[^']+)'", script.read_text()):
            assert (script.parent / target).resolve().exists(), f"{script.name} imports missing {target}"
