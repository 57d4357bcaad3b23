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


def _modules(package: str) -> dict[str, list[str]]:
    """module -> what it imports from spanwise, for every module under `package`."""
    base = SRC.joinpath(*package.split(".")[1:])
    paths = list(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
    return {"spanwise." + ".".join(p.relative_to(SRC).with_suffix("").parts): _imports(p) for p in paths}


def test_the_store_seams_hold() -> None:
    """Protocols know no engine; only the chDB module knows chDB; routes reach services, and
    only the composition root and runtime open the store."""
    leaks = [f"{m} imports {i}" for m, found in _modules("spanwise.store.protocols").items()
             for i in found if i.startswith("spanwise.store.clickhouse")]
    chdb_users = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                  if any(isinstance(n, (ast.Import, ast.ImportFrom)) and "chdb" in
                         ([a.name for a in n.names] if isinstance(n, ast.Import) else [n.module or ""])
                         for n in ast.walk(ast.parse(p.read_text(encoding="utf-8"))))]
    routes = {m: found for m, found in _modules("spanwise.serve").items() if m.endswith("_api")}
    route_leaks = [f"{m} imports {i}" for m, found in routes.items() for i in found
                   if i.startswith("spanwise.store.clickhouse") or i == "spanwise.store"]
    assert leaks == [] and chdb_users == ["store/clickhouse/chdb.py"] and route_leaks == []


def test_the_request_context_is_set_only_at_edges() -> None:
    """`acting(...)` sets whose work it is: the HTTP and gRPC edges, start-up and shutdown,
    and jobs (periodic ticks, per-project work); services and the SQL only read it."""
    setters = sorted(str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                     if "acting(" in p.read_text(encoding="utf-8") and p.name != "request_context.py")
    allowed = {"serve/request_scope.py", "serve/otlp_grpc.py", "serve/runtime.py", "periodic.py"}
    jobs = {"analyze/model_signals.py", "analyze/feedback.py", "alerts/engine.py", "process/tail_sampling.py"}
    assert set(setters) - allowed - jobs - {s for s in setters if s.startswith("store/")} == set(), setters
