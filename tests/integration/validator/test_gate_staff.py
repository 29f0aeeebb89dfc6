"""Station staff at the real gate: settling a fare owed at the exit and overriding by hand, each one SQLite
transaction, journaled, signed and chained like every scan."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from fare_rules.model import Direction, Flag
from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.reasons import Reason
from fare_rules.settlement import PaymentMethod
from validator.gate import Gate
from validator.journal import GENESIS_HASH, chain_hash
from validator.staff import LastRefused, NoCredential, NothingToRecall, Shown, staff_counts
from validator.testing import TEST_NOW as NOW
from validator.testing import TestIssuer, cccd_qr

ENTRY, EXIT = Direction.ENTRY, Direction.EXIT
CASH = PaymentMethod.CASH
Provision = Callable[..., Gate]
LATER = NOW + timedelta(minutes=30)
OWED = 4000  # L1-01 to L1-09 is 14,000 cashless; the test ticket paid 10,000


def _inside_beyond_the_paid_station(issuer: TestIssuer, provision: Provision) -> tuple[Gate, str]:
    _, ticket = issuer.ticket(origin=101, destination=105)
    origin, exit_gate = provision("L1-01"), provision("L1-09", "L1-09-G1")
    assert origin.scan(ticket, ENTRY, NOW).accepted
    refused = exit_gate.scan(ticket, EXIT, LATER)
    assert (refused.reason, refused.owed_vnd) == (Reason.FARE_EXCEEDED, OWED)
    return exit_gate, ticket


def _journal(gate: Gate) -> list[dict[str, Any]]:
    rows = gate.conn.execute("SELECT event FROM journal WHERE gate = ? ORDER BY seq", (gate.config.gate_id,))
    return [json.loads(text) for (text,) in rows]


def test_settling_the_fare_owed_in_cash_lets_the_rider_out_with_the_adjustment(
    issuer: TestIssuer, provision: Provision
) -> None:
    gate, ticket = _inside_beyond_the_paid_station(issuer, provision)

    settled = gate.settle(Shown(ticket), OWED, CASH, "A17", LATER + timedelta(minutes=1))

    assert settled.accepted
    assert settled.exit is not None
    assert (settled.exit.accepted, settled.exit.owed_vnd) == (True, OWED)
    assert settled.exit.adjustment is not None
    assert (settled.exit.adjustment.method, settled.exit.adjustment.agent) == (CASH, "A17")
    settlement, exited = _journal(gate)[-2:]
    assert (settlement["kind"], settlement["verdict"], settlement["reason"]) == ("settlement", "settle", None)
    assert settlement["settlement"] == {
        "method": "cash",
        "collected_vnd": OWED,
        "agent": "A17",
        "gate_reason": "fare_exceeded",
        "accepted": True,
    }
    assert (exited["verdict"], exited["owed_vnd"], exited["adjustment"]["settlement_seq"]) == (
        "accept", OWED, settlement["seq"],
    )  # fmt: skip
    # The ticket is spent: the same rider cannot exit again.
    assert gate.scan(ticket, EXIT, LATER + timedelta(minutes=2)).reason is Reason.ALREADY_USED


def test_the_last_refused_exit_is_settled_without_scanning_again(
    issuer: TestIssuer, provision: Provision
) -> None:
    gate, _ = _inside_beyond_the_paid_station(issuer, provision)

    settled = gate.settle(LastRefused(), OWED, PaymentMethod.VIETQR, "A17", LATER + timedelta(minutes=1))

    assert settled.accepted
    assert settled.exit is not None
    assert settled.exit.accepted


@pytest.mark.parametrize(
    ("collected", "reason"), [(OWED + 1000, Reason.OVER_COLLECTED), (OWED - 1, Reason.UNDER_COLLECTED)]
)
def test_collecting_another_amount_than_owed_is_refused_journaled_and_lets_no_one_out(
    issuer: TestIssuer, provision: Provision, collected: int, reason: Reason
) -> None:
    gate, ticket = _inside_beyond_the_paid_station(issuer, provision)

    refused = gate.settle(Shown(ticket), collected, CASH, "A17", LATER)

    assert (refused.accepted, refused.reason, refused.owed_vnd, refused.exit) == (False, reason, OWED, None)
    last = _journal(gate)[-1]
    assert (last["kind"], last["reason"]) == ("settlement", reason.value)
    # Still owed: the exit is refused as before.
    assert gate.scan(ticket, EXIT, LATER).reason is Reason.FARE_EXCEEDED


def test_a_second_settlement_of_the_same_trip_is_refused_as_double_settlement(
    issuer: TestIssuer, provision: Provision
) -> None:
    gate, ticket = _inside_beyond_the_paid_station(issuer, provision)
    gate.settle(Shown(ticket), OWED, CASH, "A17", LATER)

    again = gate.settle(Shown(ticket), OWED, CASH, "B02", LATER + timedelta(minutes=1))

    assert (again.accepted, again.reason) == (False, Reason.ALREADY_SETTLED)
    assert staff_counts(gate.conn, gate.config.gate_id).settlements == 1


def test_an_exit_within_the_fare_paid_has_nothing_to_settle(issuer: TestIssuer, provision: Provision) -> None:
    _, ticket = issuer.ticket(origin=101, destination=105)

    refused = provision("L1-05").settle(Shown(ticket), 1000, CASH, "A17", NOW)

    assert (refused.accepted, refused.reason) == (False, Reason.NOTHING_OWED)


def test_a_settlement_and_its_exit_chain_onto_the_journal_like_scans(
    issuer: TestIssuer, provision: Provision
) -> None:
    gate, ticket = _inside_beyond_the_paid_station(issuer, provision)
    gate.settle(Shown(ticket), OWED, CASH, "A17", LATER)

    rows = gate.conn.execute("SELECT seq, event, prev_hash, hash FROM journal ORDER BY seq").fetchall()

    prev = GENESIS_HASH
    for seq, (number, text, prev_hash, digest) in enumerate(rows, start=1):
        assert (number, prev_hash, digest) == (seq, prev, chain_hash(prev, json.loads(text)))
        prev = digest
    assert len(rows) == 3  # refused exit, settlement, settled exit


def test_an_override_admits_a_refused_ticket_journaled_with_the_reason_and_agent(
    issuer: TestIssuer, provision: Provision
) -> None:
    gate, ticket = _inside_beyond_the_paid_station(issuer, provision)

    admitted = gate.override(
        LastRefused(), OverrideAction.ADMIT, OverrideReason.STAFF_JUDGEMENT, "A17", direction=EXIT, now=LATER
    )

    assert (admitted.accepted, admitted.reason) == (True, None)
    last = _journal(gate)[-1]
    assert (last["kind"], last["verdict"], last["credential"]) == (
        "override",
        "accept",
        f"t:{admitted.ticket.serial}" if admitted.ticket else None,
    )
    assert last["override"] == {
        "action": "admit",
        "reason": "staff_judgement",
        "agent": "A17",
        "gate_reason": "fare_exceeded",
    }
    assert gate.scan(ticket, EXIT, LATER).reason is Reason.ALREADY_USED


def test_an_evacuation_override_needs_no_credential(provision: Provision) -> None:
    gate = provision("L1-01")

    admitted = gate.override(
        NoCredential(), OverrideAction.ADMIT, OverrideReason.EVACUATION, "A17", direction=EXIT, now=NOW
    )

    assert admitted.accepted
    assert _journal(gate)[-1]["credential"] is None
    assert staff_counts(gate.conn, gate.config.gate_id).overrides_admitted == 1


def test_an_override_refuses_a_valid_ticket_and_it_is_counted(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(origin=101, destination=105)
    gate = provision("L1-01")

    refused = gate.override(
        Shown(ticket), OverrideAction.REFUSE, OverrideReason.OTHER, "A17", direction=ENTRY, now=NOW
    )

    assert (refused.accepted, refused.reason) == (False, Reason.STAFF_REFUSED)
    assert refused.override is not None
    assert refused.override.gate_reason is None  # the gate would have let it in
    assert staff_counts(gate.conn, gate.config.gate_id).overrides_refused == 1
    assert gate.scan(ticket, ENTRY, NOW).accepted  # a refusal is no use


def test_an_override_of_a_card_keeps_the_number_masked(provision: Provision) -> None:
    gate = provision("L1-01")
    gate.scan(cccd_qr(), ENTRY, NOW)

    gate.override(
        LastRefused(), OverrideAction.ADMIT, OverrideReason.BROKEN_PHONE, "A17", direction=ENTRY, now=NOW
    )

    text = gate.conn.execute("SELECT group_concat(event) FROM journal").fetchone()[0]
    assert "079303001234" not in text


def test_settling_the_last_refused_exit_at_a_gate_that_refused_none_is_an_error(provision: Provision) -> None:
    with pytest.raises(NothingToRecall):
        provision("L1-01").settle(LastRefused(), OWED, CASH, "A17", NOW)


def test_a_settled_exit_keeps_the_flags_of_the_exit_decision(
    issuer: TestIssuer, provision: Provision
) -> None:
    _, ticket = issuer.ticket(origin=101, destination=105)
    gate = provision("L1-09")  # never saw the entry

    settled = gate.settle(Shown(ticket), OWED, CASH, "A17", LATER)

    assert settled.exit is not None
    assert Flag.ENTRY_UNSEEN in settled.exit.flags


def test_a_trip_settled_at_one_gate_of_a_station_database_is_refused_at_the_next(
    issuer: TestIssuer, provision: Provision, tmp_path: Path
) -> None:
    _, ticket = issuer.ticket(origin=101, destination=105)
    station = tmp_path / "station.db"
    first = provision("L1-09", "L1-09-G1", db=station)
    second = provision("L1-09", "L1-09-G2", db=station)
    first.settle(Shown(ticket), OWED, CASH, "A17", LATER)

    again = second.settle(Shown(ticket), OWED, CASH, "B02", LATER + timedelta(minutes=1))

    assert (again.accepted, again.reason) == (False, Reason.ALREADY_SETTLED)
    assert staff_counts(second.conn, "L1-09-G2").settlements == 0
    assert staff_counts(second.conn, "L1-09-G1").collected_vnd == OWED
