"""Every rule and every bad input through the real gate: real SQLite store, real signatures, real journal."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from fare_rules.cccd import holder_hash
from fare_rules.model import Direction, Flag
from fare_rules.products import Product
from fare_rules.reasons import Reason, message_for
from validator import records
from validator.codec import KeyEntry
from validator.gate import Gate
from validator.journal import GENESIS_HASH, chain_hash
from validator.store import transaction
from validator.testing import CCCD_NUMBER, TestIssuer, cccd_qr
from validator.testing import TEST_NOW as NOW
from validator.wire import iso

ENTRY, EXIT = Direction.ENTRY, Direction.EXIT
Provision = Callable[..., Gate]


def test_a_valid_single_ticket_enters_at_its_origin_and_exits_at_its_destination(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(origin=101, destination=105)
    origin, destination = provision("L1-01"), provision("L1-05", "G9")

    entered = origin.scan(ticket, ENTRY, NOW)
    # The exit gate learns of the entry only through sync; here it exits unseen but within the fare.
    left = destination.scan(ticket, EXIT, NOW + timedelta(minutes=25))

    assert entered.accepted
    assert entered.reason is None
    assert left.accepted
    assert Flag.ENTRY_UNSEEN in left.flags


def test_a_ticket_typed_in_lowercase_by_a_caps_lock_scanner_is_accepted(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(origin=101, destination=105)

    outcome = provision("L1-01").scan(ticket.lower() + "\r\n", ENTRY, NOW)

    assert (outcome.accepted, outcome.reason) == (True, None)


def test_the_same_ticket_cannot_enter_twice(issuer: TestIssuer, provision: Provision) -> None:
    _, ticket = issuer.ticket()
    gate = provision()

    gate.scan(ticket, ENTRY, NOW)
    again = gate.scan(ticket, ENTRY, NOW + timedelta(seconds=5))

    assert not again.accepted
    assert again.reason in {Reason.ALREADY_INSIDE, Reason.ALREADY_USED}


def test_a_spent_ticket_is_refused_as_already_used(issuer: TestIssuer, provision: Provision) -> None:
    _, ticket = issuer.ticket(origin=101, destination=103)
    gate = provision("L1-01")
    gate.scan(ticket, ENTRY, NOW)
    gate.scan(ticket, EXIT, NOW + timedelta(minutes=10))

    assert gate.scan(ticket, ENTRY, NOW + timedelta(minutes=20)).reason is Reason.ALREADY_USED


def test_entry_at_another_station_than_the_origin_is_refused(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(origin=101, destination=105)

    assert provision("L1-03").scan(ticket, ENTRY, NOW).reason is Reason.WRONG_STATION


def test_exit_beyond_the_paid_station_is_refused_with_the_difference_owed(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(origin=101, destination=103, fare_vnd=7000)
    provision("L1-01").scan(ticket, ENTRY, NOW)

    outcome = provision("L1-14", "G2").scan(ticket, EXIT, NOW + timedelta(minutes=30))

    assert outcome.reason is Reason.FARE_EXCEEDED
    assert outcome.owed_vnd == 19000 - 7000


@pytest.mark.parametrize(
    ("cause", "reason"),
    [
        ("refunded", Reason.REFUNDED),
        ("cancelled", Reason.CANCELLED),
        ("double_use", Reason.REVOKED_DOUBLE_USE),
        ("blocked", Reason.REVOKED),
        ("a_cause_from_a_newer_issuer", Reason.REVOKED),
    ],
)
def test_a_revoked_ticket_is_refused_with_its_cause_on_the_screen(
    issuer: TestIssuer, provision: Provision, cause: str, reason: Reason
) -> None:
    serial, ticket = issuer.ticket()
    issuer.revoke(serial, reason=cause)

    outcome = provision().scan(ticket, ENTRY, NOW)

    assert (outcome.reason, outcome.message) == (reason, message_for(reason))


def test_an_expired_ticket_is_refused(issuer: TestIssuer, provision: Provision) -> None:
    _, ticket = issuer.ticket(issued_at=NOW - timedelta(days=40))

    assert provision().scan(ticket, ENTRY, NOW).reason is Reason.EXPIRED


def test_a_ticket_issued_in_the_future_is_not_yet_valid(issuer: TestIssuer, provision: Provision) -> None:
    _, ticket = issuer.ticket(issued_at=NOW + timedelta(hours=2))

    assert provision().scan(ticket, ENTRY, NOW).reason is Reason.NOT_YET_VALID


def test_a_ticket_signed_by_a_key_the_gate_never_saw_is_unknown_key(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(key=Ed25519PrivateKey.generate(), kid=4242)

    assert provision().scan(ticket, ENTRY, NOW).reason is Reason.UNKNOWN_KEY


def test_a_forged_ticket_is_a_bad_signature_and_shows_what_it_claims(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(key=Ed25519PrivateKey.generate())  # our kid, someone else's key

    outcome = provision().scan(ticket, ENTRY, NOW)

    assert outcome.reason is Reason.BAD_SIGNATURE
    assert outcome.ticket is not None
    assert outcome.ticket.verified is False


def test_a_ticket_of_a_revoked_key_is_refused(issuer: TestIssuer, provision: Provision) -> None:
    stolen = Ed25519PrivateKey.generate()
    issuer.revoked_keys.append(KeyEntry(777, stolen.public_key(), revoked=True))
    _, ticket = issuer.ticket(key=stolen, kid=777)

    assert provision().scan(ticket, ENTRY, NOW).reason is Reason.KEY_REVOKED


@pytest.mark.parametrize(
    ("raw", "reasons"),
    [
        ("garbage line", {Reason.NOT_OUR_CODE}),
        ("", {Reason.MALFORMED}),
        ("HC1:6BFOXN*TS0BI$ZD.P9UOL97O4-2HH77HRM3DSPTLRR+%3", {Reason.NOT_OUR_CODE}),
        ("MQR:", {Reason.MALFORMED, Reason.TRUNCATED}),
        ("MQR:not base45 ~~~", {Reason.MALFORMED}),
        ("\x00\x01\x02\udcff", {Reason.NOT_OUR_CODE}),
        ("079303001234|x", {Reason.CCCD_INVALID}),
        ("079303001299||Nguyễn Văn A|15062003|Nam|x|20042021", {Reason.CCCD_INVALID}),
    ],
)
def test_bad_input_is_a_deny_with_a_reason_never_an_exception(
    provision: Provision, raw: str, reasons: set[Reason]
) -> None:
    outcome = provision().scan(raw, ENTRY, NOW)

    assert not outcome.accepted
    assert outcome.reason in reasons


def test_a_truncated_ticket_is_refused(issuer: TestIssuer, provision: Provision) -> None:
    _, ticket = issuer.ticket()

    outcome = provision().scan(ticket[: len(ticket) // 2], ENTRY, NOW)

    assert outcome.reason in {Reason.MALFORMED, Reason.TRUNCATED}


def test_a_cccd_with_a_registered_pass_enters_and_staff_see_the_masked_number(
    issuer: TestIssuer, provision: Provision
) -> None:
    issuer.add_pass(initials="NTM", birth_year=2003)

    outcome = provision().scan(cccd_qr(), ENTRY, NOW)

    assert outcome.accepted
    body = outcome.to_json()
    assert body["recognised"]["pass"] == body["recognised"]["pass"] | {
        "cccd": "0793******34",
        "initials": "NTM",
        "birth_year": 2003,
    }
    assert CCCD_NUMBER not in json.dumps(body)


def test_a_pass_cannot_enter_again_without_an_exit(issuer: TestIssuer, provision: Provision) -> None:
    issuer.add_pass()
    gate = provision()
    gate.scan(cccd_qr(), ENTRY, NOW)

    assert gate.scan(cccd_qr(), ENTRY, NOW + timedelta(minutes=1)).reason is Reason.ALREADY_INSIDE


def test_a_cccd_without_a_pass_is_refused_as_no_pass(provision: Provision) -> None:
    assert provision().scan(cccd_qr(), ENTRY, NOW).reason is Reason.CCCD_NO_PASS


def test_a_student_pass_awaiting_verification_is_refused(issuer: TestIssuer, provision: Provision) -> None:
    issuer.add_pass(product=Product.MONTHLY_STUDENT, status="pending_verification")

    assert provision().scan(cccd_qr(), ENTRY, NOW).reason is Reason.PENDING_VERIFICATION


def test_a_revoked_pass_is_refused(issuer: TestIssuer, provision: Provision) -> None:
    issuer.add_pass(status="revoked")

    assert provision().scan(cccd_qr(), ENTRY, NOW).reason is Reason.REVOKED


def test_an_expired_pass_is_refused_as_expired(issuer: TestIssuer, provision: Provision) -> None:
    issuer.add_pass(valid_from=NOW - timedelta(days=45))

    assert provision().scan(cccd_qr(), ENTRY, NOW).reason is Reason.EXPIRED


def test_a_pass_qr_and_the_card_share_one_history(issuer: TestIssuer, provision: Provision) -> None:
    issuer.add_pass()
    _, pass_qr = issuer.ticket(product=Product.MONTHLY, holder=holder_hash(CCCD_NUMBER, issuer.cccd_hash_key))
    gate = provision()

    assert gate.scan(pass_qr, ENTRY, NOW).accepted
    assert gate.scan(cccd_qr(), ENTRY, NOW + timedelta(minutes=1)).reason is Reason.ALREADY_INSIDE


def test_a_student_pass_qr_the_gate_has_not_synced_yet_is_refused_as_pending_verification(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, pass_qr = issuer.ticket(
        product=Product.MONTHLY_STUDENT, holder=holder_hash(CCCD_NUMBER, issuer.cccd_hash_key)
    )

    assert provision().scan(pass_qr, ENTRY, NOW).reason is Reason.PENDING_VERIFICATION


@pytest.mark.parametrize("product", [Product.MONTHLY, Product.FREE_PRIORITY])
def test_another_holder_pass_qr_the_gate_has_not_synced_yet_is_decided_on_its_signed_qr(
    issuer: TestIssuer, provision: Provision, product: Product
) -> None:
    _, pass_qr = issuer.ticket(product=product, holder=holder_hash(CCCD_NUMBER, issuer.cccd_hash_key))

    outcome = provision().scan(pass_qr, ENTRY, NOW)

    assert (outcome.accepted, outcome.reason) == (True, None)


def test_every_scan_is_journaled_in_one_unbroken_chain_and_only_accepts_are_uses(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket()
    gate = provision()
    outcomes = [gate.scan(raw, ENTRY, NOW) for raw in (ticket, ticket, "junk", cccd_qr())]

    rows = gate.conn.execute("SELECT seq, event, prev_hash, hash FROM journal ORDER BY seq").fetchall()
    prev = GENESIS_HASH
    for _seq, event, prev_hash, digest in rows:
        assert prev_hash == prev
        assert chain_hash(prev_hash, json.loads(event)) == digest
        prev = digest
    verdicts = [json.loads(r[1])["verdict"] for r in rows]
    uses = gate.conn.execute("SELECT count(*) FROM uses").fetchone()[0]
    assert [r[0] for r in rows] == [o.seq for o in outcomes] == [1, 2, 3, 4]
    assert verdicts == ["accept", "deny", "deny", "deny"]
    assert uses == 1


def test_the_journal_never_holds_a_cccd_number(issuer: TestIssuer, provision: Provision) -> None:
    issuer.add_pass()
    gate = provision()
    gate.scan(cccd_qr(), ENTRY, NOW)
    gate.scan(cccd_qr(number="079303009999"), ENTRY, NOW)

    dump = "\n".join(r[0] for r in gate.conn.execute("SELECT event FROM journal"))

    assert CCCD_NUMBER not in dump
    assert "079303009999" not in dump


def test_decisions_on_stale_lists_are_flagged_on_screen_and_in_the_journal(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(issued_at=NOW + timedelta(days=2))
    gate = provision()

    outcome = gate.scan(ticket, ENTRY, NOW + timedelta(days=2, hours=1))

    event = json.loads(
        gate.conn.execute("SELECT event FROM journal WHERE seq = ?", (outcome.seq,)).fetchone()[0]
    )
    assert Flag.STALE_LISTS in outcome.flags
    assert "stale_lists" in event["flags"]


def test_a_free_rider_list_older_than_the_policy_allows_flags_decisions_stale_even_with_fresh_passes(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(issued_at=NOW + timedelta(hours=1))
    gate = provision()
    fresh = iso(NOW + timedelta(days=2))
    with transaction(gate.conn):  # revocations and passes synced since the bundle; free riders not
        records.set_state(gate.conn, "revocations_synced_at", fresh)
        records.set_state(gate.conn, "passes_synced_at", fresh)

    outcome = gate.scan(ticket, ENTRY, NOW + timedelta(days=2, minutes=1))

    assert Flag.STALE_LISTS in outcome.flags
