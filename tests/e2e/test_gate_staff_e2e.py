"""Settling a fare owed and overriding by hand, end to end: the real server (`python -m ticketing serve`),
the real `scanner_cli.py` as a subprocess at two stations, the journal synced, and an auditor reading the
revenue and overrides reports by API and by `python -m ticketing audit`."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import zxingcpp
from PIL import Image
from support.gate_cli import buy_single, enrol, gate, gate_json
from support.server import ROOT, ServerProcess, running

from validator.vietqr import parse_emv

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


def _buy(server: ServerProcess, origin: str, destination: str) -> str:
    return str(buy_single(server, origin, destination)["tickets"][0]["qr_payload"])


def _range() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}


@pytest.fixture
def owed_exit(server: ServerProcess, tmp_path: Path) -> tuple[Path, Path, str, int]:
    """Gates at L1-01 and L1-09; a ticket to L1-05 entered at L1-01, refused at L1-09 with a fare owed."""
    entry, leave = tmp_path / "L1-01-G1", tmp_path / "L1-09-G1"
    enrol(server, entry, "L1-01", "L1-01-G1")
    enrol(server, leave, "L1-09", "L1-09-G1")
    ticket = _buy(server, "L1-01", "L1-05")
    assert gate(entry, "scan", "--direction", "entry", ticket).returncode == 0
    assert gate(entry, "sync").returncode == 0
    assert gate(leave, "sync").returncode == 0
    refused = gate_json(gate(leave, "scan", "--direction", "exit", "--json", ticket))
    assert (refused["verdict"], refused["reason"]) == ("deny", "fare_exceeded")
    return entry, leave, ticket, int(refused["owed_vnd"])


def test_a_fare_owed_settled_in_cash_lets_the_rider_out_and_the_revenue_report_shows_it(
    server: ServerProcess, owed_exit: tuple[Path, Path, str, int]
) -> None:
    _, leave, ticket, owed = owed_exit
    settle = ("settle", "--method", "cash", "--agent", "A17", "--json")

    over = gate(leave, *settle, "--collected", str(owed + 1000), "--last")
    settled = gate(leave, *settle, "--collected", str(owed), "--last")
    again = gate(leave, *settle, "--collected", str(owed), ticket)
    assert gate(leave, "sync").returncode == 0
    auditor = server.cli("tokens", "create", "--role", "auditor").strip().splitlines()[-1]
    revenue = httpx.get(
        f"{server.url}/v1/audit/reports/revenue",
        params=_range(),
        headers={"Authorization": f"Bearer {auditor}"},
    ).json()

    assert (over.returncode, gate_json(over)["reason"]) == (1, "over_collected")
    assert (settled.returncode, gate_json(settled)["accepted"]) == (0, True)
    assert gate_json(settled)["exit"]["verdict"] == "accept"
    assert gate_json(settled)["exit"]["adjustment"] == {
        "amount_vnd": owed, "method": "cash", "agent": "A17", "settlement_seq": gate_json(settled)["seq"],
    }  # fmt: skip
    assert (again.returncode, gate_json(again)["reason"]) == (1, "already_settled")
    columns = ("station", "gate", "method", "settlements", "collected_vnd")
    assert [tuple(a[c] for c in columns) for a in revenue["adjustments"]] == [
        ("L1-09", "L1-09-G1", "cash", 1, owed)
    ]
    assert revenue["adjustments"][0]["refused_settlements"] == 2
    assert sum(r["owed_vnd"] for r in revenue["rows"]) == owed


def test_a_vietqr_for_exactly_the_fare_owed_is_shown_before_the_settlement_is_recorded(
    owed_exit: tuple[Path, Path, str, int], tmp_path: Path
) -> None:
    _, leave, _, owed = owed_exit
    png = tmp_path / "vietqr.png"
    settle = ("settle", "--last", "--method", "vietqr", "--collected", str(owed), "--agent", "A17")

    unconfirmed = gate(leave, *settle, "--qr-out", str(png), stdin="n\n")
    payload = zxingcpp.read_barcodes(Image.open(png))[0].text
    confirmed = gate(leave, *settle, stdin="y\n")

    assert unconfirmed.returncode == 1
    assert "nothing was recorded" in unconfirmed.stderr
    fields = parse_emv(payload)
    assert (fields["54"], fields["53"]) == (str(owed), "704")  # the amount owed, in dong
    assert "▀" in unconfirmed.stdout or "▄" in unconfirmed.stdout  # the QR drawn in the terminal
    assert confirmed.returncode == 0
    assert "SETTLED" in confirmed.stdout


def test_overrides_are_journaled_counted_by_status_and_reported_to_auditors(
    server: ServerProcess, owed_exit: tuple[Path, Path, str, int]
) -> None:
    entry, leave, _, _ = owed_exit
    other = _buy(server, "L1-01", "L1-05")

    evacuation = gate(
        leave, "override", "admit", "--reason", "evacuation", "--agent", "A17", "--direction", "exit"
    )
    by_hand = gate(
        leave,
        "override",
        "admit",
        "--reason",
        "broken_phone",
        "--agent",
        "A17",
        "--direction",
        "exit",
        "--last",
    )
    refused = gate(
        entry,
        "override",
        "refuse",
        "--reason",
        "staff_judgement",
        "--agent",
        "B02",
        "--direction",
        "entry",
        "--json",
        other,
    )
    status = json.loads(gate(leave, "status", "--json").stdout)
    assert gate(leave, "sync").returncode == 0
    assert gate(entry, "sync").returncode == 0
    command = [
        sys.executable,
        "-m",
        "ticketing",
        "--data-dir",
        str(server.data_dir),
        "audit",
        "report",
        "overrides",
    ]
    range_args = ["--from", _range()["from"], "--to", _range()["to"], "--csv"]
    report = subprocess.run(
        [*command, *range_args], cwd=ROOT, env=server.env, capture_output=True, text=True, check=True
    )

    assert (evacuation.returncode, by_hand.returncode, refused.returncode) == (0, 0, 1)
    assert "THỦ CÔNG / BY HAND: CHO QUA / ADMITTED · NV / agent A17" in evacuation.stdout
    assert "Sơ tán khẩn cấp / Evacuation" in evacuation.stdout
    assert "cổng / the gate said: fare_exceeded" in by_hand.stdout
    assert (gate_json(refused)["reason"], gate_json(refused)["override"]["reason"]) == (
        "staff_refused",
        "staff_judgement",
    )
    assert (status["overrides_admitted"], status["overrides_refused"]) == (2, 0)
    assert report.stdout.splitlines() == [
        "station,gate,agent,action,reason,overrides",
        "L1-01,L1-01-G1,B02,refuse,staff_judgement,1",
        "L1-09,L1-09-G1,A17,admit,broken_phone,1",
        "L1-09,L1-09-G1,A17,admit,evacuation,1",
    ]
