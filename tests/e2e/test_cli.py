"""`spanwise` as a user runs it: version, clear one-line errors, config validation."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest
from server_process import SpanwiseProcess, free_port

from spanwise import __version__

pytestmark = pytest.mark.slow


def _run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "spanwise.cli", *args], capture_output=True, text=True, timeout=timeout)


def test_version() -> None:
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"spanwise {__version__}"


def test_taken_port_is_reported_in_one_line(tmp_path: os.PathLike[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = SpanwiseProcess(os.path.join(tmp_path, "data"))
        process.http_port = port
        result = subprocess.run(process.command(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0] and "OTLP/HTTP" in lines[0]


def test_unwritable_data_dir_is_reported_in_one_line(tmp_path: os.PathLike[str]) -> None:
    blocker = os.path.join(tmp_path, "a-file")
    with open(blocker, "w", encoding="utf-8") as handle:
        handle.write("not a directory")
    data_dir = os.path.join(blocker, "data")
    result = _run("serve", "--data-dir", data_dir, "--host", "127.0.0.1", "--grpc-port", str(free_port()),
                  "--http-port", str(free_port()), "--query-port", str(free_port()))
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "not writable" in lines[0] and data_dir in lines[0]


def test_config_validate_reports_errors_and_accepts_good_files(tmp_path: os.PathLike[str]) -> None:
    good = os.path.join(tmp_path, "good.yaml")
    with open(good, "w", encoding="utf-8") as handle:
        handle.write("server:\n  http_port: 14318\ningest:\n  fsync: true\nml:\n  mappings:\n    ml.model.version: [rev]\n")
    assert _run("config", "validate", good).returncode == 0
    bad = os.path.join(tmp_path, "bad.yaml")
    with open(bad, "w", encoding="utf-8") as handle:
        handle.write("server:\n  http_prot: 1\n  grpc_port: many\n")
    result = _run("config", "validate", bad)
    assert result.returncode == 2 and "http_prot" in result.stderr
