"""`pip install spanwise` is the SDK alone: in a fresh virtual environment the base package
installs none of the server's dependencies, the SDK records a prediction, and
`spanwise serve` says which extra it needs instead of a traceback."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SERVER_PACKAGES = ["chdb", "ptars", "pyarrow", "starlette", "uvicorn", "scipy", "PyYAML"]


def test_base_install_is_the_sdk_only(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", str(ROOT)],
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stderr[-3000:]
    shown = subprocess.run([python, "-m", "pip", "show", *SERVER_PACKAGES], capture_output=True, text=True)
    assert "Name:" not in shown.stdout, f"server packages installed with the SDK: {shown.stdout}"
    use = subprocess.run([python, "-c", (
        "from spanwise import sdk\n"
        "sw = sdk.Spanwise('probe', 'http://127.0.0.1:9', logs=False, metrics=False)\n"
        "print(sw.record_prediction('m', 'v1', features={'x': 1.0}, value=0.5))\n"
        "sw.shutdown(1)\n")], capture_output=True, text=True, timeout=60)
    assert use.returncode == 0 and use.stdout.strip(), use.stderr[-2000:]
    serve = subprocess.run([str(env_dir / "bin" / "spanwise"), "serve"], capture_output=True, text=True, timeout=60)
    assert serve.returncode == 2
    assert "pip install 'spanwise[server]'" in serve.stderr and "Traceback" not in serve.stderr
