"""Shared fixtures: a real `spanwise serve` subprocess on free ports with its own data dir."""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "support"))

from server_process import SpanwiseProcess  # noqa: E402

from spanwise.request_context import DEFAULT_PROJECT, RequestContext, acting  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def default_project() -> Iterator[None]:
    """In-process tests call the store as a request in the default project would (the
    server sets this at its edges; a test that needs another project or none sets its own)."""
    with acting(RequestContext(project=DEFAULT_PROJECT, principal="test")):
        yield


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SpanwiseProcess]:
    """One server per test module (starting one costs about a second)."""
    process = SpanwiseProcess(str(tmp_path_factory.mktemp("spanwise-data")))
    process.start()
    yield process
    process.stop()
