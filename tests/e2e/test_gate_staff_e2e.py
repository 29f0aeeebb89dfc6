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
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from support.server import ROOT, ServerProcess, running

from validator.vietqr import parse_emv

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


def _gate(folder: Path, *argv: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "scanner_cli.py", "--data-dir", str(folder), *argv]
    return subprocess.run(
        command, check=False, cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=60
    )


def _json(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return body


def _enrol(server: ServerProcess, folder: Path, station: str, gate: str) -> None:
    code = server.cli("gates", "add", "--station", station, "--gate", gate).strip().splitlines()[-1]
    done = _gate(folder, "enroll", "--server", server.url, "--code", code)
    assert done.returncode == 0, done.stderr


def _buy(server: ServerProcess, origin: str, destination: str) -> str:
    item = {"product": "single", "origin": origin, "destination": destination}
    order = httpx.post(f"{server.url}/v1/orders", json={"items": [item]}).json()
    auth = {"Authorization": f"Bearer {order['access_token']}"}
    paid = httpx.post(f"{server.url}/v1/sandbox/orders/{order['id']}/pay", headers=auth)
    assert paid.status_code == 200, paid.text
    return str(paid.json()["tickets"][0]["qr_payload"])


def _range() -> dict[str, str]:
    today = datetime.now(UTC).date()
    return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=2))}


@pytest.fixture
def owed_exit(server: ServerProcess, tmp_path: Path) -> tuple[Path, Path, str, int]:
    """Gates at L1-01 and L1-09; a ticket to L1-05 entered at L1-01, refused at L1-09 with a fare owed."""
    entry, leave = tmp_path / "L1-01-G1", tmp_path / "L1-09-G1"
    _enrol(server, entry, "L1-01", "L1-01-G1")
    _enrol(server, leave, "L1-09", "L1-09-G1")
    ticket = _buy(server, "L1-01", "L1-05")
    assert _gate(entry, "scan", "--direction", "entry", ticket).returncode == 0
    assert _gate(entry, "sync").returncode == 0
    assert _gate(leave, "sync").returncode == 0
    refused = _json(_gate(leave, "scan", "--direction", "exit", "--json", ticket))
    assert (refused["verdict"], refused["reason"]) == ("deny", "fare_exceeded")
    return entry, leave, ticket, int(refused["owed_vnd"])


def test_a_fare_owed_settled_in_cash_lets_the_rider_out_and_the_revenue_report_shows_it(
    server: ServerProcess, owed_exit: tuple[Path, Path, str, int]
) -> None:
    _, leave, ticket, owed = owed_exit
    settle = ("settle", "--method", "cash", "--agent", "A17", "--json")

    over = _gate(leave, *settle, "--collected", str(owed + 1000), "--last")
    settled = _gate(leave, *settle, "--collected", str(owed), "--last")
    again = _gate(leave, *settle, "--collected", str(owed), ticket)
    assert _gate(leave, "sync").returncode == 0
    auditor = server.cli("tokens", "create", "--role", "auditor").strip().splitlines()[-1]
    revenue = httpx.get(
        f"{server.url}/v1/audit/reports/revenue",
        params=_range(),
        headers={"Authorization": f"Bearer {auditor}"},
    ).json()

    assert (over.returncode, _json(over)["reason"]) == (1, "over_collected")
    assert (settled.returncode, _json(settled)["accepted"]) == (0, True)
    assert _json(settled)["exit"]["verdict"] == "accept"
    assert _json(settled)["exit"]["adjustment"] == {
        "amount_vnd": owed, "method": "cash", "agent": "A17", "settlement_seq": _json(settled)["seq"],
    }  # fmt: skip
    assert (again.returncode, _json(again)["reason"]) == (1, "already_settled")
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

    unconfirmed = _gate(leave, *settle, "--qr-out", str(png), stdin="n\n")
    payload = zxingcpp.read_barcodes(Image.open(png))[0].text
    confirmed = _gate(leave, *settle, stdin="y\n")

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

    evacuation = _gate(
        leave, "override", "admit", "--reason", "evacuation", "--agent", "A17", "--direction", "exit"
    )
    by_hand = _gate(
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
    refused = _gate(
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
    status = json.loads(_gate(leave, "status", "--json").stdout)
    assert _gate(leave, "sync").returncode == 0
    assert _gate(entry, "sync").returncode == 0
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
    assert (_json(refused)["reason"], _json(refused)["override"]["reason"]) == (
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
