"""The store backends every contract suite runs against, and the fixtures that open them.

A new backend is one line in `BACKENDS`: its name and how a fresh directory becomes the URL
`open_store` takes. Every test that uses one of these fixtures then runs once per backend:

- `store`: one started store per module and backend, shared by the module's tests (opening
  one costs a second or two; tests keep apart by writing distinct services, models, ids);
- `fresh_store`: an empty store per test, for suites whose checks count everything stored;
- `open_backend`: opens (and starts) the backend at a given directory, for suites that
  reopen one store, e.g. with another metrics spec.

A module uses `store`, or else `fresh_store`/`open_backend`: the embedded backend (chDB)
holds one open store per process, so a second one cannot open beside the module's.

A module that needs `open_store` options (retention_days, metrics, tail_sampling...)
overrides `store_options`. Each module declares `PROTOCOLS`, the store Protocols its tests
exercise; test_protocol_coverage.py fails when a Protocol of `spanwise.store` has no suite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from spanwise.store import Store, open_store

#: Backend name -> the store URL in a fresh directory.
BACKENDS: dict[str, Callable[[Path], str]] = {
    "chdb": lambda directory: f"chdb://{directory}/store",
}

Opener = Callable[..., Store]


@pytest.fixture(scope="module", params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> str:
    """The backend's name; parametrises every test that uses a store fixture."""
    return str(request.param)


@pytest.fixture(scope="module")
def store_options() -> dict[str, Any]:
    """Keyword arguments for `open_store`; a module overrides this fixture to change them."""
    return {}


@pytest.fixture(scope="module")
def open_backend(backend: str) -> Opener:
    """`open_backend(directory, **options)`: the backend's store in `directory`, started."""

    def opened(directory: Path, **options: Any) -> Store:
        store = open_store(BACKENDS[backend](directory), **options)
        store.start()
        return store

    return opened


@pytest.fixture(scope="module")
def store(
    backend: str, open_backend: Opener, store_options: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    opened = open_backend(tmp_path_factory.mktemp(backend), **store_options)
    yield opened
    opened.shutdown()


@pytest.fixture()
def fresh_store(open_backend: Opener, store_options: dict[str, Any], tmp_path: Path) -> Iterator[Store]:
    opened = open_backend(tmp_path, **store_options)
    yield opened
    opened.shutdown()
