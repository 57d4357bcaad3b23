"""Conventions that keep the code base in shape: dependency direction and typing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "spanwise"
#: Layers from the bottom: a module may import its own layer and the layers below it.
LAYERS = [{"core", "errors", "config", "request_context", "periodic"}, {"receive", "process", "store"}, {"query", "analyze", "alerts"}, {"serve", "cli"}]


def _layer(module: str) -> int:
    top = module.split(".")[1] if module.count(".") else ""
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    return -1


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("spanwise."):
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("spanwise.")]
    return found


def test_dependencies_point_one_way() -> None:
    """model <- receive/process/store <- query/analyze/alerts <- serve/cli (STYLE.md)."""
    violations = []
    for path in SRC.rglob("*.py"):
        module = "spanwise." + ".".join(path.relative_to(SRC).with_suffix("").parts)
        own = _layer(module)
        for imported in _imports(path):
            if _layer(imported) > own >= 0:
                violations.append(f"{module} imports {imported}")
    assert not violations


def test_modules_stay_small() -> None:
    too_long = {str(p.relative_to(SRC)): n for p in SRC.rglob("*.py") if (n := len(p.read_text().splitlines())) > 600}
    assert not too_long


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", str(SRC)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:]


def test_test_modules_have_unique_names() -> None:
    """Test folders are not packages: two test files of one name make collection fail
    ('import file mismatch') in a clean checkout, though a warm work tree may hide it."""
    names = [p.name for p in (SRC.parents[1] / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
