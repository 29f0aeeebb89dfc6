"""Free riders through real processes: staff add one with `python -m ticketing free-riders add`, a real gate
(`scanner_cli.py` in its own process) enrols and syncs, the rider's card rides free, a card of a person of 60
or more rides free with the compare flag, and under `faketime` days later the entry has expired; the audit
report counts the rides by category."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from support.gate_cli import gate, require_faketime
from support.server import ROOT, ServerProcess, running

from fare_rules.policy import DEFAULT_POLICY, service_date
from validator.testing import CCCD_NUMBER, cccd_qr

pytestmark = pytest.mark.e2e

CARD = cccd_qr()  # born 2003: rides free only by the registry
SENIOR_CARD = cccd_qr("079055001234", birth="02021955", sex="Nam", name="Lê Văn Cao")
LATER = "+3d"  # faketime: the gate's clock three days on, past the entry's last day


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    require_faketime()
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


def _scan(folder: Path, payload: str, direction: str = "entry", clock: str | None = None) -> dict[str, Any]:
    done = gate(folder, "scan", "--direction", direction, "--json", payload, clock=clock)
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


def _staff(server: ServerProcess, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """`python -m ticketing free-riders ...` on the server's data folder, the number on standard input."""
    command = [sys.executable, "-m", "ticketing", "--data-dir", str(server.data_dir), "free-riders", *args]
    return subprocess.run(
        command,
        cwd=ROOT,
        env=server.env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_free_rider_added_by_staff_rides_free_at_a_synced_gate_until_the_entry_expires(
    server: ServerProcess, tmp_path: Path
) -> None:
    today = service_date(datetime.now(UTC), DEFAULT_POLICY)  # the service day's date in Ho Chi Minh City
    added = _staff(
        server,
        "add",
        "--category",
        "disability",
        "--name",
        "Nguyễn Thị Mẫu",
        "--birth-date",
        "2003-06-15",
        "--last-day",
        (today + timedelta(days=1)).isoformat(),
        "--document",
        "GXN-2024-0042",
        "--staff-id",
        "S042",
        stdin=CCCD_NUMBER + "\n",
    )
    listed = _staff(server, "list")
    code = server.cli("gates", "add", "--station", "L1-01", "--gate", "L1-01-G1").strip().splitlines()[-1]
    folder = tmp_path / "gate"
    enrolled = gate(folder, "enroll", "--server", server.url, "--code", code)

    ride = _scan(folder, CARD)
    out = _scan(folder, CARD, "exit")
    senior = _scan(folder, SENIOR_CARD)
    expired = _scan(folder, CARD, clock=LATER)
    uploaded = gate(folder, "sync")
    until = (today + timedelta(days=5)).isoformat()
    report = server.cli("audit", "report", "free_rides", "--from", today.isoformat(), "--to", until)

    assert added.returncode == 0, added.stderr
    assert CCCD_NUMBER not in added.stdout + added.stderr + listed.stdout
    assert "0793******34" in listed.stdout
    assert "disability" in listed.stdout
    assert enrolled.returncode == 0, enrolled.stderr
    assert (ride["verdict"], ride["free_category"]) == ("accept", "disability"), ride
    assert ride["message"]["en"] == "Free ride — person with a disability"
    assert out["verdict"] == "accept"
    assert (senior["verdict"], senior["free_category"]) == ("accept", "senior")
    assert "compare_card" in senior["flags"]
    assert senior["recognised"]["pass"]["birth_year"] == 1955
    assert (expired["verdict"], expired["reason"]) == ("deny", "free_rider_expired")
    assert uploaded.returncode == 0, uploaded.stderr
    assert "disability" in report
    assert "senior" in report
