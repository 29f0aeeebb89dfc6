"""A tariff change announced for tomorrow, through real processes: `python -m ticketing tariff publish` on
the real server, a real `scanner_cli.py` gate that syncs and is then cut off, scans today and (under faketime)
a day later; the gate's fare owed is the server's quote for the same instant, before and after the change."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.gate_cli import buy_single, gate, require_faketime
from support.server import ROOT, ServerProcess, running

pytestmark = pytest.mark.e2e

LATER = "+1d"  # faketime: a day from now, after the start of tomorrow's service day
HCMC = timezone(timedelta(hours=7))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    require_faketime()
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


def _dearer_tariff(path: Path) -> Path:
    """The packaged tariff with the cashless fare between L1-01 and L1-09 500 dong dearer."""
    document: dict[str, Any] = json.loads((ROOT / "fare_rules/data/hcmc-line1-tariff.json").read_text())
    document["version"] = "e2e-dearer"
    document["single"]["cashless"]["L1-01"]["L1-09"] += 500
    document["single"]["cashless"]["L1-09"]["L1-01"] += 500
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def _buy_single(server: ServerProcess) -> tuple[str, int]:
    paid = buy_single(server)
    return str(paid["tickets"][0]["qr_payload"]), int(paid["amount_vnd"])


def _quote(server: ServerProcess) -> int:
    params = {"origin": "L1-01", "destination": "L1-09"}
    return int(httpx.get(f"{server.url}/v1/fares/quote", params=params).json()["amount_vnd"])


def _owed_at_exit(folder: Path, payload: str, clock: str | None = None) -> Any:
    done = gate(folder, "scan", "--direction", "exit", "--json", payload, clock=clock)
    scanned = json.loads(done.stdout.strip().splitlines()[-1])
    assert (done.returncode, scanned["reason"]) == (1, "fare_exceeded"), done.stdout + done.stderr
    return scanned["owed_vnd"]


def test_a_tariff_announced_ahead_lands_at_its_time_on_a_gate_cut_off_and_agrees_with_the_server(
    server: ServerProcess, tmp_path: Path
) -> None:
    # Tomorrow's service day (04:00 local): at most a day ahead, so faketime +1d is past it.
    service_day = (datetime.now(UTC).astimezone(HCMC) - timedelta(hours=4)).date()
    tomorrow = (service_day + timedelta(days=1)).isoformat()
    tariff_file = str(_dearer_tariff(tmp_path / "t.json"))
    published = server.cli("tariff", "publish", tariff_file, "--effective-from", tomorrow)
    (today_ticket, paid), (later_ticket, _) = _buy_single(server), _buy_single(server)
    folder = tmp_path / "gate"
    code = server.cli("gates", "add", "--station", "L1-09", "--gate", "L1-09-G1").strip().splitlines()[-1]
    assert gate(folder, "enroll", "--server", server.url, "--code", code).returncode == 0
    assert gate(folder, "sync").returncode == 0
    quoted_today = _quote(server)
    held = json.loads(gate(folder, "status", "--json").stdout)["tariff"]

    server.stop()  # the network is down from here on
    owed_today = _owed_at_exit(folder, today_ticket)
    owed_later = _owed_at_exit(folder, later_ticket, clock=LATER)
    later_status = json.loads(gate(folder, "status", "--json", clock=LATER).stdout)["tariff"]
    shown = gate(folder, "status").stdout
    server.clock = LATER
    server.start()
    quoted_later = _quote(server)

    assert "e2e-dearer" in published
    assert (held["in_force"], held["next"]["version"]) == ("2025-01-21", "e2e-dearer")
    assert owed_today == quoted_today - paid
    assert owed_later == quoted_later - paid == owed_today + 500
    assert (later_status["in_force"], later_status["next"]) == ("e2e-dearer", None)
    assert "next e2e-dearer from" in shown


def test_an_unknown_metro_variable_stops_the_service_naming_it(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METRO_")}
    command = [sys.executable, "-m", "ticketing", "--data-dir", str(tmp_path), "init"]

    done = subprocess.run(
        command,
        cwd=ROOT,
        env={**env, "METRO_FOO": "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 1
    assert "METRO_FOO" in done.stderr
    assert "METRO_TARIFF_FILE" in done.stderr
    assert "Traceback" not in done.stderr
