"""The real server process and real gates (scanner_cli in process): enrol, sync, a trip across two stations,
then the network cable pulled (server stopped), offline scans, a restart, and the journal arriving once."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import scanner_cli

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """`python -m ticketing serve` on a fixed port and data folder, stoppable and restartable."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("METRO_")}
        self.process: subprocess.Popen[bytes] | None = None
        init = self.cli("init")
        self.admin_token = next(
            line.rsplit(" ", 1)[1] for line in init.splitlines() if line.startswith("admin token")
        )

    def cli(self, *args: str) -> str:
        command = [sys.executable, "-m", "ticketing", "--data-dir", str(self.data_dir), *args]
        done = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, check=True)
        return done.stdout

    def start(self) -> None:
        command = [sys.executable, "-m", "ticketing", "serve", "--port", str(self.port)]
        with (self.data_dir / "server.log").open("ab") as log:  # the child keeps its own copy of the handle
            self.process = subprocess.Popen(
                [*command, "--data-dir", str(self.data_dir)], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{self.url}/v1/network", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{(self.data_dir / 'server.log').read_text()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def journal(self, gate: str) -> list[int]:
        """The seqs of `gate` the server stored, straight from its SQLite database."""
        with sqlite3.connect(self.data_dir / "metro.db") as conn:
            rows = conn.execute(
                "SELECT seq FROM scan_events WHERE gate_id = ? ORDER BY seq", (gate,)
            ).fetchall()
        return [int(seq) for (seq,) in rows]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    running = Server(tmp_path / "server")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def _buy_single(server: Server, origin: str, destination: str) -> str:
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
    server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
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
    assert (server.journal("E01"), server.journal("X05")) == ([1], [1])

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
    assert server.journal("E01") == [1, 2, 3]
