"""Free riders at the gate, on a real store: registry entries from the bundle and the sync, and the age rule
on the card's birth date (fare_rules.free)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fare_rules.cccd import holder_hash
from fare_rules.free import FreeCategory, senior_credential_id
from fare_rules.model import Direction, Flag
from fare_rules.products import Product
from fare_rules.reasons import Reason
from validator import records
from validator.bundle import BUNDLE_DOMAIN, load_bundle
from validator.gate import Gate
from validator.store import _SCHEMA, open_store, transaction
from validator.testing import CCCD_NUMBER, TestIssuer, cccd_qr
from validator.testing import TEST_NOW as NOW
from validator.wire import b64url_encode, canonical_json

Provision = Callable[..., Gate]
ENTRY, EXIT = Direction.ENTRY, Direction.EXIT
SENIOR_NUMBER = "079060001234"  # fabricated: a man born in 1960 (digit 4 0 = 1900s male, digits 5-6 = 60)
SENIOR_CARD = cccd_qr(SENIOR_NUMBER, birth="01011960", sex="Nam", name="Trần Văn Lão")
YOUNG_CARD = cccd_qr()  # born 15 June 2003


def _events(gate: Gate) -> list[dict[str, object]]:
    return [json.loads(row[0]) for row in gate.conn.execute("SELECT event FROM journal ORDER BY seq")]


def test_a_card_in_the_registry_rides_free_in_its_category(issuer: TestIssuer, provision: Provision) -> None:
    entry = issuer.add_free_rider(category="disability")
    gate = provision()

    outcome = gate.scan(YOUNG_CARD, ENTRY, NOW)

    assert (outcome.accepted, outcome.reason, outcome.free_category) == (True, None, FreeCategory.DISABILITY)
    assert outcome.message.en == "Free ride — person with a disability"
    shown = outcome.to_json()
    assert shown["free_category"] == "disability"
    assert shown["recognised"]["pass"]["pass_id"] == entry.entry_id
    assert shown["recognised"]["pass"]["product"] == "free_priority"
    assert shown["recognised"]["pass"]["cccd"] == "0793******34"
    assert Flag.COMPARE_CARD not in outcome.flags


def test_a_free_ride_is_journaled_with_its_category_and_the_keyed_hash_never_the_number(
    issuer: TestIssuer, provision: Provision
) -> None:
    entry = issuer.add_free_rider(category="revolutionary_merit")
    gate = provision()
    gate.scan(YOUNG_CARD, ENTRY, NOW)
    gate.scan(YOUNG_CARD, EXIT, NOW + timedelta(minutes=20))

    events = _events(gate)

    assert [e["verdict"] for e in events] == ["accept", "accept"]
    assert {e["credential"] for e in events} == {f"p:{entry.entry_id}"}
    assert {e["pass"]["category"] for e in events} == {"revolutionary_merit"}  # type: ignore[index]
    assert events[0]["holder_hash"] == holder_hash(CCCD_NUMBER, issuer.cccd_hash_key).hex()
    text = gate.conn.execute("SELECT group_concat(event) FROM journal").fetchone()[0]
    assert CCCD_NUMBER not in text


def test_an_expired_registry_entry_is_refused_free_rider_expired(
    issuer: TestIssuer, provision: Provision
) -> None:
    issuer.add_free_rider(valid_from=NOW - timedelta(days=40), days=30)

    outcome = provision().scan(YOUNG_CARD, ENTRY, NOW)

    assert (outcome.accepted, outcome.reason) == (False, Reason.FREE_RIDER_EXPIRED)
    assert outcome.free_category is FreeCategory.DISABILITY


def test_an_entry_not_yet_valid_or_ended_is_refused_with_its_own_reason(
    issuer: TestIssuer, provision: Provision
) -> None:
    issuer.add_free_rider(valid_from=NOW + timedelta(days=2))
    later = provision("L1-01", "G1").scan(YOUNG_CARD, ENTRY, NOW)
    issuer.free_riders.clear()
    issuer.add_free_rider(status="ended")
    ended = provision("L1-02", "G2").scan(YOUNG_CARD, ENTRY, NOW)

    assert later.reason is Reason.FREE_RIDER_NOT_YET_VALID
    assert ended.reason is Reason.FREE_RIDER_ENDED


def test_a_card_of_sixty_or_more_rides_free_with_no_entry_flagged_compare_card(provision: Provision) -> None:
    gate = provision()

    entry = gate.scan(SENIOR_CARD, ENTRY, NOW)
    again = gate.scan(SENIOR_CARD, ENTRY, NOW + timedelta(minutes=1))
    out = gate.scan(SENIOR_CARD, EXIT, NOW + timedelta(minutes=30))

    assert (entry.accepted, entry.free_category) == (True, FreeCategory.SENIOR)
    assert Flag.COMPARE_CARD in entry.flags
    seen = entry.to_json()["recognised"]["pass"]
    assert (seen["cccd"], seen["initials"], seen["birth_year"]) == ("0790******34", "TVL", 1960)
    assert again.reason is Reason.ALREADY_INSIDE
    assert out.accepted
    digest = holder_hash(SENIOR_NUMBER, gate_key(gate))
    assert _events(gate)[0]["credential"] == f"p:{senior_credential_id(digest)}"


def gate_key(gate: Gate) -> bytes:
    return bytes.fromhex(records.get_state(gate.conn, "cccd_hash_key") or "")


def test_a_card_under_sixty_with_no_entry_and_no_pass_is_still_refused_cccd_no_pass(
    provision: Provision,
) -> None:
    assert provision().scan(YOUNG_CARD, ENTRY, NOW).reason is Reason.CCCD_NO_PASS


def test_a_pass_that_rides_now_decides_before_a_free_ride_claim(
    issuer: TestIssuer, provision: Provision
) -> None:
    held = issuer.add_pass(SENIOR_NUMBER, initials="TVL", birth_year=1960)

    outcome = provision().scan(SENIOR_CARD, ENTRY, NOW)

    assert outcome.accepted
    assert outcome.free_category is None
    assert outcome.to_json()["recognised"]["pass"]["pass_id"] == held.pass_id


def test_a_senior_whose_pass_expired_rides_free_by_age(issuer: TestIssuer, provision: Provision) -> None:
    issuer.add_pass(SENIOR_NUMBER, valid_from=NOW - timedelta(days=60), days=30)

    outcome = provision().scan(SENIOR_CARD, ENTRY, NOW)

    assert (outcome.accepted, outcome.free_category) == (True, FreeCategory.SENIOR)


def test_a_store_of_the_first_schema_gains_the_free_rider_list_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path)
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("INSERT INTO revocations (serial, seq, reason) VALUES (7, 1, 'refunded')")
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    store = open_store(path)
    entry = TestIssuer().add_free_rider()
    with transaction(store):
        records.upsert_free_riders(store, [entry])

    assert records.revocation_cause(store, 7) == "refunded"
    assert records.free_riders_for_holder(store, entry.holder_hash) == [entry]
    store.close()


def test_a_later_item_for_an_entry_replaces_the_earlier_one(tmp_path: Path) -> None:
    store = open_store(tmp_path / "gate.db")
    issuer = TestIssuer()
    entry = issuer.add_free_rider()
    ended = records.FreeRiderRecord(
        entry.seq + 5,
        entry.entry_id,
        entry.holder_hash,
        entry.category,
        entry.valid_from,
        entry.valid_until,
        "ended",
    )
    with transaction(store):
        records.upsert_free_riders(store, [entry, ended])

    assert records.free_riders_for_holder(store, entry.holder_hash) == [ended]
    store.close()


def test_the_product_of_a_free_ride_is_free_priority_at_no_fare(
    issuer: TestIssuer, provision: Provision
) -> None:
    issuer.add_free_rider()
    gate = provision()

    gate.scan(YOUNG_CARD, ENTRY, datetime(2025, 3, 1, 3, 0, tzinfo=UTC))

    event = _events(gate)[0]
    assert event["pass"]["product"] == Product.FREE_PRIORITY.value  # type: ignore[index]
    assert event["owed_vnd"] == 0


def test_a_card_qr_claiming_an_age_its_number_does_not_encode_is_refused_cccd_invalid(
    provision: Provision,
) -> None:
    forged = cccd_qr(CCCD_NUMBER, birth="15061955")  # the number says 2003

    outcome = provision().scan(forged, ENTRY, NOW)

    assert (outcome.accepted, outcome.reason) == (False, Reason.CCCD_INVALID)


def test_a_bundle_made_before_the_registry_still_loads_with_no_free_riders() -> None:
    issuer = TestIssuer()
    content = json.loads(issuer.bundle())
    del content["signature"], content["free_riders"], content["cursors"]["free_riders"]
    signature = issuer.key.sign(BUNDLE_DOMAIN + canonical_json(content))
    content["signature"] = {"kid": issuer.kid, "alg": "Ed25519", "value": b64url_encode(signature)}

    bundle = load_bundle(json.dumps(content))

    assert bundle.free_riders == ()
    assert "free_riders" not in bundle.cursors
