"""List ages through real processes, on both engines: `scanner_cli.py sync` against the real server, then the
gate's own `status` and the auditors' `python -m ticketing audit gates`, both run under faketime seven hours
later. The server dates the gate's lists as the gate does, and both call them stale past the policy's six
hours."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from support.gate_cli import enrol, gate, require_faketime
from support.server import ROOT, ServerProcess, running

from validator.records import DECIDING_LISTS

pytestmark = pytest.mark.e2e

LATER = "+7h"  # faketime: past the bundled policy's 6 hours of list age
SEVEN_HOURS = 7 * 3600
SLACK = 60  # seconds between the sync and the commands that read it, on a slow machine


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[ServerProcess]:
    require_faketime()
    with running(ServerProcess(tmp_path / "server", database_url)) as started:
        yield started


def _audit_gates(server: ServerProcess, clock: str | None = None) -> dict[str, Any]:
    """`python -m ticketing audit gates --csv` (under `faketime -f CLOCK` when set): the one gate's row."""
    command = [sys.executable, "-m", "ticketing", "--data-dir", str(server.data_dir), "audit", "gates"]
    command.append("--csv")
    env = server.env
    if clock is not None:
        command = ["faketime", "-f", clock, *command]
        env = {**env, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    (row,) = csv.DictReader(io.StringIO(done.stdout))
    return dict(row)


def test_the_server_dates_a_gates_lists_as_the_gate_does_and_calls_them_stale_past_the_policy(
    server: ServerProcess, tmp_path: Path
) -> None:
    folder = tmp_path / "gate"
    enrol(server, folder)
    assert gate(folder, "sync").returncode == 0

    now = _audit_gates(server)
    later = _audit_gates(server, LATER)
    status = json.loads(gate(folder, "status", "--json", clock=LATER).stdout)

    assert 0 <= int(now["lists_age_s"]) < SLACK
    assert "stale_lists" not in now["needs_visit"].split("|")
    assert SEVEN_HOURS <= int(later["lists_age_s"]) < SEVEN_HOURS + SLACK
    assert "stale_lists" in later["needs_visit"].split("|")
    for name in DECIDING_LISTS:
        server_age = int(later[f"{name}_age_s"])
        assert abs(server_age - status["list_age_seconds"][name]) < SLACK, name
        assert later[f"{name}_fetched_at"] == now[f"{name}_fetched_at"] != ""
    assert "stale_lists" in status["flags"]  # the gate's own judgement, by the same rule
