"""The spec's test-vector ticket at real gates: provisioned from a bundle holding the vectors' issuer key, and
scanned by `scanner_cli.py` as its own process, so the station numbers in tests/vectors/ticket_v1.json are the
network's. The vector ticket was valid in 2025: faketime sets each gate process's clock in its validity."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from scanner_cli import EXIT_DENIED, EXIT_OK
from validator.codec import private_key_from_bytes
from validator.testing import TestIssuer

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads(
    (ROOT / "tests" / "vectors" / "ticket_v1.json").read_text(encoding="utf-8")
)
SINGLE = next(vector for vector in VECTORS["valid"] if vector["name"] == "single ticket")
ISSUER_SEED = bytes.fromhex(next(key for key in VECTORS["keys"] if key["name"] == "issuer")["seed_hex"])
# Two hours into the vector's validity: the ticket was valid in 2025 only, and the CLI reads the wall clock.
SCANNED_AT = datetime.fromisoformat(SINGLE["fields"]["valid_from"]) + timedelta(hours=2)

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _faketime() -> None:
    if shutil.which("faketime") is None:
        if os.environ.get("CI"):
            pytest.fail("faketime is missing under CI: `make test` installs it (apt-get install faketime)")
        pytest.skip("faketime is not installed (apt-get install faketime; `make test` does it as root)")


def main(argv: list[str]) -> int:
    """`scanner_cli.py ARGV...` as its own process, its clock at SCANNED_AT; its output goes to ours."""
    start = SCANNED_AT.astimezone(UTC).strftime("@%Y-%m-%d %H:%M:%S")
    command = ["faketime", "-f", start, sys.executable, str(ROOT / "scanner_cli.py"), *argv]
    env = {**os.environ, "TZ": "UTC", "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    sys.stdout.write(done.stdout)
    sys.stderr.write(done.stderr)
    return done.returncode


@pytest.fixture
def issuer() -> TestIssuer:
    """The vectors' (fabricated) issuer key: it signs the gates' bundles, which carry its public key."""
    issuer = TestIssuer(key=private_key_from_bytes(ISSUER_SEED))
    assert issuer.kid == SINGLE["fields"]["key_id"]
    return issuer


def _gate(tmp_path: Path, issuer: TestIssuer, station: str) -> list[str]:
    """Provision a gate of its own at `station` from a bundle; the arguments that select that gate."""
    bundle = tmp_path / f"bundle-{station}.json"
    bundle.write_text(issuer.bundle(station, server_time=SCANNED_AT), encoding="utf-8")
    data_dir = ["--data-dir", str(tmp_path / station)]
    init = ["init", "--station", station, "--gate", f"{station}-G1", "--bundle", str(bundle)]
    assert main([*data_dir, *init]) == EXIT_OK
    return data_dir


def _scan(gate: list[str], direction: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    capsys.readouterr()
    status = main([*gate, "scan", "--direction", direction, "--json", SINGLE["payload"]])
    return status, json.loads(capsys.readouterr().out)


def test_the_vector_single_ticket_enters_at_l1_01_and_exits_at_l1_05(
    tmp_path: Path, issuer: TestIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    origin, destination = _gate(tmp_path, issuer, "L1-01"), _gate(tmp_path, issuer, "L1-05")

    entered, entry = _scan(origin, "entry", capsys)
    left, exit_ = _scan(destination, "exit", capsys)

    assert (entered, entry["verdict"], entry["reason"]) == (EXIT_OK, "accept", None)
    assert (left, exit_["verdict"], exit_["reason"]) == (EXIT_OK, "accept", None)


def test_the_vector_single_ticket_cannot_enter_at_another_station(
    tmp_path: Path, issuer: TestIssuer, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = _scan(_gate(tmp_path, issuer, "L1-05"), "entry", capsys)

    assert (status, out["reason"]) == (EXIT_DENIED, "wrong_station")
