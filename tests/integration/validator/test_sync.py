"""The sync client against an in-process fake of the service's gate endpoints (httpx.MockTransport)."""

from __future__ import annotations

import dataclasses
import threading
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fare_rules.model import Direction, Flag
from fare_rules.reasons import Reason
from validator import records
from validator.bundle import key_fingerprint
from validator.device import load_or_create_device_key, public_key_text
from validator.gate import Gate
from validator.operations import BackgroundSync
from validator.records import GateConfig
from validator.station import GateNotProvisioned, open_gate, provision
from validator.store import open_store, transaction
from validator.sync import SyncClient, SyncError, enroll, journal_stopped, last_sync_error
from validator.testing import TEST_NOW as NOW
from validator.testing import FakeServer, TestIssuer, cccd_qr
from validator.wire import iso


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
    assert gate.scan(ticket, Direction.ENTRY, NOW).reason is Reason.REFUNDED
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

    with pytest.raises(SyncError) as caught:
        client.push_journal()

    assert (caught.value.code, caught.value.server_code) == ("journal_refused", "bad_signature")
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


def _break_the_servers_chain(server: FakeServer, gate: str, seq: int) -> None:
    stored = server.journal[(gate, seq)]
    server.journal[(gate, seq)] = dataclasses.replace(stored, hash="ab" * 32)


def test_a_batch_refused_for_a_broken_chain_carries_the_servers_code_and_is_recorded(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    gate.scan("junk 1", Direction.ENTRY, NOW)
    _client(gate, server, token).sync()
    _break_the_servers_chain(server, "G1", 1)
    gate.scan("junk 2", Direction.ENTRY, NOW)

    with pytest.raises(SyncError) as caught:
        _client(gate, server, token).sync()

    assert (caught.value.code, caught.value.server_code) == ("journal_refused", "broken_chain")
    recorded = last_sync_error(gate.conn, "G1")
    assert recorded is not None
    assert (recorded["code"], recorded["server_code"]) == ("journal_refused", "broken_chain")
    stopped = journal_stopped(gate.conn, "G1")
    assert stopped is not None
    assert (stopped["code"], stopped["seq"]) == ("broken_chain", 2)


def test_after_a_final_refusal_the_gate_still_pulls_lists_but_stops_resending_the_journal(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    gate.scan("junk 1", Direction.ENTRY, NOW)
    _client(gate, server, token).sync()
    _break_the_servers_chain(server, "G1", 1)
    gate.scan("junk 2", Direction.ENTRY, NOW)
    with pytest.raises(SyncError):
        _client(gate, server, token).sync()
    server.issuer.revoke(4242)
    already = len(server.requests)

    with pytest.raises(SyncError) as caught:
        _client(gate, server, token).sync()

    assert (caught.value.code, caught.value.server_code) == ("journal_stopped", "broken_chain")
    assert not [r for r in server.requests[already:] if r.startswith("POST /v1/gate/journal")]
    assert gate.conn.execute("SELECT count(*) FROM revocations").fetchone()[0] == 1


def test_retrying_the_journal_after_the_cause_is_fixed_uploads_it_and_clears_the_error(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    gate.scan("junk 1", Direction.ENTRY, NOW)
    _client(gate, server, token).sync()
    original = server.journal[("G1", 1)]
    _break_the_servers_chain(server, "G1", 1)
    gate.scan("junk 2", Direction.ENTRY, NOW)
    with pytest.raises(SyncError):
        _client(gate, server, token).sync()
    server.journal[("G1", 1)] = original  # e.g. the operator restored the server's copy

    report = _client(gate, server, token).sync(retry_journal=True)

    assert report.journal["stored"] == 1
    assert sorted(server.journal) == [("G1", 1), ("G1", 2)]
    assert last_sync_error(gate.conn, "G1") is None
    assert journal_stopped(gate.conn, "G1") is None


def test_a_server_error_answer_keeps_its_code_and_is_retried_next_time(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    gate.scan("junk", Direction.ENTRY, NOW)
    handle = server.handle

    def busy(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/gate/journal":
            return httpx.Response(503, json={"code": "unavailable", "detail": "try later"})
        return handle(request)

    busy_client = SyncClient(
        httpx.Client(
            transport=httpx.MockTransport(busy),
            base_url="http://server.test",
            headers={"Authorization": f"Bearer {token}"},
        ),
        gate.conn,
        "G1",
        load_or_create_device_key(tmp_path / "G1"),
        clock=lambda: NOW,
    )

    with pytest.raises(SyncError) as caught:
        busy_client.sync()
    report = _client(gate, server, token).sync()

    assert (caught.value.code, caught.value.server_code) == ("bad_response", "unavailable")
    assert journal_stopped(gate.conn, "G1") is None
    assert report.journal["stored"] == 1


def _rotate_after_revoking(issuer: TestIssuer) -> None:
    """The issuer's only key is revoked (compromised) and a new one signs from now on."""
    old = issuer.keyset()[issuer.kid]
    issuer.revoked_keys.append(dataclasses.replace(old, revoked=True))
    issuer.key = Ed25519PrivateKey.generate()


def test_a_gate_whose_only_trusted_key_is_revoked_refuses_the_new_keyset_as_untrusted(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    _client(gate, server, token).sync()
    _rotate_after_revoking(server.issuer)

    with pytest.raises(SyncError) as caught:
        _client(gate, server, token).sync()

    assert caught.value.code == "untrusted"
    assert [kid for (kid,) in gate.conn.execute("SELECT kid FROM keyset")] == [
        server.issuer.revoked_keys[0].key_id
    ]  # the gate kept the keyset it trusts


def test_a_pinned_fingerprint_admits_the_first_keyset_only_when_its_key_signs_it(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    with transaction(gate.conn):
        records.set_state(gate.conn, "trusted_fingerprint", "0000 0000 0000 0000")

    with pytest.raises(SyncError) as caught:
        _client(gate, server, token).sync()
    with transaction(gate.conn):
        pin = key_fingerprint(server.issuer.keyset()[server.issuer.kid])
        records.set_state(gate.conn, "trusted_fingerprint", pin)
    report = _client(gate, server, token).sync()

    assert caught.value.code == "untrusted"
    assert report.keys == 1


class _Replayer:
    """A man in the middle: passes requests to `server`, keeps each answer, and sends the kept answer again
    (signature and all) for the targets in `replay`."""

    def __init__(self, server: FakeServer) -> None:
        self.server = server
        self.kept: dict[str, tuple[int, httpx.Headers, bytes]] = {}
        self.replay: set[str] = set()

    def client(self, token: str) -> httpx.Client:
        return httpx.Client(
            transport=httpx.MockTransport(self.handle),
            base_url="http://server.test",
            headers={"Authorization": f"Bearer {token}"},
        )

    def handle(self, request: httpx.Request) -> httpx.Response:
        target = request.url.raw_path.decode()
        if target not in self.replay:
            answer = self.server.handle(request)
            self.kept[target] = (answer.status_code, answer.headers, answer.read())
        status, headers, content = self.kept[target]
        return httpx.Response(status, headers=headers, content=content)


def _replaying(tmp_path: Path, server: FakeServer) -> tuple[Gate, _Replayer, SyncClient, list[datetime]]:
    """A gate syncing through a `_Replayer`; the server's and the gate's clocks both read `now[0]`."""
    now = [NOW]
    server.clock = lambda: now[0]
    gate, token = _enrolled(tmp_path, server)
    mitm = _Replayer(server)
    key = load_or_create_device_key(tmp_path / "G1")
    return gate, mitm, SyncClient(mitm.client(token), gate.conn, "G1", key, clock=lambda: now[0]), now


def test_an_old_empty_revocations_page_replayed_hours_later_is_refused_and_the_lists_stay_stale(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, mitm, client, now = _replaying(tmp_path, server)
    client.sync()  # the man in the middle keeps the empty revocations page
    serial, ticket = server.issuer.ticket()
    server.issuer.revoke(serial)
    now[0] = NOW + timedelta(hours=7)
    mitm.replay = {"/v1/gate/revocations?after=0"}

    with pytest.raises(SyncError) as caught:
        client.sync()
    outcome = gate.scan(ticket, Direction.ENTRY, now[0])

    assert caught.value.code == "stale_response"
    assert (last_sync_error(gate.conn, "G1") or {}).get("code") == "stale_response"
    assert Flag.STALE_LISTS in outcome.flags


def test_a_page_older_than_the_last_accepted_one_is_refused_even_within_the_clock_tolerance(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, mitm, client, now = _replaying(tmp_path, server)
    client.sync()
    old_page = mitm.kept["/v1/gate/revocations?after=0"]
    now[0] = NOW + timedelta(seconds=60)
    client.sync()
    now[0] = NOW + timedelta(seconds=120)
    mitm.kept["/v1/gate/revocations?after=0"] = old_page
    mitm.replay = {"/v1/gate/revocations?after=0"}

    with pytest.raises(SyncError) as caught:
        client.pull_list("revocations")

    assert caught.value.code == "stale_response"
    assert records.get_state(gate.conn, "revocations_synced_at") == iso(NOW + timedelta(seconds=60))


def test_the_lists_count_as_synced_at_the_servers_time_not_the_gates(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)  # the server's clock runs 2 s ahead of the gate's

    _client(gate, server, token).sync()

    synced = {name: records.get_state(gate.conn, f"{name}_synced_at") for name in ("revocations", "passes")}
    assert synced == dict.fromkeys(("revocations", "passes"), iso(NOW + timedelta(seconds=2)))


def test_a_background_sync_that_cannot_open_the_gate_reports_the_error_and_keeps_trying(
    tmp_path: Path,
) -> None:
    errors: list[Exception] = []
    retried = threading.Event()

    def on_error(exc: Exception) -> None:
        errors.append(exc)
        if len(errors) >= 2:
            retried.set()

    background = BackgroundSync(tmp_path / "no-gate-here", None, 0.01, on_error)
    background.start()
    try:
        assert retried.wait(timeout=10)
    finally:
        background.stop()

    assert {type(e) for e in errors} == {GateNotProvisioned}


def test_a_gate_whose_clock_is_ten_minutes_slow_keeps_the_offset_flags_its_scans_and_still_uploads(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, token = _enrolled(tmp_path, server)
    client = _client(gate, server, token)
    client.sync()  # in step: offset +2 s
    gate.scan("junk", Direction.ENTRY, NOW)
    server.clock = lambda: NOW + timedelta(minutes=10)  # the gate's clock now runs 10 minutes slow

    with pytest.raises(SyncError) as caught:
        client.sync()
    _, ticket = server.issuer.ticket()
    outcome = gate.scan(ticket, Direction.ENTRY, NOW)

    assert caught.value.code == "clock_off"
    assert "10 min behind" in caught.value.detail
    assert float(records.get_state(gate.conn, "clock_offset_seconds") or 0) == pytest.approx(600)
    assert (last_sync_error(gate.conn, "G1") or {}).get("code") == "clock_off"
    assert ("G1", 1) in server.journal  # lists refused, the journal uploaded all the same
    assert server.batch_offsets[-1] == pytest.approx(600)  # with the offset this sync measured
    assert Flag.CLOCK_SUSPECT in outcome.flags
    assert outcome.clock_offset_seconds == pytest.approx(600)


def test_a_replayed_old_page_is_stale_not_a_clock_fault_when_the_keys_answer_agrees_with_the_gate(
    tmp_path: Path, server: FakeServer
) -> None:
    gate, mitm, client, now = _replaying(tmp_path, server)
    client.sync()
    now[0] = NOW + timedelta(hours=1)
    mitm.replay = {"/v1/gate/passes?after=0"}

    with pytest.raises(SyncError) as caught:
        client.sync()

    assert caught.value.code == "stale_response"
    assert float(records.get_state(gate.conn, "clock_offset_seconds") or 99) == pytest.approx(0)
