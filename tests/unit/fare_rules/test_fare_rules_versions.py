from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
from fare_rules_factories import NETWORK, TARIFF, shipped

from fare_rules import DEFAULT_POLICY, DataFileError, Tariff
from fare_rules.versions import (
    MAX_POLICY_NUMBER,
    Announcement,
    AnnouncementProblem,
    RulesKind,
    Version,
    announcement_problem,
    canonical_effective,
    in_force,
    parse_document,
    policy_version_id,
    tariff_start,
    upcoming,
    with_effective_date,
)

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
JAN = datetime(2025, 1, 1, tzinfo=UTC)
FEB = datetime(2025, 2, 1, tzinfo=UTC)
APR = datetime(2025, 4, 1, tzinfo=UTC)


def version(name: str, effective_from: datetime, seq: int = 1) -> Version[Tariff]:
    return Version(Announcement(RulesKind.TARIFF, name, effective_from, seq), TARIFF, "")


def names(found: Version[Tariff] | None) -> str | None:
    return found.version if found else None


def test_the_version_in_force_is_the_latest_that_has_started() -> None:
    versions = [version("jan", JAN), version("feb", FEB, 2), version("apr", APR, 3)]

    assert names(in_force(versions, NOW)) == "feb"


def test_a_version_is_in_force_from_its_instant_exactly() -> None:
    versions = [version("jan", JAN), version("feb", FEB, 2)]

    assert names(in_force(versions, FEB)) == "feb"
    assert names(in_force(versions, FEB - timedelta(microseconds=1))) == "jan"


def test_before_the_earliest_version_none_is_in_force() -> None:
    assert in_force([version("feb", FEB)], JAN) is None
    assert in_force([], NOW) is None


def test_of_two_versions_for_the_same_instant_the_later_announcement_wins() -> None:
    versions = [version("second", FEB, seq=5), version("first", FEB, seq=2)]

    assert names(in_force(versions, NOW)) == "second"
    assert names(upcoming(versions, JAN)) == "second"


def test_a_version_announced_later_for_an_earlier_instant_fills_the_gap_until_the_next() -> None:
    versions = [version("jan", JAN, 1), version("apr", APR, 2), version("feb", FEB, 3)]

    assert names(in_force(versions, NOW)) == "feb"
    assert names(in_force(versions, APR)) == "apr"


def test_the_next_version_is_the_earliest_still_ahead() -> None:
    versions = [version("jan", JAN), version("apr", APR, 2), version("feb", FEB, 3)]

    assert names(upcoming(versions, JAN)) == "feb"
    assert names(upcoming(versions, NOW)) == "apr"
    assert upcoming(versions, APR) is None


@pytest.mark.parametrize(
    ("effective_from", "problem"),
    [
        (NOW - timedelta(days=1), AnnouncementProblem.EFFECTIVE_FROM_PAST),
        (NOW, AnnouncementProblem.EFFECTIVE_FROM_PAST),
        (NOW + timedelta(seconds=1), None),
    ],
)
def test_a_version_may_be_announced_only_ahead(
    effective_from: datetime, problem: AnnouncementProblem | None
) -> None:
    assert announcement_problem([], RulesKind.TARIFF, "v2", effective_from, NOW) == problem


def test_a_version_id_is_used_once_per_kind() -> None:
    known = [Announcement(RulesKind.TARIFF, "v2", JAN, 1)]
    later = NOW + timedelta(days=1)

    assert (
        announcement_problem(known, RulesKind.TARIFF, "v2", later, NOW) == AnnouncementProblem.VERSION_EXISTS
    )
    assert announcement_problem(known, RulesKind.POLICY, "v2", later, NOW) is None


def test_a_tariff_date_takes_effect_at_the_start_of_that_service_day() -> None:
    # 04:00 in Ho Chi Minh City is 21:00 UTC the day before.
    assert tariff_start(date(2027, 1, 1), DEFAULT_POLICY) == datetime(2026, 12, 31, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2027-01-01", datetime(2026, 12, 31, 21, 0, tzinfo=UTC)),
        ("2027-01-01T06:00:00+07:00", datetime(2026, 12, 31, 23, 0, tzinfo=UTC)),
        ("2027-01-01T06:00:00Z", datetime(2027, 1, 1, 6, 0, tzinfo=UTC)),
    ],
)
def test_an_effective_from_is_a_date_or_a_time_with_its_offset(raw: str, expected: datetime) -> None:
    assert canonical_effective(raw, DEFAULT_POLICY) == expected


@pytest.mark.parametrize("raw", ["2027-01-01T06:00:00", "tomorrow", "2027-13-01"])
def test_an_effective_from_without_offset_or_not_a_date_is_refused(raw: str) -> None:
    with pytest.raises(DataFileError):
        canonical_effective(raw, DEFAULT_POLICY)


def test_a_tariff_document_is_parsed_and_its_date_follows_the_instant_it_is_published_for() -> None:
    at = datetime(2026, 12, 31, 21, 0, tzinfo=UTC)  # 2027-01-01 04:00 local
    text = with_effective_date(
        RulesKind.TARIFF, shipped("hcmc-line1-tariff.json"), NETWORK, at, DEFAULT_POLICY
    )

    tariff, canonical = parse_document(RulesKind.TARIFF, text, NETWORK)

    assert isinstance(tariff, Tariff)
    assert tariff.effective_from == date(2027, 1, 1)
    assert json.loads(canonical)["effective_from"] == "2027-01-01"


def test_a_bad_document_is_refused_naming_its_field() -> None:
    with pytest.raises(DataFileError, match=r"policy\.max_trip_minutez"):
        parse_document(RulesKind.POLICY, '{"max_trip_minutez": 90}', NETWORK)


def test_a_policy_without_an_id_is_named_by_its_settings() -> None:
    assert policy_version_id(DEFAULT_POLICY) == policy_version_id(DEFAULT_POLICY)
    assert policy_version_id(DEFAULT_POLICY).startswith("policy-")


@pytest.mark.parametrize("setting", ["max_trip_minutes", "monthly_days", "refund_hold_minutes"])
def test_a_policy_number_too_large_to_be_meant_is_refused(setting: str) -> None:
    too_large = json.dumps({setting: MAX_POLICY_NUMBER + 1})

    with pytest.raises(DataFileError, match=setting):
        parse_document(RulesKind.POLICY, too_large, NETWORK)
    assert parse_document(RulesKind.POLICY, json.dumps({setting: 240}), NETWORK)
