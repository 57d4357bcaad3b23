"""Secure by default: without auth, Spanwise listens on loopback only and refuses, in one
line naming the way out, to listen anywhere else."""

from __future__ import annotations

import os
import socket
import subprocess

import httpx
import pytest
from server_process import SpanwiseProcess

pytestmark = pytest.mark.slow


def _outward_address() -> str | None:
    """This machine's address on its default route (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com"])
def test_listening_beyond_loopback_without_auth_is_refused_in_one_line(tmp_path: os.PathLike[str], host: str) -> None:
    process = SpanwiseProcess(os.path.join(tmp_path, "data"), host=host)
    result = subprocess.run(process.command(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert host in lines[0] and "--allow-unauthenticated" in lines[0] and "--auth" in lines[0]
    assert not os.path.exists(os.path.join(tmp_path, "data")), "refused before touching the data directory"


def test_default_listens_on_loopback_only(tmp_path: os.PathLike[str]) -> None:
    process = SpanwiseProcess(os.path.join(tmp_path, "data"), host=None)
    process.start()
    try:
        assert httpx.get(f"http://localhost:{process.query_port}/api/v1/health").status_code == 200
        outward = _outward_address()
        if outward is None:
            pytest.skip("no non-loopback address to probe")
        for port in (process.grpc_port, process.http_port, process.query_port):
            with pytest.raises(OSError):
                socket.create_connection((outward, port), timeout=2).close()
    finally:
        assert process.stop() == 0


@pytest.mark.parametrize("flag", ["--allow-unauthenticated", "--auth"])
def test_any_address_with_auth_or_explicit_trust(tmp_path: os.PathLike[str], flag: str) -> None:
    process = SpanwiseProcess(os.path.join(tmp_path, "data"), host="0.0.0.0", extra_args=[flag])
    process.start()
    try:
        outward = _outward_address()
        if outward is not None:
            socket.create_connection((outward, process.http_port), timeout=2).close()
    finally:
        assert process.stop() == 0


def test_trust_from_config_file_and_auth_from_environment(tmp_path: os.PathLike[str]) -> None:
    config = os.path.join(tmp_path, "spanwise.yaml")
    with open(config, "w", encoding="utf-8") as handle:
        handle.write("server:\n  allow_unauthenticated: true\n")
    trusted = SpanwiseProcess(os.path.join(tmp_path, "a"), host="0.0.0.0", extra_args=["--config", config])
    trusted.start()
    assert trusted.stop() == 0
    refused = SpanwiseProcess(os.path.join(tmp_path, "b"), host="0.0.0.0")
    env = {**os.environ, "SPANWISE_AUTH_ENABLED": "true"}
    started = subprocess.Popen(refused.command(), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        refused.wait_for(lambda: os.path.exists(os.path.join(tmp_path, "b", "admin-token")) or started.poll() is not None,
                         timeout=60)
        assert started.poll() is None, started.stderr.read() if started.stderr else ""
    finally:
        started.terminate()
        started.wait(30)
