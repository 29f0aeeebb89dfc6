"""The real server process and real gates (scanner_cli in process): enrol, sync, a trip across two stations,
then the network cable pulled (server stopped), offline scans, a restart, and the journal arriving once."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import ServerProcess, running

import scanner_cli

pytestmark = pytest.mark.e2e


def _stored_journal(server: ServerProcess, gate: str) -> list[int]:
    """The seqs of `gate` the server stored, straight from its SQLite database."""
    with sqlite3.connect(server.data_dir / "metro.db") as conn:
        rows = conn.execute("SELECT seq FROM scan_events WHERE gate_id = ? ORDER BY seq", (gate,)).fetchall()
    conn.close()
    return [int(seq) for (seq,) in rows]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


def _buy_single(server: ServerProcess, origin: str, destination: str) -> str:
    item = {"product": "single", "origin": origin, "destination": destination}
    order = httpx.post(f"{server.url}/v1/orders", json={"items": [item]}).json()
    auth = {"Authorization": f"Bearer {order['access_token']}"}
    paid = httpx.post(f"{server.url}/v1/sandbox/orders/{order['id']}/pay", headers=auth)
    assert paid.status_code == 200, paid.text
    return str(paid.json()["tickets"][0]["qr_payload"])


def _gate(capsys: pytest.CaptureFixture[str], folder: Path, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = scanner_cli.main(["--data-dir", str(folder), *argv])
    return code, capsys.readouterr().out


def _scan(capsys: pytest.CaptureFixture[str], folder: Path, direction: str, payload: str) -> tuple[int, Any]:
    code, out = _gate(capsys, folder, "scan", "--direction", direction, "--json", payload)
    return code, json.loads(out.strip().splitlines()[-1])


def test_a_trip_across_two_stations_syncs_and_an_offline_journal_arrives_exactly_once(
    server: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first_trip = _buy_single(server, "L1-01", "L1-05")
    second_trip = _buy_single(server, "L1-01", "L1-05")
    entry_code = server.cli("gates", "add", "--station", "L1-01", "--gate", "E01").strip().splitlines()[-1]
    exit_code = httpx.post(
        f"{server.url}/v1/admin/gates",
        json={"station": "L1-05", "gate_id": "X05"},
        headers={"Authorization": f"Bearer {server.admin_token}"},
    ).json()["code"]
    entry_gate, exit_gate = tmp_path / "entry-gate", tmp_path / "exit-gate"

    # Online: enrol (which syncs), enter at L1-01, sync, the exit gate at L1-05 learns the entry and lets out.
    assert _gate(capsys, entry_gate, "enroll", "--server", server.url, "--code", entry_code)[0] == 0
    assert _gate(capsys, exit_gate, "enroll", "--server", server.url, "--code", exit_code)[0] == 0
    entered = _scan(capsys, entry_gate, "entry", first_trip)
    assert _gate(capsys, entry_gate, "sync")[0] == 0
    exit_sync = _gate(capsys, exit_gate, "sync")
    left = _scan(capsys, exit_gate, "exit", first_trip)
    assert _gate(capsys, exit_gate, "sync")[0] == 0

    assert (entered[0], entered[1]["verdict"]) == (0, "accept")
    assert "events +1" in exit_sync[1]
    assert (left[0], left[1]["verdict"], left[1]["flags"]) == (0, "accept", [])
    assert (_stored_journal(server, "E01"), _stored_journal(server, "X05")) == ([1], [1])

    # The cable is pulled: scans go on, sync fails with its own exit status.
    server.stop()
    offline_entry = _scan(capsys, entry_gate, "entry", second_trip)
    offline_garbage = _scan(capsys, entry_gate, "entry", "not a ticket")
    failed_sync = _gate(capsys, entry_gate, "sync")[0]

    assert (offline_entry[0], offline_entry[1]["verdict"]) == (0, "accept")
    assert (offline_garbage[0], offline_garbage[1]["reason"]) == (1, "not_our_code")
    assert failed_sync == scanner_cli.EXIT_SYNC_FAILED

    # Back online: the journal arrives, and a second sync sends nothing again.
    server.start()
    synced = _gate(capsys, entry_gate, "sync")
    resynced = _gate(capsys, entry_gate, "sync")

    assert synced[0] == 0
    assert "journal stored 2, duplicate 0" in synced[1]
    assert "journal stored 0, duplicate 0" in resynced[1]
    assert _stored_journal(server, "E01") == [1, 2, 3]


def test_sync_says_which_events_the_server_accepted_as_lost(
    server: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = server.cli("gates", "add", "--station", "L1-01", "--gate", "E01").strip().splitlines()[-1]
    gate = tmp_path / "gate"
    assert _gate(capsys, gate, "enroll", "--server", server.url, "--code", code)[0] == 0
    for n in range(5):
        _scan(capsys, gate, "entry", f"not a ticket {n}")
    with sqlite3.connect(gate / "gate.db") as conn:  # events 1 and 2 gone before they were ever uploaded
        conn.execute("DELETE FROM journal WHERE seq IN (1, 2)")
    conn.close()

    capsys.readouterr()
    synced = scanner_cli.main(["--data-dir", str(gate), "sync"])
    shown = capsys.readouterr()

    assert synced == 0
    assert "journal stored 3" in shown.out
    lost = "warning: journal events 1 to 2 not in this gate's store: the server accepted them as lost"
    assert lost in shown.err
    assert _stored_journal(server, "E01") == [3, 4, 5]


def test_a_mistyped_fingerprint_refuses_enrolment_before_the_one_time_code_is_spent(
    server: ServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    added = server.cli("gates", "add", "--station", "L1-01", "--gate", "L1-01-G9").strip().splitlines()
    code = added[-1]
    shown = next(line for line in added if line.startswith("issuer key fingerprint"))
    fingerprint = shown.removeprefix("issuer key fingerprint ").split(" (")[0]
    gate = tmp_path / "gate"
    enroll = [
        "--data-dir",
        str(gate),
        "enroll",
        "--server",
        server.url,
        "--code",
        code,
        "--trust-fingerprint",
    ]

    capsys.readouterr()
    mistyped = scanner_cli.main([*enroll, "61d1 2956 d635 c0ff"])
    refusal = capsys.readouterr().err
    corrected = scanner_cli.main([*enroll, fingerprint])

    assert mistyped == scanner_cli.EXIT_SYNC_FAILED
    assert "untrusted" in refusal
    assert "the enrolment code is unused" in refusal
    assert corrected == 0
    assert fingerprint in server.cli("keys", "list")
