"""A gate whose clock is wrong, through real processes: the real server, and `scanner_cli.py` run under
Debian's faketime with its clock ten minutes slow. The gate keeps the offset it measured, says so on the
screen, in `sync` and in `status`, flags its scans, still uploads its journal, and the audit dates those scans
by the issuer's clock."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.gate_cli import buy_single, gate, require_faketime
from support.server import ServerProcess, running

pytestmark = pytest.mark.e2e

SLOW = "-10m"  # faketime: this process's clock runs ten minutes behind


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    require_faketime()
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


def _audit_scans(server: ServerProcess) -> list[dict[str, Any]]:
    token = server.cli("tokens", "create", "--role", "auditor", "--label", "clock test").strip().split()[-1]
    since = (datetime.now().astimezone() - timedelta(hours=1)).isoformat(timespec="seconds")
    answer = httpx.get(
        f"{server.url}/v1/audit/scans",
        params={"gate": "L1-01-G1", "from": since},
        headers={"Authorization": f"Bearer {token}"},
    )
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_a_gate_ten_minutes_slow_says_so_flags_its_scans_uploads_and_is_corrected_in_the_audit(
    server: ServerProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "gate"
    code = server.cli("gates", "add", "--station", "L1-01", "--gate", "L1-01-G1").strip().splitlines()[-1]
    assert gate(folder, "enroll", "--server", server.url, "--code", code).returncode == 0
    ticket = buy_single(server)["tickets"][0]["qr_payload"]  # bought a moment ago, by the issuer's clock

    slow_sync = gate(folder, "sync", clock=SLOW)
    status = json.loads(gate(folder, "status", "--json", clock=SLOW).stdout)
    scanned = gate(folder, "scan", "--direction", "entry", ticket, clock=SLOW)
    as_json = json.loads(gate(folder, "scan", "--direction", "entry", "--json", ticket, clock=SLOW).stdout)
    uploaded = gate(folder, "sync", clock=SLOW)
    scans = _audit_scans(server)

    assert slow_sync.returncode == 3
    assert "clock_off" in slow_sync.stderr
    assert "10 min behind" in slow_sync.stderr
    assert status["clock_offset_seconds"] == pytest.approx(600, abs=30)
    assert status["clock"] == "Gate clock is 10 min behind — call maintenance"
    assert "clock_suspect" in status["flags"]
    assert scanned.returncode == 1
    assert "Ticket not yet valid" in scanned.stdout
    assert "Gate clock is 10 min behind" in scanned.stdout
    assert (as_json["reason"], as_json["clock_offset_seconds"] > 500) == ("not_yet_valid", True)
    assert uploaded.returncode == 3  # still clock_off: the lists wait for the clock, the journal did not
    assert [s["reason"] for s in scans] == ["not_yet_valid", "not_yet_valid"]
    for scan in scans:
        recorded, corrected = datetime.fromisoformat(scan["at"]), datetime.fromisoformat(scan["corrected_at"])
        assert scan["clock_suspect"] is True
        assert corrected - recorded == pytest.approx(timedelta(minutes=10), abs=timedelta(seconds=30))
        assert abs(corrected - datetime.now().astimezone()) < timedelta(minutes=2)
