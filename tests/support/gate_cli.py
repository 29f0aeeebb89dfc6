"""The real gate CLI and the real server as the end-to-end tests drive them: `scanner_cli.py` in its own
process (under `faketime` when a test moves the gate's clock), a gate enrolled with a one-time code, a ticket
bought and paid over HTTP."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from support.server import ROOT, ServerProcess

__all__ = ["buy_single", "enrol", "gate", "gate_json", "require_faketime"]


def require_faketime() -> None:
    """Skip a test that moves a process's clock where faketime is missing; fail under CI, where `make test`
    installs it."""
    if shutil.which("faketime") is not None:
        return
    if os.environ.get("CI"):
        pytest.fail("faketime is missing under CI: `make test` installs it (apt-get install faketime)")
    pytest.skip("faketime is not installed (apt-get install faketime; `make test` does it as root)")


def gate(
    folder: Path, *argv: str, clock: str | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """`scanner_cli.py --data-dir FOLDER ARGV...` as its own process; under `faketime -f CLOCK` when `clock`
    is set (timeouts keep real time)."""
    command = [sys.executable, str(ROOT / "scanner_cli.py"), "--data-dir", str(folder), *argv]
    env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    if clock is not None:
        command = ["faketime", "-f", clock, *command]
    return subprocess.run(
        command, cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def gate_json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON object a `--json` command printed last."""
    body: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return body


def enrol(server: ServerProcess, folder: Path, station: str = "L1-01", gate_id: str = "L1-01-G1") -> None:
    """Add a gate on the server (`gates add`) and enrol the gate in `folder` with its one-time code."""
    code = server.cli("gates", "add", "--station", station, "--gate", gate_id).strip().splitlines()[-1]
    done = gate(folder, "enroll", "--server", server.url, "--code", code)
    assert done.returncode == 0, done.stderr


def buy_single(server: ServerProcess, origin: str = "L1-01", destination: str = "L1-05") -> dict[str, Any]:
    """A single ticket ordered and paid (sandbox) over HTTP: the paid order, with its access token."""
    item = {"product": "single", "origin": origin, "destination": destination}
    order = httpx.post(f"{server.url}/v1/orders", json={"items": [item]}).json()
    headers = {"Authorization": f"Bearer {order['access_token']}"}
    paid = httpx.post(f"{server.url}/v1/sandbox/orders/{order['id']}/pay", headers=headers)
    assert paid.status_code == 200, paid.text
    answer: dict[str, Any] = {**paid.json(), "access_token": order["access_token"]}
    return answer
