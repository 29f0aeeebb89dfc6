from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time

import pytest
from fare_rules_factories import SECOND, local, shipped

from fare_rules import DEFAULT_POLICY, DataFileError, load_policy, policy_to_json, service_date, service_day


def test_the_shipped_policy_file_holds_the_defaults() -> None:
    assert load_policy(shipped("policy.json")) == DEFAULT_POLICY
    assert shipped("policy.json") == policy_to_json(DEFAULT_POLICY)


def test_a_policy_file_overrides_only_what_it_names() -> None:
    policy = load_policy('{"max_trip_minutes": 90, "refunds_allowed": true, "service_day_start": "03:30"}')

    expected = replace(
        DEFAULT_POLICY, max_trip_minutes=90, refunds_allowed=True, service_day_start=time(3, 30)
    )
    assert policy == expected


def test_an_empty_policy_file_is_the_default_policy() -> None:
    assert load_policy("{}") == DEFAULT_POLICY


def test_a_policy_round_trips_through_json() -> None:
    policy = replace(DEFAULT_POLICY, service_day_start=time(5, 15), utc_offset_hours=-3, refund_fee_vnd=2_000)

    assert load_policy(policy_to_json(policy)) == policy


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[1]", "top level"),
        ('{"max_trip_minute": 90}', "policy.max_trip_minute"),
        ('{"max_trip_minutes": "90"}', "policy.max_trip_minutes"),
        ('{"max_trip_minutes": 90.5}', "policy.max_trip_minutes"),
        ('{"max_trip_minutes": true}', "policy.max_trip_minutes"),
        ('{"max_trip_minutes": -1}', "policy.max_trip_minutes"),
        ('{"refunds_allowed": 1}', "policy.refunds_allowed"),
        ('{"service_day_start": "4:00"}', "policy.service_day_start"),
        ('{"service_day_start": "24:00"}', "policy.service_day_start"),
        ('{"service_day_start": 400}', "policy.service_day_start"),
        ('{"utc_offset_hours": 15}', "policy.utc_offset_hours"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_field(text: str, field: str) -> None:
    with pytest.raises(DataFileError, match=field):
        load_policy(text)


@pytest.mark.parametrize(
    ("at", "day_start"),
    [
        (local(2025, 3, 10, 4, 0, 0), local(2025, 3, 10, 4)),
        (local(2025, 3, 10, 4, 0, 0) - SECOND, local(2025, 3, 9, 4)),
        (local(2025, 3, 10, 4, 0, 0) + SECOND, local(2025, 3, 10, 4)),
        (local(2025, 3, 10, 23, 59, 59), local(2025, 3, 10, 4)),
        (local(2025, 3, 11, 0, 0, 0), local(2025, 3, 10, 4)),
        (local(2025, 1, 1, 2, 0, 0), local(2024, 12, 31, 4)),  # across a year end
    ],
)
def test_a_service_day_runs_from_04_00_to_03_59_local_time(at: datetime, day_start: datetime) -> None:
    assert service_day(at, DEFAULT_POLICY) == day_start
    assert day_start.tzinfo == UTC


@pytest.mark.parametrize(
    ("at", "named"),
    [
        (local(2025, 3, 10, 3, 29, 0), date(2025, 3, 9)),  # staff at work before the first train
        (local(2025, 3, 10, 4, 0, 0), date(2025, 3, 10)),
        (local(2025, 3, 10, 23, 0, 0), date(2025, 3, 10)),
    ],
)
def test_a_moment_is_named_by_the_local_date_of_its_service_day(at: datetime, named: date) -> None:
    assert service_date(at, DEFAULT_POLICY) == named


def test_service_day_refuses_a_naive_datetime_rather_than_guess_the_host_zone() -> None:
    with pytest.raises(ValueError, match="aware"):
        service_day(datetime(2025, 3, 10, 10, 0), DEFAULT_POLICY)
