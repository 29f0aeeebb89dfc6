"""The rules of use for a single QR ticket: entry at the origin, exit within the fare paid and time limits."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fare_rules_factories import (
    EXACT,
    NEVER_USED,
    NOW,
    POLICY,
    SECOND,
    TARIFF,
    TOLERANCE,
    entered,
    entry_at,
    exit_at,
    exited,
    fare,
    history,
    inside_since,
    make_single,
)

from fare_rules import Accepted, Decision, Denied, Flag, Policy, Reason, decide

WITHIN_TOLERANCE = Accepted(frozenset({Flag.WITHIN_TOLERANCE}))
UNSEEN = frozenset({Flag.ENTRY_UNSEEN})
THIRTY_DAYS = timedelta(days=30)
MAX_TRIP = timedelta(minutes=120)
SAME_STATION = timedelta(minutes=20)


def test_a_single_is_valid_to_enter_for_30_days_after_purchase() -> None:
    ticket = make_single(issued_at=NOW)

    assert (ticket.valid_from, ticket.valid_until) == (NOW, NOW + THIRTY_DAYS)


def test_entry_at_the_origin_is_accepted() -> None:
    assert (
        decide(make_single(origin="L1-01"), entry_at("L1-01"), NEVER_USED, POLICY, TARIFF, NOW) == Accepted()
    )


def test_entry_at_another_station_is_refused() -> None:
    decision = decide(make_single(origin="L1-01"), entry_at("L1-02"), NEVER_USED, POLICY, TARIFF, NOW)

    assert decision == Denied(Reason.WRONG_STATION)


def test_entry_after_the_exit_is_refused_because_the_ticket_is_spent() -> None:
    used = history(entered("L1-01", NOW - timedelta(hours=2)), exited("L1-05", NOW - timedelta(hours=1)))

    assert decide(make_single(), entry_at("L1-01"), used, POLICY, TARIFF, NOW) == Denied(Reason.ALREADY_USED)


def test_a_second_entry_without_an_exit_is_refused_as_already_inside() -> None:
    decision = decide(make_single(), entry_at("L1-01"), inside_since(minutes=5), POLICY, TARIFF, NOW)

    assert decision == Denied(Reason.ALREADY_INSIDE)


@pytest.mark.parametrize(
    ("since_use_by", "policy", "expected"),
    [
        (-SECOND, EXACT, Accepted()),
        (timedelta(0), EXACT, Accepted()),
        (SECOND, EXACT, Denied(Reason.EXPIRED)),
        (SECOND, POLICY, WITHIN_TOLERANCE),
        (TOLERANCE - SECOND, POLICY, WITHIN_TOLERANCE),
        (TOLERANCE + SECOND, POLICY, Denied(Reason.EXPIRED)),
    ],
)
def test_entry_around_the_30_day_use_by(since_use_by: timedelta, policy: Policy, expected: Decision) -> None:
    ticket = make_single(issued_at=NOW - THIRTY_DAYS - since_use_by)

    assert decide(ticket, entry_at("L1-01"), NEVER_USED, policy, TARIFF, NOW) == expected


@pytest.mark.parametrize(
    ("before_issue", "policy", "expected"),
    [
        (SECOND, EXACT, Denied(Reason.NOT_YET_VALID)),
        (-SECOND, EXACT, Accepted()),
        (TOLERANCE - SECOND, POLICY, WITHIN_TOLERANCE),
        (TOLERANCE + SECOND, POLICY, Denied(Reason.NOT_YET_VALID)),
    ],
)
def test_entry_before_the_ticket_was_issued_is_refused_beyond_the_clock_tolerance(
    before_issue: timedelta, policy: Policy, expected: Decision
) -> None:
    ticket = make_single(issued_at=NOW + before_issue)  # the issuer's clock ran ahead of the gate's

    assert decide(ticket, entry_at("L1-01"), NEVER_USED, policy, TARIFF, NOW) == expected


@pytest.mark.parametrize("destination", ["L1-05", "L1-04", "L1-02"])
def test_exit_at_or_before_the_paid_station_is_accepted(destination: str) -> None:
    ticket = make_single(origin="L1-01", destination="L1-05")

    decision = decide(ticket, exit_at(destination), inside_since("L1-01", minutes=20), POLICY, TARIFF, NOW)

    assert decision == Accepted()


def test_exit_beyond_the_paid_station_is_denied_with_the_difference_owed() -> None:
    ticket = make_single(origin="L1-01", destination="L1-05")

    decision = decide(ticket, exit_at("L1-09"), inside_since(minutes=20), POLICY, TARIFF, NOW)

    assert decision == Denied(Reason.FARE_EXCEEDED, owed_vnd=fare("L1-01", "L1-09") - ticket.fare_vnd)
    assert fare("L1-01", "L1-09") - ticket.fare_vnd == 14_000 - 9_000


def test_exit_the_other_way_is_accepted_where_the_fare_from_the_origin_is_covered() -> None:
    ticket = make_single(origin="L1-05", destination="L1-09")  # 4 hops, and L1-01 is 4 hops back

    decision = decide(ticket, exit_at("L1-01"), inside_since("L1-05"), POLICY, TARIFF, NOW)

    assert decision == Accepted()


def test_the_fare_check_uses_the_cashless_fare_so_a_cash_ticket_covers_a_little_more() -> None:
    ticket = make_single(origin="L1-01", destination="L1-05", fare_vnd=fare("L1-01", "L1-05") + 1_000)

    decision = decide(ticket, exit_at("L1-06"), inside_since(), POLICY, TARIFF, NOW)

    assert decision == Accepted()


@pytest.mark.parametrize(
    ("inside", "expected"),
    [
        (MAX_TRIP - SECOND, Accepted()),
        (MAX_TRIP, Accepted()),
        (MAX_TRIP + SECOND, Denied(Reason.TRIP_TIME_EXCEEDED)),
    ],
)
def test_exit_around_the_120_minute_limit_inside(inside: timedelta, expected: Decision) -> None:
    inside_minutes = inside / timedelta(minutes=1)

    decision = decide(
        make_single(), exit_at("L1-05"), inside_since(minutes=inside_minutes), POLICY, TARIFF, NOW
    )

    assert decision == expected


@pytest.mark.parametrize(
    ("inside", "expected"),
    [
        (timedelta(minutes=1), Accepted()),
        (SAME_STATION - SECOND, Accepted()),
        (SAME_STATION, Accepted()),
        (SAME_STATION + SECOND, Denied(Reason.SAME_STATION_TIME_EXCEEDED)),
    ],
)
def test_exit_at_the_entry_station_around_the_20_minute_limit(inside: timedelta, expected: Decision) -> None:
    used = history(entered("L1-01", NOW - inside))

    assert decide(make_single(origin="L1-01"), exit_at("L1-01"), used, POLICY, TARIFF, NOW) == expected


def test_a_known_entry_lets_the_ticket_out_even_after_its_use_by() -> None:
    ticket = make_single(issued_at=NOW - THIRTY_DAYS - timedelta(hours=1))
    used = history(entered("L1-01", ticket.valid_until - timedelta(minutes=1)))

    assert decide(ticket, exit_at("L1-05"), used, POLICY, TARIFF, NOW - timedelta(minutes=30)) == Accepted()


def test_a_second_exit_is_refused_because_the_ticket_is_spent() -> None:
    used = history(entered("L1-01", NOW - timedelta(minutes=30)), exited("L1-05", NOW - timedelta(minutes=5)))

    assert decide(make_single(), exit_at("L1-05"), used, POLICY, TARIFF, NOW) == Denied(Reason.ALREADY_USED)


def test_an_exit_whose_entry_is_unseen_is_admitted_and_flagged() -> None:
    decision = decide(make_single(), exit_at("L1-05"), NEVER_USED, POLICY, TARIFF, NOW)

    assert decision == Accepted(UNSEEN)


def test_an_exit_whose_entry_is_unseen_is_still_fare_checked() -> None:
    ticket = make_single(origin="L1-01", destination="L1-05")

    decision = decide(ticket, exit_at("L1-14"), NEVER_USED, POLICY, TARIFF, NOW)

    assert decision == Denied(Reason.FARE_EXCEEDED, owed_vnd=10_000, flags=UNSEEN)


def test_an_exit_at_the_origin_whose_entry_is_unseen_owes_nothing() -> None:
    decision = decide(make_single(origin="L1-01"), exit_at("L1-01"), NEVER_USED, POLICY, TARIFF, NOW)

    assert decision == Accepted(UNSEEN)


def test_time_limits_do_not_apply_when_the_entry_is_unseen() -> None:
    ticket = make_single(
        issued_at=NOW - timedelta(days=3)
    )  # bought days ago: the entry could be any time since

    assert decide(ticket, exit_at("L1-05"), NEVER_USED, POLICY, TARIFF, NOW) == Accepted(UNSEEN)


@pytest.mark.parametrize(
    ("after_use_by", "policy", "expected"),
    [
        (MAX_TRIP - SECOND, EXACT, Accepted(UNSEEN)),
        (MAX_TRIP + SECOND, EXACT, Denied(Reason.EXPIRED, flags=UNSEEN)),
        (MAX_TRIP + TOLERANCE - SECOND, POLICY, Accepted(UNSEEN | {Flag.WITHIN_TOLERANCE})),
        (MAX_TRIP + TOLERANCE + SECOND, POLICY, Denied(Reason.EXPIRED, flags=UNSEEN)),
    ],
)
def test_an_unseen_entry_exit_after_the_use_by_is_allowed_for_one_more_trip(
    after_use_by: timedelta, policy: Policy, expected: Decision
) -> None:
    ticket = make_single()
    now: datetime = ticket.valid_until + after_use_by

    assert decide(ticket, exit_at("L1-05"), NEVER_USED, policy, TARIFF, now) == expected
