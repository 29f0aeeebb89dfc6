"""The sync client against an in-process fake of the service's gate endpoints (httpx.MockTransport)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fare_rules.model import Direction, Flag
from fare_rules.reasons import Reason
from validator.device import load_or_create_device_key, public_key_text
from validator.gate import Gate
from validator.records import GateConfig
from validator.station import open_gate, provision
from validator.store import open_store, transaction
from validator.sync import SyncClient, SyncError, enroll
from validator.testing import TEST_NOW as NOW
from validator.testing import FakeServer, TestIssuer, cccd_qr


def _enrolled(
    tmp_path: Path, server: FakeServer, gate: str = "G1", station: str = "L1-01"
) -> tuple[Gate, str]:
    folder = tmp_path / gate
    key = load_or_create_device_key(folder)
    server.add_code(f"code-{gate}", gate, station)
    enrolment = enroll(server.client(), f"code-{gate}", public_key_text(key))
    conn = open_store(folder / "gate.db")
    config = GateConfig(
        gate, station, public_key_text(key), str(folder / "device-key.pem"), "http://server.test"
    )
    with transaction(conn):
        provision(conn, config, network_id="hcmc", keyset={}, cccd_hash_key=enrolment.cccd_hash_key, now=NOW)
    conn.close()
    return open_gate(folder), enrolment.token


def _client(gate: Gate, server: FakeServer, token: str) -> SyncClient:
    key = load_or_create_device_key(Path(gate.config.device_key_path).parent)
    return SyncClient(server.client(token), gate.conn, gate.config.gate_id, key, clock=lambda: NOW)


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(issuer=TestIssuer(), page_size=3, clock=lambda: NOW + timedelta(seconds=2))


def test_a_full_sync_pulls_keys_and_lists_and_the_gate_then_decides_with_them(
    tmp_path: Path, server: FakeServer
) -> None:
    serial, ticket = server.issuer.ticket()
    server.issuer.revoke(serial)
    for n in range(7):
        server.issuer.revoke(90_000 + n)
    server.issuer.add_pass()
    gate, token = _enrolled(tmp_path, server)

    report = _client(gate, server, token).sync()

    assert (report.keys, report.revocations, report.passes) == (1, 8, 1)
    assert report.clock_offset_seconds == pytest.approx(2.0)
    assert gate.scan(ticket, Direction.ENTRY, NOW).reason is Reason.REVOKED
    accepted = gate.scan(cccd_qr(), Direction.ENTRY, NOW)
    assert accepted.accepted
    assert Flag.STALE_LISTS not in accepted.flags
    assert Flag.CLOCK_SUSPECT not in accepted.flags


def test_an_interrupted_sync_resumes_from_the_last_stored_page(tmp_path: Path, server: FakeServer) -> None:
    for n in range(10):
        server.issuer.revoke(80_000 + n)
    gate, token = _enrolled(tmp_path, server)
    server.fail_requests = {len(server.requests) + 4}  # keys, page 1, page 2, then the outage

    with pytest.raises(SyncError) as caught:
        _client(gate, server, token).sync()
    stored = gate.conn.execute("SELECT count(*) FROM revocations").fetchone()[0]
    _client(gate, server, token).sync()

    assert caught.value.code == "unreachable"
    assert stored == 6
    assert "GET /v1/gate/revocations?after=6" in server.requests[-8:]
    assert gate.conn.execute("SELECT count(*) FROM revocations").fetchone()[0] == 10


def test_a_response_with_a_forged_signature_is_refused_and_nothing_is_stored(
    tmp_path: Path, server: FakeServer
) -> None:
    server.issuer.revoke(1)
    gate, token = _enrolled(tmp_path, server)
    _client(gate, server, token).pull_keys()
    server.issuer.key = Ed25519PrivateKey.generate()  # same kid, another key: a forger

    with pytest.raises(SyncError) as caught:
        _client(gate, server, token).pull_list("revocations")

    assert caught.value.code == "bad_signature"
    assert gate.conn.execute("SELECT count(*) FROM revocations").fetchone()[0] == 0


def test_an_unsigned_response_is_refused(tmp_path: Path, server: FakeServer) -> None:
    gate, token = _enrolled(tmp_path, server)
    _client(gate, server, token).pull_keys()
    server.sign = False

    with pytest.raises(SyncError) as caught:
        _client(gate, server, token).pull_list("passes")

    assert caught.value.code == "bad_signature"


def test_a_revoked_gate_token_is_a_sync_failure(tmp_path: Path, server: FakeServer) -> None:
    gate, _ = _enrolled(tmp_path, server)

    with pytest.raises(SyncError) as caught:
        _client(gate, server, "revoked-token").sync()

    assert caught.value.code == "unauthorized"


def test_the_journal_arrives_once_even_when_a_batch_is_sent_twice(tmp_path: Path, server: FakeServer) -> None:
    _, ticket = server.issuer.ticket()
    gate, token = _enrolled(tmp_path, server)
    for raw in (ticket, "junk", ticket):
        gate.scan(raw, Direction.ENTRY, NOW)
    client = _client(gate, server, token)

    first = client.sync().journal
    gate.conn.execute("UPDATE journal SET uploaded = 'no'")  # as if the answer had been lost
    second = client.sync().journal

    assert first["stored"] == 3
    assert second == {"stored": 0, "duplicate": 3, "refused": 0}
    assert sorted(server.journal) == [("G1", 1), ("G1", 2), ("G1", 3)]


def test_a_gate_offline_for_a_week_uploads_everything_exactly_once(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    for minute in range(1200):
        gate.scan(f"junk {minute}", Direction.ENTRY, NOW + timedelta(minutes=minute * 8))

    report = _client(gate, server, token).sync()

    assert report.journal["stored"] == 1200
    assert len(server.journal) == 1200
    assert gate.conn.execute("SELECT count(*) FROM journal WHERE uploaded = 'no'").fetchone()[0] == 0


def test_when_the_server_lost_events_the_gate_resends_from_where_it_asks(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    for n in range(4):
        gate.scan(f"junk {n}", Direction.ENTRY, NOW)
    client = _client(gate, server, token)
    client.sync()
    del server.journal[("G1", 3)], server.journal[("G1", 4)]  # the server restored an old backup
    for n in range(2):
        gate.scan(f"more {n}", Direction.ENTRY, NOW)

    client.sync()

    assert sorted(s for _, s in server.journal) == [1, 2, 3, 4, 5, 6]


def test_the_server_refuses_a_batch_signed_by_another_gate(tmp_path: Path, server: FakeServer) -> None:
    gate, token = _enrolled(tmp_path, server)
    gate.scan("junk", Direction.ENTRY, NOW)
    client = SyncClient(
        server.client(token), gate.conn, "G1", Ed25519PrivateKey.generate(), clock=lambda: NOW
    )

    with pytest.raises(SyncError):
        client.push_journal()
    assert server.journal == {}


def test_an_exit_gate_learns_of_an_entry_at_another_station_through_events(
    tmp_path: Path, server: FakeServer
) -> None:
    _, ticket = server.issuer.ticket(origin=101, destination=105)
    entry_gate, entry_token = _enrolled(tmp_path, server, "G1", "L1-01")
    exit_gate, exit_token = _enrolled(tmp_path, server, "G9", "L1-05")
    _client(entry_gate, server, entry_token).pull_keys()
    assert entry_gate.scan(ticket, Direction.ENTRY, NOW).accepted
    _client(entry_gate, server, entry_token).sync()
    # The service turns stored journal events into the events feed for other gates.
    for (gate_id, seq), event in sorted(server.journal.items()):
        if event.event["verdict"] == "accept":
            server.events.append(
                {
                    "gate": gate_id,
                    "gate_seq": seq,
                    **{k: event.event[k] for k in ("credential", "station", "direction", "at")},
                }
            )

    report = _client(exit_gate, server, exit_token).sync()
    late = exit_gate.scan(ticket, Direction.EXIT, NOW + timedelta(minutes=200))

    assert report.events == 1
    assert late.reason is Reason.TRIP_TIME_EXCEEDED  # known entry: the time limit applies


def test_sync_over_a_dead_network_fails_cleanly(tmp_path: Path, server: FakeServer) -> None:
    gate, _token = _enrolled(tmp_path, server)

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("no route", request=request)

    client = SyncClient(
        httpx.Client(transport=httpx.MockTransport(down), base_url="http://x"),
        gate.conn,
        "G1",
        load_or_create_device_key(tmp_path / "G1"),
    )

    with pytest.raises(SyncError) as caught:
        client.sync()

    assert caught.value.code == "unreachable"
