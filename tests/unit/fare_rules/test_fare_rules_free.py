"""Free riders: the age rule on the card's birth date, registry entries, and how a free ride is decided."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from fare_rules_factories import NOW, POLICY, SECOND, TARIFF, TOLERANCE, local, shipped

from fare_rules import Accepted, Denied, Direction, Flag, History, Product, Reason, Scan, Use, load_policy
from fare_rules.free import (
    FreeCategory,
    FreeEntry,
    age_on,
    category_message,
    decide_free,
    free_ride,
    is_of_free_age,
    registry_window,
    senior_credential_id,
)

HOLDER = bytes(range(16))
YOUNG = date(1990, 5, 1)
OLD = date(1950, 5, 1)
ENTRY_AT = Scan("L1-01", Direction.ENTRY)
EXIT_AT = Scan("L1-05", Direction.EXIT)


def make_entry(
    first: date = date(2025, 3, 1),
    last: date = date(2025, 12, 31),
    category: FreeCategory = FreeCategory.DISABILITY,
    *,
    ended: bool = False,
    entry_id: str = "fr_1",
) -> FreeEntry:
    valid_from, valid_until = registry_window(first, last, POLICY)
    return FreeEntry(entry_id, category, valid_from, valid_until, ended)


@pytest.mark.parametrize(
    ("birth", "day", "age"),
    [
        (date(1965, 3, 10), date(2025, 3, 10), 60),  # the birthday itself
        (date(1965, 3, 11), date(2025, 3, 10), 59),  # the day before it
        (date(1965, 3, 9), date(2025, 3, 10), 60),
        (date(1964, 2, 29), date(2024, 2, 29), 60),  # a leap-day birthday in a leap year
        (date(1964, 2, 29), date(2025, 2, 28), 60),  # 61st birthday not reached on 28 February
        (date(1964, 2, 29), date(2025, 3, 1), 61),  # reached on 1 March in a year without 29 February
        (date(1964, 2, 29), date(2023, 2, 28), 58),
    ],
)
def test_age_counts_full_years_and_a_leap_day_birthday_comes_on_the_first_of_march(
    birth: date, day: date, age: int
) -> None:
    assert age_on(birth, day) == age


def test_a_rider_is_of_free_age_from_the_local_midnight_of_the_sixtieth_birthday() -> None:
    birth = date(1965, 3, 10)

    assert is_of_free_age(birth, local(2025, 3, 10, 0, 0), POLICY)
    assert not is_of_free_age(birth, local(2025, 3, 10, 0, 0) - SECOND, POLICY)


def test_the_local_date_not_the_utc_date_decides_the_birthday() -> None:
    # 23:30 UTC on 9 March is 06:30 on 10 March in Ho Chi Minh City.
    at = datetime.fromisoformat("2025-03-09T23:30:00+00:00")

    assert is_of_free_age(date(1965, 3, 10), at, POLICY)


def test_the_free_age_threshold_comes_from_the_policy() -> None:
    birth = date(1960, 1, 1)
    later = replace(POLICY, free_age_years=70)

    assert is_of_free_age(birth, NOW, POLICY)
    assert not is_of_free_age(birth, NOW, later)
    assert load_policy(shipped("policy.json")).free_age_years == 60


def test_a_card_of_free_age_rides_free_as_a_senior_flagged_compare_card() -> None:
    ride = free_ride([], OLD, HOLDER, NOW, POLICY)

    assert ride is not None
    assert ride.category is FreeCategory.SENIOR
    assert ride.credential.id == senior_credential_id(HOLDER)
    assert ride.credential.product is Product.FREE_PRIORITY
    assert decide_free(ride, ENTRY_AT, History(), POLICY, TARIFF, NOW) == Accepted(
        frozenset({Flag.COMPARE_CARD})
    )


def test_a_card_under_the_free_age_with_no_entry_has_no_free_ride() -> None:
    assert free_ride([], YOUNG, HOLDER, NOW, POLICY) is None


def test_the_senior_identity_holds_no_part_of_the_number_and_fits_a_pass_id() -> None:
    credential_id = senior_credential_id(HOLDER)

    assert len(credential_id) <= 32
    assert credential_id == "senior-" + HOLDER[:12].hex()


def test_a_registry_entry_valid_now_rides_free_in_its_category() -> None:
    ride = free_ride([make_entry()], YOUNG, HOLDER, NOW, POLICY)

    assert ride is not None
    assert ride.category is FreeCategory.DISABILITY
    assert ride.credential.id == "fr_1"
    assert decide_free(ride, ENTRY_AT, History(), POLICY, TARIFF, NOW) == Accepted()


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (make_entry(last=date(2025, 3, 9)), Reason.FREE_RIDER_EXPIRED),
        (make_entry(first=date(2025, 3, 11)), Reason.FREE_RIDER_NOT_YET_VALID),
        (make_entry(ended=True), Reason.FREE_RIDER_ENDED),
    ],
    ids=["expired", "not_yet_valid", "ended"],
)
def test_an_entry_that_does_not_ride_now_is_refused_with_its_own_reason(
    entry: FreeEntry, reason: Reason
) -> None:
    ride = free_ride([entry], YOUNG, HOLDER, NOW, POLICY)

    assert ride is not None
    assert decide_free(ride, ENTRY_AT, History(), POLICY, TARIFF, NOW) == Denied(reason)


def test_an_entry_rides_to_the_end_of_its_last_service_day() -> None:
    entry = make_entry(last=date(2025, 3, 10))
    last_moment = local(2025, 3, 11, 4) - SECOND  # 03:59:59 the next morning ends the service day

    ride = free_ride([entry], YOUNG, HOLDER, last_moment, POLICY)

    assert ride is not None
    assert decide_free(ride, ENTRY_AT, History(), POLICY, TARIFF, last_moment) == Accepted()
    late = last_moment + TOLERANCE + 2 * SECOND
    refused = decide_free(ride, ENTRY_AT, History(), POLICY, TARIFF, late)
    assert refused == Denied(Reason.FREE_RIDER_EXPIRED)


def test_a_senior_whose_entry_lapsed_still_rides_free_by_age() -> None:
    ride = free_ride([make_entry(last=date(2025, 3, 1))], OLD, HOLDER, NOW, POLICY)

    assert ride is not None
    assert ride.category is FreeCategory.SENIOR


def test_a_usable_entry_comes_before_the_age_rule_and_an_ended_one_does_not_ride() -> None:
    entries = [
        make_entry(ended=True, entry_id="fr_old", category=FreeCategory.REVOLUTIONARY_MERIT),
        make_entry(entry_id="fr_new"),
    ]

    ride = free_ride(entries, OLD, HOLDER, NOW, POLICY)

    assert ride is not None
    assert (ride.credential.id, ride.category) == ("fr_new", FreeCategory.DISABILITY)


def test_of_lapsed_entries_the_refusal_names_the_most_recently_expired() -> None:
    entries = [
        make_entry(first=date(2024, 1, 1), last=date(2024, 6, 30), entry_id="fr_a"),
        make_entry(first=date(2024, 7, 1), last=date(2025, 3, 1), entry_id="fr_b"),
    ]

    ride = free_ride(entries, YOUNG, HOLDER, NOW, POLICY)

    assert ride is not None
    assert ride.credential.id == "fr_b"


def test_a_free_ride_keeps_anti_passback_and_lets_out_whoever_entered() -> None:
    ride = free_ride([], OLD, HOLDER, NOW, POLICY)
    assert ride is not None
    inside = History((Use("L1-01", Direction.ENTRY, NOW - timedelta(minutes=5)),))

    again = decide_free(ride, ENTRY_AT, inside, POLICY, TARIFF, NOW)
    out = decide_free(ride, EXIT_AT, inside, POLICY, TARIFF, NOW)

    assert again == Denied(Reason.ALREADY_INSIDE, flags=frozenset({Flag.COMPARE_CARD}))
    assert out == Accepted(frozenset({Flag.COMPARE_CARD}))


def test_every_category_has_vietnamese_and_english_text() -> None:
    for category in FreeCategory:
        message = category_message(category)
        assert message.vi
        assert message.en
