"""Fixtures for the gate on a real SQLite file with real Ed25519 keys: an issuer and a provisioned gate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from validator.bundle import load_bundle
from validator.gate import Gate
from validator.station import open_gate, provision_from_bundle
from validator.testing import TEST_NOW as NOW
from validator.testing import TestIssuer


@pytest.fixture
def issuer() -> TestIssuer:
    return TestIssuer()


@pytest.fixture
def provision(tmp_path: Path, issuer: TestIssuer) -> Iterator[object]:
    """provision(station, gate, data_dir=None, db=None) -> Gate, from a bundle of what `issuer` issued."""
    opened: list[Gate] = []

    def make(
        station: str = "L1-01", gate: str = "G1", data_dir: Path | None = None, db: Path | None = None
    ) -> Gate:
        folder = data_dir or tmp_path / f"{station}-{gate}"
        bundle = load_bundle(issuer.bundle(station, server_time=NOW))
        provision_from_bundle(folder, db, bundle, station=station, gate_id=gate, now=NOW)
        opened.append(open_gate(folder, db))
        return opened[-1]

    yield make
    for g in opened:
        g.conn.close()
