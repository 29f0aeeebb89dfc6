"""`python -m ticketing gates add|list|revoke|bundle`, and a gate provisioned offline from the bundle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import scanner_cli
from ticketing.cli import EXIT_OK, EXIT_USAGE, main
from validator.bundle import load_bundle


@pytest.fixture
def operator(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder whose settings point at the test database; `init` has run."""
    data_dir = tmp_path / "service"
    monkeypatch.setenv("METRO_DATA_DIR", str(data_dir))
    monkeypatch.setenv("METRO_DATABASE_URL", database_url)
    assert main(["--data-dir", str(data_dir), "init"]) == EXIT_OK
    return data_dir


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str]]:
    capsys.readouterr()
    code = main(list(argv))
    return code, capsys.readouterr().out.strip().splitlines()


def test_gates_add_prints_a_one_time_code_and_list_shows_the_gate_pending(
    operator: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    added, out = _run(capsys, "gates", "add", "--station", "L1-01", "--gate", "G1")
    listed, rows = _run(capsys, "gates", "list")

    assert added == EXIT_OK
    assert len(out[-1].replace("-", "")) == 16
    assert listed == EXIT_OK
    assert rows[0].split()[:3] == ["G1", "L1-01", "pending"]


def test_gates_revoke_marks_the_gate_revoked(operator: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _run(capsys, "gates", "add", "--station", "L1-01", "--gate", "G1")

    revoked, _ = _run(capsys, "gates", "revoke", "G1")
    _, rows = _run(capsys, "gates", "list")
    missing, _ = _run(capsys, "gates", "revoke", "G404")

    assert revoked == EXIT_OK
    assert rows[0].split()[2] == "revoked"
    assert missing == 1


def test_gates_add_refuses_a_bad_gate_id(operator: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "gates", "add", "--station", "L1-01", "--gate", "G 1/2")[0] == EXIT_USAGE


def test_an_exported_bundle_verifies_and_provisions_a_gate_offline(
    operator: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle.json"

    exported, lines = _run(capsys, "gates", "bundle", "--station", "L1-03", "--gate", "G3", "--out", str(out))
    bundle = load_bundle(out.read_text(encoding="utf-8"))
    provisioned = scanner_cli.main(
        [
            "--data-dir",
            str(tmp_path / "gate"),
            "init",
            "--station",
            "L1-03",
            "--gate",
            "G3",
            "--bundle",
            str(out),
        ]
    )
    capsys.readouterr()
    status = scanner_cli.main(["--data-dir", str(tmp_path / "gate"), "status", "--json"])

    assert exported == EXIT_OK
    assert "fingerprint" in lines[-1]
    assert (bundle.station, bundle.gate, bundle.network_id) == ("L1-03", "G3", "hcmc")
    assert provisioned == scanner_cli.EXIT_OK
    assert status == scanner_cli.EXIT_OK
    assert json.loads(capsys.readouterr().out)["keys"] == 1


def test_a_bundle_for_a_station_not_on_the_line_is_refused(
    operator: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _run(capsys, "gates", "bundle", "--station", "X9", "--out", str(tmp_path / "b.json"))

    assert code == 1
    assert not (tmp_path / "b.json").exists()
