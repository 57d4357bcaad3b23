"""Every store Protocol has a contract suite, and every backend answers all of `Store`.

Each contract module declares `PROTOCOLS`, the Protocols its tests exercise; a Protocol
defined in a module of `spanwise.store` (public name) that no module declares fails here,
so a new capability cannot arrive without a suite run against every backend."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from types import ModuleType
from typing import Any

import spanwise.store
from spanwise.store import Store

PROTOCOLS = (Store,)
HERE = Path(__file__).parent


def _store_modules() -> list[ModuleType]:
    names = [info.name for info in pkgutil.walk_packages(spanwise.store.__path__, "spanwise.store.")]
    return [spanwise.store] + [importlib.import_module(name) for name in names]


def _store_protocols() -> dict[str, type]:
    """Public Protocol classes by qualified name, where they are defined (not re-exported)."""
    found = {}
    for module in _store_modules():
        for name, value in vars(module).items():
            defined_here = isinstance(value, type) and value.__module__ == module.__name__
            if defined_here and getattr(value, "_is_protocol", False) and not name.startswith("_"):
                found[f"{module.__name__}.{name}"] = value
    return found


def _declared() -> dict[str, tuple[Any, ...]]:
    """`PROTOCOLS` of every contract module (modules are imported by name: tests/contract
    is on sys.path, as pytest puts it there to collect them)."""
    return {path.stem: getattr(importlib.import_module(path.stem), "PROTOCOLS", ())
            for path in sorted(HERE.glob("test_*.py"))}


def _qualified(protocol: type) -> str:
    return f"{protocol.__module__}.{protocol.__name__}"


def test_every_contract_module_declares_store_protocols() -> None:
    protocols = set(_store_protocols().values())
    undeclared = [module for module, declared in _declared().items() if not declared]
    assert undeclared == [], "declare PROTOCOLS = (...) in these modules"
    unknown = {module: [p for p in declared if p not in protocols] for module, declared in _declared().items()}
    assert {module: wrong for module, wrong in unknown.items() if wrong} == {}, "not Protocols of spanwise.store"


def test_every_store_protocol_has_a_contract_suite() -> None:
    covered = {_qualified(p) for declared in _declared().values() for p in declared}
    assert sorted(set(_store_protocols()) - covered) == []


def test_the_scan_finds_the_protocols_it_should() -> None:
    """The check above is only as good as the scan: it sees Protocols of every module and
    nested ones, and nothing that is not a Protocol."""
    names = {protocol.__name__ for protocol in _store_protocols().values()}
    assert {"Store", "TraceStore", "LogStore", "TokenStore", "SpanWindowReader", "ScoreReader"} <= names
    assert not {"LogQuery", "SqlTraceStore", "ChdbTraceStore", "Protocol"} & names


def _members(protocol: type) -> set[str]:
    """Public methods and attributes a Protocol (and the Protocols it extends) declares."""
    names: set[str] = set()
    for base in protocol.__mro__:
        if getattr(base, "_is_protocol", False) and base.__module__.startswith("spanwise."):
            names |= {n for n in (*vars(base), *vars(base).get("__annotations__", {})) if not n.startswith("_")}
    return names


def test_every_backend_answers_every_member_of_store(store: Store) -> None:
    members = _members(Store)
    assert {"write_spans", "search_logs", "tail_sampling", "data_projects", "put_token"} <= members
    missing = sorted(name for name in members if not hasattr(store, name))
    assert missing == []
    annotated = {n for p in Store.__mro__ for n in vars(p).get("__annotations__", {})}
    assert sorted(n for n in members - annotated if not callable(getattr(store, n))) == []
