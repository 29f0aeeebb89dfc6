"""The auditor's questions, answered end to end: the real server (`python -m ticketing serve`), real gates
(scanner_cli, in process) that scan tickets and a CCCD card and upload their journals, and an auditor who
asks by API, by CSV and by the CLI (`python -m ticketing audit ...` as a subprocess)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.server import ROOT, ServerProcess, running

import scanner_cli
from fare_rules.policy import service_day
from ticketing.catalog import load_catalog
from ticketing.cli import EXIT_BROKEN_PIPE
from validator.testing import CCCD_NUMBER, cccd_qr

pytestmark = pytest.mark.e2e
HOLDER = {"cccd": CCCD_NUMBER, "full_name": "Nguyễn Thị Mẫu", "birth_date": "2003-06-15"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    with running(ServerProcess(tmp_path / "server")) as started:
        yield started


@pytest.fixture
def auditor(server: ServerProcess) -> Iterator[httpx.Client]:
    """An HTTP client with an auditor token made by `python -m ticketing tokens create --role auditor`."""
    token = server.cli("tokens", "create", "--role", "auditor").strip().splitlines()[-1]
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client


def _buy(server: ServerProcess, item: dict[str, Any]) -> dict[str, Any]:
    order = httpx.post(f"{server.url}/v1/orders", json={"items": [item]}).json()
    auth = {"Authorization": f"Bearer {order['access_token']}"}
    paid = httpx.post(f"{server.url}/v1/sandbox/orders/{order['id']}/pay", headers=auth)
    assert paid.status_code == 200, paid.text
    return {**paid.json()["tickets"][0], "order_id": order["id"]}


def _gate(capsys: pytest.CaptureFixture[str], folder: Path, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = scanner_cli.main(["--data-dir", str(folder), *argv])
    return code, capsys.readouterr().out


def _scan(capsys: pytest.CaptureFixture[str], folder: Path, direction: str, payload: str) -> dict[str, Any]:
    out = _gate(capsys, folder, "scan", "--direction", direction, "--json", payload)[1]
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def _enrol(
    server: ServerProcess, capsys: pytest.CaptureFixture[str], folder: Path, station: str, gate: str
) -> None:
    code = server.cli("gates", "add", "--station", station, "--gate", gate).strip().splitlines()[-1]
    assert _gate(capsys, folder, "enroll", "--server", server.url, "--code", code)[0] == 0


def _audit_cli(server: ServerProcess, *args: str, cccd: str | None = None) -> str:
    env = {**server.env, **({"METRO_AUDIT_CCCD": cccd} if cccd else {})}
    command = [sys.executable, "-m", "ticketing", "--data-dir", str(server.data_dir), "audit", *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_an_auditor_answers_each_question_by_api_csv_and_cli(
    server: ServerProcess, auditor: httpx.Client, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rider = _buy(server, {"product": "single", "origin": "L1-06", "destination": "L1-01"})
    shared = _buy(server, {"product": "day"})
    # The HCMC service day's date (from 00:00 to 04:00 it is the day before), never the host's local date.
    policy = load_catalog().policy  # the bundled policy, as the server reads it
    start = service_day(datetime.now(UTC), policy).astimezone(policy.local_tz).date().isoformat()
    monthly = _buy(server, {"product": "monthly", "holder": HOLDER, "start_date": start})
    thao_dien, ben_thanh_g2, tan_cang = tmp_path / "e06", tmp_path / "g2", tmp_path / "e05"
    _enrol(server, capsys, thao_dien, "L1-06", "E06")
    _enrol(server, capsys, ben_thanh_g2, "L1-01", "G2")
    _enrol(server, capsys, tan_cang, "L1-05", "E05")
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()

    # A rider from Thảo Điền to Bến Thành (through G2), and a pass holder on her CCCD card, online.
    assert _scan(capsys, thao_dien, "entry", rider["qr_payload"])["verdict"] == "accept"
    assert _scan(capsys, thao_dien, "entry", cccd_qr())["verdict"] == "accept"
    _gate(capsys, thao_dien, "sync")
    _gate(capsys, ben_thanh_g2, "sync")
    assert _scan(capsys, ben_thanh_g2, "exit", rider["qr_payload"])["verdict"] == "accept"
    assert _scan(capsys, ben_thanh_g2, "exit", cccd_qr())["verdict"] == "accept"
    # The network is down: a screenshot of one day ticket gets in at two stations.
    server.stop()
    assert _scan(capsys, thao_dien, "entry", shared["qr_payload"])["verdict"] == "accept"
    assert _scan(capsys, tan_cang, "entry", shared["qr_payload"])["verdict"] == "accept"
    server.start()
    for gate in (thao_dien, ben_thanh_g2, tan_cang):
        assert _gate(capsys, gate, "sync")[0] == 0
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    window = {"from": since, "to": until}

    # Who went through gate G2 at Bến Thành in this hour?
    through_g2 = auditor.get("/v1/audit/scans", params={"gate": "G2", **window}).json()["items"]
    g2_csv = _csv(auditor.get("/v1/audit/scans", params={"gate": "G2", "format": "csv", **window}).text)
    g2_cli = _csv(_audit_cli(server, "scans", "--gate", "G2", "--from", since, "--to", until, "--csv"))
    assert [(s["credential"], s["direction"]) for s in through_g2] == [
        (f"t:{rider['serial']}", "exit"),
        (f"p:{monthly['pass']['id']}", "exit"),
    ]
    assert (
        [r["credential"] for r in g2_csv]
        == [r["credential"] for r in g2_cli]
        == [s["credential"] for s in through_g2]
    )

    # What did this ticket do?
    did = auditor.get("/v1/audit/trips", params={"ticket": rider["serial"]}).json()["items"]
    did_cli = _csv(_audit_cli(server, "trips", "--ticket", rider["serial"], "--csv"))
    assert [(t["status"], t["origin"], t["destination"], t["fare_vnd"]) for t in did] == [
        ("complete", "L1-06", "L1-01", rider["fare_vnd"])
    ]
    assert [(t["origin"], t["destination"]) for t in did_cli] == [("L1-06", "L1-01")]

    # What did the holder of this CCCD ride? (the number travels in a header, and comes back masked)
    rode = auditor.get("/v1/audit/trips", headers={"X-Audit-CCCD": CCCD_NUMBER}).json()["items"]
    rode_cli = _audit_cli(server, "trips", "--csv", cccd=CCCD_NUMBER)
    assert [(t["origin"], t["destination"], t["cccd"]) for t in rode] == [("L1-06", "L1-01", "0793******34")]
    assert "0793******34" in rode_cli
    assert CCCD_NUMBER not in rode_cli

    # How many trips from Thảo Điền to Bến Thành, and what did they earn?
    od = auditor.get("/v1/audit/reports/od", params=window).json()["rows"]
    od_csv = _csv(auditor.get("/v1/audit/reports/od", params={**window, "format": "csv"}).text)
    od_cli = _csv(_audit_cli(server, "report", "od", "--from", since, "--to", until, "--csv"))
    assert od == [
        {"origin": "L1-06", "destination": "L1-01", "trips": 2, "fare_vnd": rider["fare_vnd"]}
        | {"avg_duration_s": od[0]["avg_duration_s"]}
    ]
    assert [(r["origin"], r["trips"], r["fare_vnd"]) for r in od_csv + od_cli] == [
        ("L1-06", "2", str(rider["fare_vnd"]))
    ] * 2

    # Which tickets were used twice while the gates were offline?
    found = auditor.get("/v1/audit/anomalies", params=window).json()["anomalies"]
    found_csv = _csv(auditor.get("/v1/audit/anomalies", params={**window, "format": "csv"}).text)
    found_cli = _audit_cli(server, "anomalies", "--from", since, "--to", until, "--kind", "double_use")
    doubled = found["double_use"]["items"]
    assert [(d["credential"], [e["station"] for e in d["entries"]]) for d in doubled] == [
        (f"t:{shared['serial']}", ["L1-06", "L1-05"])
    ]
    assert [r["credential"] for r in found_csv if r["kind"] == "double_use"] == [f"t:{shared['serial']}"]
    assert f"t:{shared['serial']}" in found_cli
    assert os.environ.get("METRO_AUDIT_CCCD") is None


@pytest.mark.parametrize("command", [["scans", "--csv"], ["scans"]], ids=["csv", "table"])
def test_audit_output_into_a_pipe_whose_reader_has_gone_ends_quietly(
    tmp_path: Path, command: list[str]
) -> None:
    server = ServerProcess(tmp_path / "server")  # initialised, not serving: the CLI reads the database
    read, write = os.pipe()
    os.close(read)  # `... | head` that has already read what it wanted and exited
    argv = [sys.executable, "-m", "ticketing", "--data-dir", str(server.data_dir), "audit", *command]
    try:
        done = subprocess.run(
            argv, cwd=ROOT, env=server.env, stdout=write, stderr=subprocess.PIPE, timeout=60, check=False
        )
    finally:
        os.close(write)
    stderr = done.stderr.decode()

    assert done.returncode == EXIT_BROKEN_PIPE
    assert "Broken pipe" not in stderr
    assert "Traceback" not in stderr


def test_an_auditor_token_revoked_from_the_cli_is_refused_by_the_running_server_at_once(
    server: ServerProcess, auditor: httpx.Client
) -> None:
    before = auditor.get("/v1/audit/scans").status_code
    listed = [line.split() for line in server.cli("tokens", "list").splitlines()]
    token_id = next(words[0] for words in listed if words[1] == "auditor")

    server.cli("tokens", "revoke", token_id)
    after = auditor.get("/v1/audit/scans")

    assert before == 200
    assert (after.status_code, after.json()["code"]) == (401, "unauthorized")
    assert auditor.headers["Authorization"].removeprefix("Bearer ") not in "\n".join(map(" ".join, listed))
