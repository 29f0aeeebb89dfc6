"""Settling a fare owed at the exit: exactly the amount owed, once, and only where a fare is owed."""

from __future__ import annotations

import pytest

from fare_rules import Accepted, Denied, Flag, Reason
from fare_rules.overrides import OverrideReason, override_message
from fare_rules.settlement import PaymentMethod, Settled, is_agent_id, settle

OWED = Denied(Reason.FARE_EXCEEDED, owed_vnd=4000)
CASH = PaymentMethod.CASH


def test_collecting_exactly_the_amount_owed_settles_the_exit() -> None:
    assert settle(OWED, 4000, CASH, already_settled=False) == Settled(4000, 4000, CASH)


def test_a_settlement_keeps_the_exit_decisions_flags() -> None:
    unseen = Denied(Reason.FARE_EXCEEDED, owed_vnd=2000, flags=frozenset({Flag.ENTRY_UNSEEN}))

    settled = settle(unseen, 2000, PaymentMethod.VIETQR, already_settled=False)

    assert settled == Settled(2000, 2000, PaymentMethod.VIETQR, frozenset({Flag.ENTRY_UNSEEN}))


@pytest.mark.parametrize(
    ("collected", "reason"),
    [
        (4001, Reason.OVER_COLLECTED),
        (10_000, Reason.OVER_COLLECTED),
        (3999, Reason.UNDER_COLLECTED),
        (0, Reason.UNDER_COLLECTED),
    ],
)
def test_collecting_more_or_less_than_owed_is_refused_with_the_amount_owed(
    collected: int, reason: Reason
) -> None:
    assert settle(OWED, collected, CASH, already_settled=False) == Denied(reason, owed_vnd=4000)


def test_a_trip_already_settled_is_refused_as_a_double_settlement() -> None:
    assert settle(OWED, 4000, CASH, already_settled=True) == Denied(Reason.ALREADY_SETTLED)


@pytest.mark.parametrize(
    "decision",
    [
        Accepted(),
        Denied(Reason.TRIP_TIME_EXCEEDED),
        Denied(Reason.ALREADY_USED),
        Denied(Reason.BAD_SIGNATURE),
    ],
)
def test_an_exit_that_owes_no_fare_cannot_be_settled(decision: Accepted | Denied) -> None:
    assert settle(decision, 4000, CASH, already_settled=False) == Denied(Reason.NOTHING_OWED)


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("A17", True),
        ("nv.0042", True),
        ("st_1-2", True),
        ("", False),
        ("-A", False),
        ("a b", False),
        ("x" * 33, False),
        ("Nguyễn", False),
    ],
)
def test_an_agent_id_is_a_short_staff_number(text: str, valid: bool) -> None:
    assert is_agent_id(text) is valid


def test_every_override_reason_has_vietnamese_and_english_text() -> None:
    for reason in OverrideReason:
        message = override_message(reason)
        assert message.vi
        assert message.en
        assert message.vi != message.en


def test_the_override_reasons_include_those_stations_meet_every_day() -> None:
    wanted = {"broken_phone", "evacuation", "system_fault", "child_under_6", "staff_judgement", "other"}

    assert wanted <= {r.value for r in OverrideReason}
