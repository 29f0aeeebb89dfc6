"""Tariff and policy versions at the gate: synced or carried by a bundle, kept in the store, and applied at
the scan instant, so a version announced for tomorrow lands tomorrow with the network down."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fare_rules.model import Direction
from fare_rules.reasons import Reason
from fare_rules.versions import RulesKind
from validator import records
from validator.codec import TicketBody, peek
from validator.device import load_or_create_device_key, public_key_text
from validator.gate import Gate
from validator.operations import gate_status
from validator.records import GateConfig
from validator.staff import Shown
from validator.station import load_rules, open_gate, provision
from validator.store import open_store, transaction
from validator.sync import SyncClient, SyncError, enroll
from validator.testing import TEST_NOW as NOW
from validator.testing import FakeServer, TestIssuer
from validator.versions import describe_versions, load_versions

TOMORROW = datetime(2025, 3, 1, 21, 0, tzinfo=UTC)  # 2025-03-02 04:00 in Ho Chi Minh City
PACKAGED = load_rules().tariff
PAID = PACKAGED.single_fare("L1-01", "L1-05")


def dearer_l1_09(by: int, version: str = "2025-03-02") -> dict[str, Any]:
    """The packaged tariff with the cashless fare between L1-01 and L1-09 `by` dong dearer."""
    document: dict[str, Any] = json.loads(
        (Path(__file__).parents[3] / "fare_rules/data/hcmc-line1-tariff.json").read_text(encoding="utf-8")
    )
    document["version"], document["effective_from"] = version, "2025-03-02"
    document["single"]["cashless"]["L1-01"]["L1-09"] += by
    document["single"]["cashless"]["L1-09"]["L1-01"] += by
    return document


def _enrolled(
    tmp_path: Path, server: FakeServer, station: str = "L1-09"
) -> tuple[Gate, Ed25519PrivateKey, str]:
    folder = tmp_path / "gate"
    key = load_or_create_device_key(folder)
    server.add_code("code", f"{station}-G1", station)
    enrolment = enroll(server.client(), "code", public_key_text(key))
    conn = open_store(folder / "gate.db")
    config = GateConfig(f"{station}-G1", station, public_key_text(key), str(folder / "device-key.pem"), "x")
    with transaction(conn):
        provision(conn, config, network_id="hcmc", keyset={}, cccd_hash_key=enrolment.cccd_hash_key, now=NOW)
    conn.close()
    return open_gate(folder), key, enrolment.token


def _sync(gate: Gate, key: Ed25519PrivateKey, server: FakeServer, token: str) -> int:
    client = SyncClient(server.client(token), gate.conn, gate.config.gate_id, key, clock=lambda: NOW)
    return client.sync().tariffs


def _owed_at_exit(gate: Gate, issuer: TestIssuer, at: datetime) -> int | None:
    """What the L1-09 gate says is owed for a L1-01 to L1-05 single entered 20 minutes before `at`
    (entry unseen: the fare check needs only the origin)."""
    _, payload = issuer.ticket(fare_vnd=PAID, issued_at=at - timedelta(hours=1))
    outcome = gate.scan(payload, Direction.EXIT, at)
    assert outcome.reason is Reason.FARE_EXCEEDED
    return outcome.owed_vnd


@pytest.fixture
def server() -> FakeServer:
    return FakeServer(issuer=TestIssuer(), clock=lambda: NOW + timedelta(seconds=1))


def test_a_gate_given_no_version_decides_with_the_packaged_tariff(tmp_path: Path, server: FakeServer) -> None:
    gate, key, token = _enrolled(tmp_path, server)
    assert _sync(gate, key, server, token) == 0  # the keyset, no version

    owed = _owed_at_exit(gate, server.issuer, TOMORROW + timedelta(hours=2))

    assert owed == PACKAGED.single_fare("L1-01", "L1-09") - PAID


def test_a_tariff_announced_for_tomorrow_lands_tomorrow_on_a_gate_offline_by_then(
    tmp_path: Path, server: FakeServer
) -> None:
    server.issuer.announce(RulesKind.TARIFF, dearer_l1_09(500), TOMORROW, "2025-03-02")
    gate, key, token = _enrolled(tmp_path, server)
    assert _sync(gate, key, server, token) == 1
    server.fail_requests = set(range(1, 10_000))  # the network is down from here on

    today = _owed_at_exit(gate, server.issuer, TOMORROW - timedelta(minutes=1))
    tomorrow = _owed_at_exit(gate, server.issuer, TOMORROW)

    before = PACKAGED.single_fare("L1-01", "L1-09") - PAID
    assert (today, tomorrow) == (before, before + 500)


def test_a_policy_version_applies_from_its_instant(tmp_path: Path, server: FakeServer) -> None:
    server.issuer.announce(RulesKind.POLICY, {"max_trip_minutes": 30}, TOMORROW, "short-trips")
    gate, key, token = _enrolled(tmp_path, server, station="L1-05")
    _sync(gate, key, server, token)
    decided: dict[str, Reason | None] = {}
    for name, entered in (
        ("today", TOMORROW - timedelta(hours=3)),
        ("tomorrow", TOMORROW + timedelta(hours=1)),
    ):
        _, payload = server.issuer.ticket(fare_vnd=PAID, issued_at=entered - timedelta(hours=1))
        remote_entry(gate, payload, entered)
        decided[name] = gate.scan(payload, Direction.EXIT, entered + timedelta(minutes=45)).reason

    assert decided == {"today": None, "tomorrow": Reason.TRIP_TIME_EXCEEDED}


def remote_entry(gate: Gate, payload: str, at: datetime) -> None:
    """The entry at L1-01, as another gate's use synced to this one."""
    body = peek(payload)
    assert isinstance(body, TicketBody)
    use = records.RemoteUse("L1-01-G1", int(at.timestamp()), f"t:{body.serial}", "L1-01", Direction.ENTRY, at)
    with transaction(gate.conn):
        records.upsert_remote_uses(gate.conn, [use])


def test_a_bundle_carries_the_versions_to_a_gate_provisioned_offline(
    issuer: TestIssuer, provision: Callable[..., Gate]
) -> None:
    issuer.announce(RulesKind.TARIFF, dearer_l1_09(500), TOMORROW, "2025-03-02")

    gate = provision("L1-09", "L1-09-G1")

    assert [(v.kind, v.version) for v in load_versions(gate.conn)] == [(RulesKind.TARIFF, "2025-03-02")]
    assert _owed_at_exit(gate, issuer, TOMORROW) == PACKAGED.single_fare("L1-01", "L1-09") + 500 - PAID


def test_status_shows_the_versions_held_the_one_in_force_and_the_next(
    tmp_path: Path, server: FakeServer
) -> None:
    server.issuer.announce(RulesKind.TARIFF, dearer_l1_09(500), datetime.now(UTC) + timedelta(days=1), "next")
    gate, key, token = _enrolled(tmp_path, server)
    _sync(gate, key, server, token)

    status = gate_status(gate, tmp_path / "gate")

    tariff = status["tariff"]
    assert [v["version"] for v in tariff["held"]] == [PACKAGED.version, "next"]
    assert tariff["in_force"] == PACKAGED.version
    assert tariff["next"]["version"] == "next"
    assert status["policy"]["next"] is None
    assert describe_versions(tariff).startswith(f"{PACKAGED.version} in force · next next from ")


def test_a_version_the_gate_cannot_apply_is_refused_at_sync_and_nothing_is_kept(
    tmp_path: Path, server: FakeServer
) -> None:
    broken = dearer_l1_09(500)
    del broken["single"]["cashless"]["L1-04"]
    server.issuer.announce(RulesKind.TARIFF, broken, TOMORROW, "broken")
    gate, key, token = _enrolled(tmp_path, server)

    with pytest.raises(SyncError) as refused:
        _sync(gate, key, server, token)

    assert refused.value.code == "bad_response"
    assert "tariff.single.cashless.L1-04" in refused.value.detail
    assert load_versions(gate.conn) == []


def test_a_tariff_page_altered_on_the_way_fails_its_signature_and_nothing_is_kept(
    tmp_path: Path, server: FakeServer
) -> None:
    server.issuer.announce(RulesKind.TARIFF, dearer_l1_09(500), TOMORROW, "2025-03-02")
    gate, key, token = _enrolled(tmp_path, server)

    def cheaper(request: httpx.Request) -> httpx.Response:
        answer = server.handle(request)
        if request.url.path != "/v1/gate/tariffs" or not json.loads(answer.content)["items"]:
            return answer
        body = json.loads(answer.content)
        body["items"][0]["document"]["single"]["cashless"]["L1-01"]["L1-09"] = 6_000
        return httpx.Response(200, content=json.dumps(body).encode(), headers=answer.headers)

    http = httpx.Client(
        transport=httpx.MockTransport(cheaper),
        base_url="http://server.test",
        headers={"Authorization": f"Bearer {token}"},
    )
    with pytest.raises(SyncError) as refused:
        SyncClient(http, gate.conn, gate.config.gate_id, key, clock=lambda: NOW).sync()

    assert refused.value.code == "bad_signature"
    assert load_versions(gate.conn) == []


def test_the_fare_owed_a_settlement_asks_for_is_the_one_in_force(tmp_path: Path, server: FakeServer) -> None:
    server.issuer.announce(RulesKind.TARIFF, dearer_l1_09(500), TOMORROW, "2025-03-02")
    gate, key, token = _enrolled(tmp_path, server)
    _sync(gate, key, server, token)
    _, payload = server.issuer.ticket(fare_vnd=PAID, issued_at=NOW - timedelta(hours=1))

    today, tomorrow = (gate.fare_owed(Shown(payload), at) for at in (NOW, TOMORROW))

    before = PACKAGED.single_fare("L1-01", "L1-09") - PAID
    assert (today, tomorrow) == (before, before + 500)
