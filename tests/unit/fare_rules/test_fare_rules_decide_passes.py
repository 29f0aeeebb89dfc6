"""The rules of use for passes: activation, ride periods by service day, monthly windows and anti-passback."""

from __future__ import annotations

from datetime import date, datetime, timedelta

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
    history,
    inside_since,
    local,
    make_pass,
)

from fare_rules import Accepted, Decision, Denied, Flag, History, Policy, Product, Reason, decide

ACTIVATED = Accepted(frozenset({Flag.ACTIVATED}))
WITHIN_TOLERANCE = Accepted(frozenset({Flag.WITHIN_TOLERANCE}))
UNSEEN = frozenset({Flag.ENTRY_UNSEEN})
ALL_PASSES = [Product.DAY, Product.THREE_DAY, Product.MONTHLY, Product.MONTHLY_STUDENT, Product.FREE_PRIORITY]
MAX_TRIP = timedelta(minutes=120)
REENTRY = timedelta(minutes=2)


def rode_once(at: datetime, station: str = "L1-01") -> History:
    """One trip from `station` starting at `at`, ending 30 minutes later at L1-05."""
    return history(entered(station, at), exited("L1-05", at + timedelta(minutes=30)))


# --- day and 3-day passes: activation


@pytest.mark.parametrize("product", [Product.DAY, Product.THREE_DAY])
def test_the_first_entry_activates_a_day_or_three_day_pass(product: Product) -> None:
    assert decide(make_pass(product), entry_at("L1-03"), NEVER_USED, POLICY, TARIFF, NOW) == ACTIVATED


def test_later_entries_on_an_activated_pass_are_not_flagged_as_activating() -> None:
    used = rode_once(NOW - timedelta(hours=2))

    assert decide(make_pass(Product.DAY), entry_at("L1-03"), used, POLICY, TARIFF, NOW) == Accepted()


@pytest.mark.parametrize(
    ("since_window_end", "policy", "expected"),
    [
        (-SECOND, EXACT, ACTIVATED),
        (SECOND, EXACT, Denied(Reason.EXPIRED)),
        (TOLERANCE - SECOND, POLICY, Accepted(frozenset({Flag.ACTIVATED, Flag.WITHIN_TOLERANCE}))),
        (TOLERANCE + SECOND, POLICY, Denied(Reason.EXPIRED)),
    ],
)
def test_a_pass_must_be_activated_within_30_days_of_purchase(
    since_window_end: timedelta, policy: Policy, expected: Decision
) -> None:
    day_pass = make_pass(Product.DAY, issued_at=NOW - timedelta(days=30) - since_window_end)

    assert day_pass.valid_until == day_pass.issued_at + timedelta(days=30)
    assert decide(day_pass, entry_at("L1-01"), NEVER_USED, policy, TARIFF, NOW) == expected


# --- day and 3-day passes: the ride period ends with a service day at 04:00 local


@pytest.mark.parametrize(
    ("product", "activated_at", "now", "policy", "expected"),
    [
        (Product.DAY, local(2025, 3, 10, 10), local(2025, 3, 11, 3, 59, 59), EXACT, Accepted()),
        (Product.DAY, local(2025, 3, 10, 10), local(2025, 3, 11, 4, 0, 1), EXACT, Denied(Reason.EXPIRED)),
        (Product.DAY, local(2025, 3, 10, 10), local(2025, 3, 11, 4, 1, 59), POLICY, WITHIN_TOLERANCE),
        (Product.DAY, local(2025, 3, 10, 10), local(2025, 3, 11, 4, 2, 1), POLICY, Denied(Reason.EXPIRED)),
        # Activated one second before 04:00: that service day has one second left.
        (
            Product.DAY,
            local(2025, 3, 10, 3, 59, 59),
            local(2025, 3, 10, 4, 0, 1),
            EXACT,
            Denied(Reason.EXPIRED),
        ),
        (Product.DAY, local(2025, 3, 10, 4, 0, 0), local(2025, 3, 11, 3, 59, 59), EXACT, Accepted()),
        (Product.THREE_DAY, local(2025, 3, 10, 10), local(2025, 3, 12, 23, 0), EXACT, Accepted()),
        (Product.THREE_DAY, local(2025, 3, 10, 10), local(2025, 3, 13, 3, 59, 59), EXACT, Accepted()),
        (
            Product.THREE_DAY,
            local(2025, 3, 10, 10),
            local(2025, 3, 13, 4, 0, 1),
            EXACT,
            Denied(Reason.EXPIRED),
        ),
    ],
)
def test_an_activated_pass_rides_until_the_end_of_its_last_service_day(
    product: Product, activated_at: datetime, now: datetime, policy: Policy, expected: Decision
) -> None:
    ride_pass = make_pass(product, issued_at=activated_at - timedelta(days=2))

    decision = decide(ride_pass, entry_at("L1-03"), rode_once(activated_at), policy, TARIFF, now)

    assert decision == expected


def test_an_exit_seen_before_any_entry_stands_in_for_the_unseen_activation() -> None:
    used = history(exited("L1-05", local(2025, 3, 10, 9)))
    day_pass = make_pass(Product.DAY, issued_at=local(2025, 3, 1, 9))

    assert (
        decide(day_pass, entry_at("L1-05"), used, EXACT, TARIFF, local(2025, 3, 11, 3, 59, 59)) == Accepted()
    )
    assert decide(day_pass, entry_at("L1-05"), used, EXACT, TARIFF, local(2025, 3, 11, 4, 0, 1)) == Denied(
        Reason.EXPIRED
    )


# --- monthly, student and priority passes: a fixed 30-day window


MONTHLY_START = date(2025, 3, 1)


@pytest.mark.parametrize(
    ("product", "now", "policy", "expected"),
    [
        (Product.MONTHLY, local(2025, 3, 1, 4) - SECOND, EXACT, Denied(Reason.NOT_YET_VALID)),
        (Product.MONTHLY, local(2025, 3, 1, 4) + SECOND, EXACT, Accepted()),
        (Product.MONTHLY, local(2025, 3, 1, 4) - TOLERANCE + SECOND, POLICY, WITHIN_TOLERANCE),
        (Product.MONTHLY, local(2025, 3, 1, 4) - TOLERANCE - SECOND, POLICY, Denied(Reason.NOT_YET_VALID)),
        (Product.MONTHLY, local(2025, 3, 31, 4) - SECOND, EXACT, Accepted()),
        (Product.MONTHLY, local(2025, 3, 31, 4) + SECOND, EXACT, Denied(Reason.EXPIRED)),
        (Product.MONTHLY, local(2025, 3, 31, 4) + TOLERANCE - SECOND, POLICY, WITHIN_TOLERANCE),
        (Product.MONTHLY, local(2025, 3, 31, 4) + TOLERANCE + SECOND, POLICY, Denied(Reason.EXPIRED)),
        (Product.MONTHLY_STUDENT, local(2025, 3, 15, 8), POLICY, Accepted()),
        (Product.MONTHLY_STUDENT, local(2025, 3, 31, 4) + SECOND, EXACT, Denied(Reason.EXPIRED)),
        (Product.FREE_PRIORITY, local(2025, 3, 15, 8), POLICY, Accepted()),
        (Product.FREE_PRIORITY, local(2025, 3, 1, 4) - SECOND, EXACT, Denied(Reason.NOT_YET_VALID)),
    ],
)
def test_a_monthly_pass_rides_30_days_from_the_start_of_its_first_service_day(
    product: Product, now: datetime, policy: Policy, expected: Decision
) -> None:
    monthly = make_pass(product, issued_at=local(2025, 2, 20, 9), start_date=MONTHLY_START)

    assert (monthly.valid_from, monthly.valid_until) == (local(2025, 3, 1, 4), local(2025, 3, 31, 4))
    assert decide(monthly, entry_at("L1-01"), NEVER_USED, policy, TARIFF, now) == expected


def test_a_monthly_pass_without_a_start_date_starts_on_the_service_day_of_purchase() -> None:
    monthly = make_pass(Product.MONTHLY, issued_at=local(2025, 3, 10, 2))  # 02:00 belongs to 9 March

    assert monthly.valid_from == local(2025, 3, 9, 4)


def test_a_student_pass_waits_for_staff_to_verify_eligibility() -> None:
    unverified = make_pass(Product.MONTHLY_STUDENT, eligibility_verified=False)

    for scan in (entry_at("L1-01"), exit_at("L1-01")):
        assert decide(unverified, scan, NEVER_USED, POLICY, TARIFF, NOW) == Denied(
            Reason.PENDING_VERIFICATION
        )


# --- anti-passback


@pytest.mark.parametrize("product", ALL_PASSES)
def test_a_pass_cannot_enter_again_without_an_exit(product: Product) -> None:
    decision = decide(make_pass(product), entry_at("L1-09"), inside_since("L1-01", 60), POLICY, TARIFF, NOW)

    assert decision == Denied(Reason.ALREADY_INSIDE)


@pytest.mark.parametrize(
    ("since_exit", "station", "expected"),
    [
        (timedelta(seconds=10), "L1-05", Denied(Reason.REENTRY_TOO_SOON)),
        (REENTRY - SECOND, "L1-05", Denied(Reason.REENTRY_TOO_SOON)),
        (REENTRY, "L1-05", Accepted()),
        (REENTRY + SECOND, "L1-05", Accepted()),
        (timedelta(seconds=10), "L1-06", Accepted()),  # another station: no wait
    ],
)
@pytest.mark.parametrize("product", ALL_PASSES)
def test_re_entry_at_the_same_station_needs_two_minutes_after_the_exit(
    product: Product, since_exit: timedelta, station: str, expected: Decision
) -> None:
    used = history(entered("L1-01", NOW - timedelta(hours=1)), exited("L1-05", NOW - since_exit))

    assert decide(make_pass(product), entry_at(station), used, POLICY, TARIFF, NOW) == expected


# --- exits


@pytest.mark.parametrize("product", ALL_PASSES)
def test_an_exit_after_a_known_entry_is_accepted(product: Product) -> None:
    assert decide(make_pass(product), exit_at("L1-14"), inside_since(), POLICY, TARIFF, NOW) == Accepted()


def test_an_exit_after_a_known_entry_is_accepted_even_once_the_pass_has_run_out() -> None:
    monthly = make_pass(Product.MONTHLY, issued_at=local(2025, 2, 20, 9), start_date=MONTHLY_START)
    now = local(2025, 3, 31, 5)
    used = history(entered("L1-01", local(2025, 3, 31, 3, 50)))

    assert decide(monthly, exit_at("L1-09"), used, EXACT, TARIFF, now) == Accepted()


@pytest.mark.parametrize("product", ALL_PASSES)
@pytest.mark.parametrize("used", [NEVER_USED, rode_once(NOW - timedelta(hours=3))])
def test_an_exit_whose_entry_is_unseen_is_admitted_and_flagged(product: Product, used: History) -> None:
    assert decide(make_pass(product), exit_at("L1-14"), used, POLICY, TARIFF, NOW) == Accepted(UNSEEN)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (local(2025, 3, 31, 4) + MAX_TRIP - SECOND, Accepted(UNSEEN)),
        (local(2025, 3, 31, 4) + MAX_TRIP + SECOND, Denied(Reason.EXPIRED, flags=UNSEEN)),
    ],
)
def test_an_unseen_entry_exit_is_allowed_one_trip_past_the_end_of_a_monthly_pass(
    now: datetime, expected: Decision
) -> None:
    monthly = make_pass(Product.MONTHLY, issued_at=local(2025, 2, 20, 9), start_date=MONTHLY_START)

    assert decide(monthly, exit_at("L1-05"), NEVER_USED, EXACT, TARIFF, now) == expected


@pytest.mark.parametrize(
    ("after_last_ride", "expected"),
    [(MAX_TRIP - SECOND, Accepted(UNSEEN)), (MAX_TRIP + SECOND, Denied(Reason.EXPIRED, flags=UNSEEN))],
)
def test_an_unseen_exit_on_an_unactivated_pass_may_come_until_its_latest_possible_ride_ends(
    after_last_ride: timedelta, expected: Decision
) -> None:
    # Bought 09:00 on 1 March: the last activation could be 09:00 on 31 March, riding until 04:00 on 1 April.
    day_pass = make_pass(Product.DAY, issued_at=local(2025, 3, 1, 9))
    now = local(2025, 4, 1, 4) + after_last_ride

    assert decide(day_pass, exit_at("L1-05"), NEVER_USED, EXACT, TARIFF, now) == expected


PASSBACK_RESET = timedelta(minutes=240)


@pytest.mark.parametrize(
    ("since_entry", "expected"),
    [
        (PASSBACK_RESET - SECOND, Denied(Reason.ALREADY_INSIDE)),
        (PASSBACK_RESET, Accepted(frozenset({Flag.EXIT_UNSEEN}))),
        (PASSBACK_RESET + SECOND, Accepted(frozenset({Flag.EXIT_UNSEEN}))),
    ],
)
@pytest.mark.parametrize("product", [Product.MONTHLY, Product.MONTHLY_STUDENT, Product.FREE_PRIORITY])
def test_an_entry_whose_exit_was_lost_stops_blocking_after_the_passback_reset(
    product: Product, since_entry: timedelta, expected: Decision
) -> None:
    used = history(entered("L1-01", NOW - since_entry))

    assert decide(make_pass(product), entry_at("L1-01"), used, POLICY, TARIFF, NOW) == expected
