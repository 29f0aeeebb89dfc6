"""`python -m ticketing audit ...`: the same answers as the API, as a table or CSV, on both engines."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from support.audit import at, auditor_token, get, journal, pass_use, ticket_use
from support.issuing import HOLDER, Api, monthly, single

from fare_rules.cccd import holder_hash
from ticketing.audit.query import (
    ANOMALY_FILTERS,
    REPORT_FILTERS,
    REPORT_KINDS,
    SCAN_FILTERS,
    TRIP_FILTERS,
)
from ticketing.cli import EXIT_OK, EXIT_USAGE, main

CCCD_KEY = b"test-cccd-key-0123456789"
# Each CLI command, the endpoint it answers for (under /v1/audit/) and the query parameters that accepts.
ENDPOINTS: dict[tuple[str, ...], tuple[str, frozenset[str]]] = {
    ("scans",): ("scans", SCAN_FILTERS),
    ("trips",): ("trips", TRIP_FILTERS),
    **{("report", kind): (f"reports/{kind}", REPORT_FILTERS[kind]) for kind in REPORT_KINDS},
    ("anomalies",): ("anomalies", ANOMALY_FILTERS),
}
# A value each filter accepts (the cursor is fetched: it must be a real one of the listing).
SAMPLES = {
    "station": "L1-01",
    "origin": "L1-01",
    "destination": "L1-05",
    "gate": "G2",
    "ticket": "1",
    "order": "0" * 32,
    "product": "single",
    "verdict": "deny",
    "reason": "not_our_code",
    "status": "complete",
    "bucket": "day",
    "kind": "double_use",
    "limit": "1",
}
SAMPLES_IN = {("scans", "kind"): "override"}  # a filter whose choices depend on the endpoint
DAY = {"from": "2025-03-03", "to": "2025-03-04"}


@pytest.fixture
def cli_env(api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Api:
    """The CLI pointed at the API's database, with its CCCD hash key; a morning of scans uploaded."""
    monkeypatch.setenv("METRO_DATA_DIR", str(tmp_path / "cli"))
    monkeypatch.setenv("METRO_DATABASE_URL", api.database_url)
    monkeypatch.setenv("METRO_CCCD_HASH_KEY", CCCD_KEY.decode())
    ticket = api.paid_order(single("L1-01", "L1-05"))["tickets"][0]
    card = pass_use(api.paid_order(monthly())["tickets"][0], holder_hash(HOLDER["cccd"], CCCD_KEY).hex())
    g2, x5 = journal(api, tmp_path, "L1-01", "G2"), journal(api, tmp_path, "L1-05", "X5")
    g2.add("entry", at(-100), **ticket_use(ticket))
    g2.add("entry", at(-99), input="other", verdict="deny", reason="not_our_code")
    g2.add("entry", at(-50), **card)
    x5.add("exit", at(-80), **ticket_use(ticket))
    g2.upload()
    x5.upload()
    return api


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main(["audit", *argv])
    return code, capsys.readouterr().out


def test_scans_through_a_gate_in_an_hour_as_a_table(cli_env: Api, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _run(
        capsys, "scans", "--gate", "G2", "--from", "2025-03-03T07:00", "--to", "2025-03-03T08:00"
    )
    lines = out.strip().splitlines()

    assert code == EXIT_OK
    assert lines[0].split()[:4] == ["at", "station", "gate", "seq"]
    assert [line.split()[5] for line in lines[1:]] == ["accept", "deny"]


def test_a_cccd_holders_scans_as_csv_show_the_number_masked(
    cli_env: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("METRO_AUDIT_CCCD", HOLDER["cccd"])

    code, out = _run(capsys, "scans", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))

    assert code == EXIT_OK
    assert [(r["station"], r["cccd"]) for r in rows] == [("L1-01", "0793******34")]
    assert HOLDER["cccd"] not in out


def test_the_cccd_is_not_taken_from_the_command_line(cli_env: Api) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["audit", "scans", "--cccd", "NUMBER"])

    assert exited.value.code == EXIT_USAGE


def test_ask_cccd_reads_the_number_at_a_hidden_prompt(
    cli_env: Api, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("getpass.getpass", lambda _prompt: HOLDER["cccd"])

    code, out = _run(capsys, "scans", "--csv", "--ask-cccd")

    assert code == EXIT_OK
    assert [r["cccd"] for r in csv.DictReader(io.StringIO(out))] == ["0793******34"]


def test_trips_od_report_and_anomalies_from_the_command_line(
    cli_env: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    day = ["--from", "2025-03-03", "--to", "2025-03-04"]

    trips = _run(capsys, "trips", "--origin", "L1-01", "--destination", "L1-05", "--csv")
    od = _run(capsys, "report", "od", *day, "--csv")
    anomalies = _run(capsys, "anomalies", *day)

    assert [r["status"] for r in csv.DictReader(io.StringIO(trips[1]))] == ["complete"]
    assert [(r["origin"], r["destination"], r["trips"]) for r in csv.DictReader(io.StringIO(od[1]))] == [
        ("L1-01", "L1-05", "1")
    ]
    assert anomalies[0] == EXIT_OK
    assert "double_use: 0" in anomalies[1]


def test_bad_input_exits_with_an_error_code(cli_env: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    code = main(["audit", "scans", "--from", "2025-03-04", "--to", "2025-03-03"])

    assert code == 1
    assert "bad_range" in capsys.readouterr().err


def test_partitions_ahead_is_a_no_op_on_sqlite_and_creates_months_on_postgresql(
    cli_env: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, "partitions", "--ahead", "3")

    assert code == EXIT_OK
    if cli_env.database_url.startswith("sqlite"):
        assert "not partitioned" in out
    else:
        assert out.startswith("partitions created:")


def _help_options(capsys: pytest.CaptureFixture[str], command: tuple[str, ...]) -> dict[str, str]:
    """Each option `audit COMMAND --help` lists, with its help text ("" when it has none)."""
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["audit", *command, "--help"])
    options: dict[str, str] = {}
    for entry in re.split(r"\n  (?=-)", capsys.readouterr().out.split("options:", 1)[1])[1:]:
        first, _, rest = entry.partition("\n")
        invocation, _, text = first.partition("  ")
        name = [word.rstrip(",") for word in invocation.split() if word.startswith("--")][-1]
        options[name] = " ".join((text + " " + rest).split())
    return options


@pytest.mark.parametrize("command", list(ENDPOINTS), ids=" ".join)
def test_each_audit_command_offers_exactly_the_filters_of_its_endpoint_each_with_help(
    capsys: pytest.CaptureFixture[str], command: tuple[str, ...]
) -> None:
    accepted = ENDPOINTS[command][1]
    expected = {f"--{name}" for name in accepted - {"format", "cccd"}} | {"--help", "--csv"}
    expected |= {"--ask-cccd"} if "cccd" in accepted else set()

    options = _help_options(capsys, command)

    assert set(options) == expected
    assert [name for name, text in options.items() if not text] == []


def test_every_option_an_audit_command_offers_is_accepted_by_the_server_and_the_cli(
    cli_env: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    token = auditor_token(cli_env)
    answers: dict[str, tuple[int, int]] = {}
    for command, (path, _accepted) in ENDPOINTS.items():
        values = {**SAMPLES, **DAY, "cursor": get(cli_env, path, token, **DAY, limit=1).json().get("next")}
        for option in set(_help_options(capsys, command)) - {"--help", "--ask-cccd"}:  # CCCD: above
            name = option.removeprefix("--")
            value = SAMPLES_IN.get((path, name), values.get(name))
            given = {"format": "csv"} if name == "csv" else {name: value}
            params = {**DAY, **given}
            argv = ["--csv" if k == "format" else f"--{k}={v}" for k, v in params.items()]
            http = get(cli_env, path, token, **params).status_code
            answers[f"{' '.join(command)} {option}"] = (http, _run(capsys, *command, *argv)[0])

    assert answers == dict.fromkeys(answers, (200, EXIT_OK))
    assert len(answers) >= 30
