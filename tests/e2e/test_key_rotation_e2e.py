"""Key rotation and revocation through real processes: `python -m ticketing serve` and its CLI, and
`scanner_cli.py`, the clocks moved past a key's activation with Debian's faketime. A gate that synced while
the next key waited, then went offline, accepts a ticket that key signed; after a revocation the order shows
a new QR, which a synced gate accepts, while the old QR is refused as key_revoked."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import ROOT, ServerProcess, running

pytestmark = pytest.mark.e2e

PAST_ACTIVATION = "+49h"  # the shipped policy publishes a key 48 hours before it signs


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    if shutil.which("faketime") is None:
        if os.environ.get("CI"):
            pytest.fail("faketime is missing under CI: `make test` installs it (apt-get install faketime)")
        pytest.skip("faketime is not installed (apt-get install faketime; `make test` does it as root)")
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


def _gate(folder: Path, *argv: str, clock: str | None = None) -> subprocess.CompletedProcess[str]:
    """`scanner_cli.py --data-dir FOLDER ARGV...` as its own process, under faketime when `clock` is set."""
    command = [sys.executable, str(ROOT / "scanner_cli.py"), "--data-dir", str(folder), *argv]
    env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    if clock is not None:
        command = ["faketime", "-f", clock, *command]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)


def _enrolled_gate(server: ServerProcess, folder: Path) -> None:
    code = server.cli("gates", "add", "--station", "L1-01", "--gate", "L1-01-G1").strip().splitlines()[-1]
    enrolled = _gate(folder, "enroll", "--server", server.url, "--code", code)
    assert enrolled.returncode == 0, enrolled.stderr


def _buy_single(server: ServerProcess) -> dict[str, Any]:
    item = {"product": "single", "origin": "L1-01", "destination": "L1-05"}
    order = httpx.post(f"{server.url}/v1/orders", json={"items": [item]}).json()
    headers = {"Authorization": f"Bearer {order['access_token']}"}
    paid = httpx.post(f"{server.url}/v1/sandbox/orders/{order['id']}/pay", headers=headers)
    assert paid.status_code == 200, paid.text
    return {**paid.json(), "access_token": order["access_token"]}


def _entry(folder: Path, payload: str, clock: str | None = None) -> dict[str, Any]:
    scanned = _gate(folder, "scan", "--direction", "entry", "--json", payload, clock=clock)
    outcome: dict[str, Any] = json.loads(scanned.stdout)
    return outcome


def _published_kid(rotated: str) -> int:
    found = re.search(r"signing key (\d+) published", rotated)
    assert found, rotated
    return int(found.group(1))


def test_a_gate_that_synced_before_the_activation_and_went_offline_accepts_a_ticket_of_the_new_key(
    server: ServerProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "gate"
    _enrolled_gate(server, folder)
    new_kid = _published_kid(server.cli("keys", "rotate"))
    synced = _gate(folder, "sync")
    server.stop()
    server.clock = PAST_ACTIVATION  # two days on: the key published ahead now signs
    server.start()

    ticket = _buy_single(server)["tickets"][0]
    entered = _entry(folder, ticket["qr_payload"], clock=PAST_ACTIVATION)  # no sync since the rotation

    assert synced.returncode == 0, synced.stderr
    assert ticket["key_id"] == new_kid
    assert (entered["verdict"], entered["reason"]) == ("accept", None)


def test_after_a_revocation_the_order_shows_a_new_qr_a_synced_gate_accepts_and_the_old_one_is_refused(
    server: ServerProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "gate"
    _enrolled_gate(server, folder)
    order = _buy_single(server)
    old = order["tickets"][0]
    next_kid = _published_kid(server.cli("keys", "rotate"))
    assert _gate(folder, "sync").returncode == 0  # the gate holds the key published ahead

    revoked = server.cli("keys", "revoke", str(old["key_id"]))
    shown = httpx.get(
        f"{server.url}/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {order['access_token']}"}
    ).json()["tickets"][0]
    synced = _gate(folder, "sync")
    refused = _entry(folder, old["qr_payload"])
    admitted = _entry(folder, shown["qr_payload"])

    assert f"key {old['key_id']} revoked; 1 tickets reissued under key {next_kid}" in revoked
    assert (shown["serial"], shown["key_id"]) == (old["serial"], next_kid)
    assert synced.returncode == 0, synced.stderr
    assert (refused["verdict"], refused["reason"]) == ("deny", "key_revoked")
    assert (admitted["verdict"], admitted["reason"]) == ("accept", None)
