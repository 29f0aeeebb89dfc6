"""Key rotation and revocation through real processes: `python -m ticketing serve` and its CLI, and
`scanner_cli.py`, the clocks moved past a key's activation with Debian's faketime. A gate that synced while
the next key waited, then went offline, accepts a ticket that key signed; after a revocation the order shows
a new QR, which a synced gate accepts, while the old QR is refused as key_revoked."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.gate_cli import buy_single, enrol, gate, require_faketime
from support.server import ServerProcess, running

pytestmark = pytest.mark.e2e

PAST_ACTIVATION = "+49h"  # the shipped policy publishes a key 48 hours before it signs


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    require_faketime()
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


def _entry(folder: Path, payload: str, clock: str | None = None) -> dict[str, Any]:
    scanned = gate(folder, "scan", "--direction", "entry", "--json", payload, clock=clock)
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
    enrol(server, folder)
    new_kid = _published_kid(server.cli("keys", "rotate"))
    synced = gate(folder, "sync")
    server.stop()
    server.clock = PAST_ACTIVATION  # two days on: the key published ahead now signs
    server.start()

    ticket = buy_single(server)["tickets"][0]
    entered = _entry(folder, ticket["qr_payload"], clock=PAST_ACTIVATION)  # no sync since the rotation

    assert synced.returncode == 0, synced.stderr
    assert ticket["key_id"] == new_kid
    assert (entered["verdict"], entered["reason"]) == ("accept", None)


def test_after_a_revocation_the_order_shows_a_new_qr_a_synced_gate_accepts_and_the_old_one_is_refused(
    server: ServerProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "gate"
    enrol(server, folder)
    order = buy_single(server)
    old = order["tickets"][0]
    next_kid = _published_kid(server.cli("keys", "rotate"))
    assert gate(folder, "sync").returncode == 0  # the gate holds the key published ahead

    revoked = server.cli("keys", "revoke", str(old["key_id"]))
    shown = httpx.get(
        f"{server.url}/v1/orders/{order['id']}", headers={"Authorization": f"Bearer {order['access_token']}"}
    ).json()["tickets"][0]
    synced = gate(folder, "sync")
    refused = _entry(folder, old["qr_payload"])
    admitted = _entry(folder, shown["qr_payload"])

    assert f"key {old['key_id']} revoked; 1 tickets reissued under key {next_kid}" in revoked
    assert (shown["serial"], shown["key_id"]) == (old["serial"], next_kid)
    assert synced.returncode == 0, synced.stderr
    assert (refused["verdict"], refused["reason"]) == ("deny", "key_revoked")
    assert (admitted["verdict"], admitted["reason"]) == ("accept", None)
