"""The offline provisioning bundle: verified, pinned, and loaded into a (shared) station store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fare_rules.model import Direction
from fare_rules.reasons import Reason
from validator import records
from validator.bundle import BundleError, load_bundle
from validator.codec import KeyEntry
from validator.gate import StationState
from validator.station import ProvisionError, open_gate, provision_from_bundle
from validator.store import transaction
from validator.testing import TEST_NOW as NOW
from validator.testing import TestIssuer
from validator.wire import iso


def test_a_bundle_round_trips_with_its_lists(issuer: TestIssuer) -> None:
    issuer.revoke(5)
    issuer.add_pass()

    bundle = load_bundle(issuer.bundle("L1-03", gate="G2"))

    assert (bundle.station, bundle.gate, bundle.network_id) == ("L1-03", "G2", "hcmc")
    assert [r.serial for r in bundle.revocations] == [5]
    assert bundle.cursors == {"revocations": 1, "passes": 2, "events": 0, "free_riders": 0, "tariffs": 0}
    assert bundle.cccd_hash_key == issuer.cccd_hash_key


def test_an_edited_bundle_fails_its_signature(issuer: TestIssuer) -> None:
    content = json.loads(issuer.bundle())
    content["revocations"] = []
    content["passes"] = [{"seq": 9}]

    with pytest.raises(BundleError) as caught:
        load_bundle(json.dumps(content))

    assert caught.value.code in {"bad_signature", "bad_format"}


def test_removing_a_revocation_from_a_bundle_is_detected(issuer: TestIssuer) -> None:
    issuer.revoke(5)
    content = json.loads(issuer.bundle())
    content["revocations"] = []

    with pytest.raises(BundleError) as caught:
        load_bundle(json.dumps(content))

    assert caught.value.code == "bad_signature"


def test_a_bundle_signed_by_a_key_that_is_not_pinned_is_untrusted(issuer: TestIssuer) -> None:
    pinned = {1: KeyEntry(1, Ed25519PrivateKey.generate().public_key())}

    with pytest.raises(BundleError) as caught:
        load_bundle(issuer.bundle(), trusted=pinned)

    assert caught.value.code == "untrusted"


def test_the_pinned_issuer_key_verifies_the_bundle(issuer: TestIssuer) -> None:
    assert load_bundle(issuer.bundle(), trusted=issuer.keyset()).signer_kid == issuer.kid


@pytest.mark.parametrize("text", ["", "{}", "[1,2]", "not json", '{"signature": {"kid": 1, "value": "x"}}'])
def test_garbage_is_a_bad_format_bundle(text: str) -> None:
    with pytest.raises(BundleError) as caught:
        load_bundle(text)

    assert caught.value.code == "bad_format"


def test_a_bundle_for_another_station_is_refused(tmp_path: Path, issuer: TestIssuer) -> None:
    with pytest.raises(ProvisionError):
        provision_from_bundle(
            tmp_path, None, load_bundle(issuer.bundle("L1-02")), station="L1-01", gate_id="G1", now=NOW
        )


def test_two_gates_of_one_station_share_one_database(tmp_path: Path, issuer: TestIssuer) -> None:
    _, ticket = issuer.ticket()
    db = tmp_path / "station.db"
    for gate in ("G1", "G2"):
        provision_from_bundle(
            tmp_path / gate, db, load_bundle(issuer.bundle()), station="L1-01", gate_id=gate, now=NOW
        )
    g1, g2 = open_gate(tmp_path / "G1", db), open_gate(tmp_path / "G2", db)

    first, second = g1.scan(ticket, Direction.ENTRY, NOW), g2.scan(ticket, Direction.ENTRY, NOW)

    assert (g1.config.gate_id, g2.config.gate_id) == ("G1", "G2")
    assert first.accepted
    assert second.reason is Reason.ALREADY_INSIDE
    assert (first.seq, second.seq) == (1, 1)  # each gate its own journal sequence


def test_an_older_bundle_never_rolls_back_a_newer_pass_status(tmp_path: Path, issuer: TestIssuer) -> None:
    from validator.testing import cccd_qr

    issuer.add_pass(pass_id="P1")
    old = issuer.bundle()
    issuer.add_pass(pass_id="P1", status="revoked")
    db = tmp_path / "station.db"
    provision_from_bundle(
        tmp_path / "G1", db, load_bundle(issuer.bundle()), station="L1-01", gate_id="G1", now=NOW
    )
    provision_from_bundle(tmp_path / "G2", db, load_bundle(old), station="L1-01", gate_id="G2", now=NOW)

    assert open_gate(tmp_path / "G2", db).scan(cccd_qr(), Direction.ENTRY, NOW).reason is Reason.REVOKED


def test_a_bundle_older_than_the_last_sync_keeps_the_newer_lists_synced_time(
    tmp_path: Path, issuer: TestIssuer
) -> None:
    folder = tmp_path / "g"
    provision_from_bundle(folder, None, load_bundle(issuer.bundle()), station="L1-01", gate_id="G1", now=NOW)
    gate = open_gate(folder)
    synced = NOW + timedelta(hours=6)
    with transaction(gate.conn):  # as an online sync would record it
        for name in records.DECIDING_LISTS:
            records.set_state(gate.conn, f"{name}_synced_at", iso(synced))
    older = load_bundle(issuer.bundle(server_time=NOW - timedelta(days=2)))

    provision_from_bundle(folder, None, older, station="L1-01", gate_id="G1", now=NOW)

    assert StationState.read(gate.conn).last_sync == synced
    gate.conn.close()


def test_a_newer_bundle_advances_the_lists_synced_time(tmp_path: Path, issuer: TestIssuer) -> None:
    folder = tmp_path / "g"
    provision_from_bundle(folder, None, load_bundle(issuer.bundle()), station="L1-01", gate_id="G1", now=NOW)
    newer = load_bundle(issuer.bundle(server_time=NOW + timedelta(hours=1)))

    provision_from_bundle(folder, None, newer, station="L1-01", gate_id="G1", now=NOW)

    gate = open_gate(folder)
    assert StationState.read(gate.conn).last_sync == NOW + timedelta(hours=1)
    gate.conn.close()


def test_a_bundle_older_than_a_key_revocation_does_not_trust_that_key_again(
    tmp_path: Path, issuer: TestIssuer
) -> None:
    folder = tmp_path / "g"
    before = load_bundle(issuer.bundle())
    provision_from_bundle(folder, None, before, station="L1-01", gate_id="G1", now=NOW)
    gate = open_gate(folder)
    with transaction(gate.conn):  # a later sync learnt that the key was revoked
        gate.conn.execute("UPDATE keyset SET revoked = 1")

    provision_from_bundle(folder, None, before, station="L1-01", gate_id="G1", now=NOW)

    assert gate.conn.execute("SELECT revoked FROM keyset").fetchall() == [(1,)]
    gate.conn.close()


def test_a_second_device_cannot_take_a_gate_id_already_used_in_the_station_database(
    tmp_path: Path, issuer: TestIssuer
) -> None:
    db = tmp_path / "station.db"
    bundle = load_bundle(issuer.bundle())
    provision_from_bundle(tmp_path / "a", db, bundle, station="L1-01", gate_id="L1-01-G1", now=NOW)

    with pytest.raises(ProvisionError):
        provision_from_bundle(tmp_path / "b", db, bundle, station="L1-01", gate_id="L1-01-G1", now=NOW)
