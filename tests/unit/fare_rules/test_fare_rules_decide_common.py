"""Rules every credential shares (revocation, stations), the gate's own flags, and properties of decide()."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fare_rules_factories import (
    CODES,
    NEVER_USED,
    NOW,
    POLICY,
    TARIFF,
    entry_at,
    exit_at,
    history,
    inside_since,
    make_pass,
    make_single,
)
from hypothesis import given
from hypothesis import strategies as st

import fare_rules
from fare_rules import (
    Accepted,
    Credential,
    Decision,
    Denied,
    Direction,
    Flag,
    Product,
    Reason,
    Scan,
    Use,
    decide,
    gate_flags,
    message_for,
    with_flags,
)

SOME_CREDENTIALS = [
    make_single(),
    make_pass(Product.DAY),
    make_pass(Product.MONTHLY),
    make_pass(Product.MONTHLY_STUDENT, eligibility_verified=False),
]


@pytest.mark.parametrize("credential", SOME_CREDENTIALS, ids=lambda c: c.product.value)
@pytest.mark.parametrize("scan", [entry_at("L1-01"), exit_at("L1-05"), entry_at("L2-01")])
@pytest.mark.parametrize("why", [Reason.REVOKED, Reason.REFUNDED, Reason.REVOKED_DOUBLE_USE])
def test_a_revoked_credential_is_refused_for_its_cause_before_anything_else(
    credential: Credential, scan: Scan, why: Reason
) -> None:
    assert decide(credential, scan, history(revoked=why), POLICY, TARIFF, NOW) == Denied(why)


@pytest.mark.parametrize("credential", SOME_CREDENTIALS[:3], ids=lambda c: c.product.value)
@pytest.mark.parametrize("scan", [entry_at("L2-01"), exit_at("")])
def test_a_scan_at_a_station_the_tariff_does_not_know_is_refused(credential: Credential, scan: Scan) -> None:
    assert decide(credential, scan, NEVER_USED, POLICY, TARIFF, NOW) == Denied(Reason.UNKNOWN_STATION)


def test_a_single_whose_origin_the_tariff_no_longer_prices_is_refused_as_an_unknown_station() -> None:
    stranded = replace(make_single(), origin="L0-00")

    assert decide(stranded, exit_at("L1-05"), NEVER_USED, POLICY, TARIFF, NOW) == Denied(
        Reason.UNKNOWN_STATION
    )


HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("last_sync", "offset", "expected"),
    [
        (NOW - HOUR, 0.0, set()),
        (NOW - 6 * HOUR, 300.0, set()),
        (NOW - 6 * HOUR + timedelta(seconds=-1), -300.0, {Flag.STALE_LISTS}),
        (NOW - 6 * HOUR, 301.0, {Flag.CLOCK_SUSPECT}),
        (NOW - HOUR, -301.0, {Flag.CLOCK_SUSPECT}),
        (None, 0.0, {Flag.STALE_LISTS}),
        (NOW - HOUR, None, {Flag.CLOCK_SUSPECT}),
        (None, None, {Flag.STALE_LISTS, Flag.CLOCK_SUSPECT}),
    ],
)
def test_a_gate_flags_stale_lists_and_a_suspect_clock(
    last_sync: datetime | None, offset: float | None, expected: set[Flag]
) -> None:
    assert gate_flags(NOW, last_sync, offset, POLICY) == expected


@pytest.mark.parametrize(
    ("decision", "expected"),
    [
        (
            Accepted(frozenset({Flag.ENTRY_UNSEEN})),
            Accepted(frozenset({Flag.ENTRY_UNSEEN, Flag.STALE_LISTS})),
        ),
        (
            Denied(Reason.FARE_EXCEEDED, 2_000),
            Denied(Reason.FARE_EXCEEDED, 2_000, frozenset({Flag.STALE_LISTS})),
        ),
    ],
)
def test_gate_flags_are_added_to_a_decision_keeping_its_own(decision: Decision, expected: Decision) -> None:
    assert with_flags(decision, frozenset({Flag.STALE_LISTS})) == expected


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_a_vietnamese_and_an_english_message(reason: Reason) -> None:
    message = message_for(reason)

    assert message.vi.strip()
    assert message.en.strip()
    assert message.vi != message.en


def test_the_public_api_is_what_other_packages_import() -> None:
    expected = {
        "Accepted", "Credential", "DEFAULT_POLICY", "Decision", "Denied", "Direction", "Flag", "History",
        "Message", "Network", "PaymentMethod", "Policy", "Product", "Quote", "Reason", "Scan", "Station",
        "Tariff", "Use", "decide", "errors", "gate_flags", "generate_default_tariff", "load_network",
        "load_policy", "load_tariff", "message_for", "quote", "service_day",
    }  # fmt: skip

    assert expected <= set(fare_rules.__all__)
    assert all(hasattr(fare_rules, name) for name in fare_rules.__all__)
    assert "cccd" not in fare_rules.__all__


# --- properties

TIMES = st.datetimes(
    min_value=datetime(2025, 1, 1),
    max_value=datetime(2025, 12, 31),
    timezones=st.just(UTC),
)
STATIONS = st.sampled_from([*CODES, "L2-01"])
USES = st.builds(Use, STATIONS, st.sampled_from(Direction), TIMES)


@st.composite
def credentials(draw: st.DrawFn) -> Credential:
    product = draw(st.sampled_from(Product))
    issued_at = draw(TIMES)
    origin, destination = draw(STATIONS), draw(STATIONS)
    return Credential(
        id="H",
        product=product,
        issued_at=issued_at,
        valid_from=issued_at,
        valid_until=issued_at + timedelta(days=draw(st.integers(0, 31))),
        fare_vnd=draw(st.integers(0, 25_000)),
        origin=origin if product == Product.SINGLE else None,
        destination=destination if product == Product.SINGLE else None,
        eligibility_verified=draw(st.booleans()),
    )


@given(
    credential=credentials(),
    scan=st.builds(Scan, STATIONS, st.sampled_from(Direction)),
    uses=st.lists(USES, max_size=4).map(lambda u: tuple(sorted(u, key=lambda x: x.at))),
    revoked=st.sampled_from([None, Reason.REVOKED, Reason.REFUNDED]),
    now=TIMES,
)
def test_decide_always_returns_a_decision_and_owes_money_only_for_the_fare(
    credential: Credential, scan: Scan, uses: tuple[Use, ...], revoked: Reason | None, now: datetime
) -> None:
    decision = decide(credential, scan, history(*uses, revoked=revoked), POLICY, TARIFF, now)

    assert isinstance(decision, Accepted | Denied)
    if isinstance(decision, Denied):
        assert (decision.owed_vnd > 0) == (decision.reason == Reason.FARE_EXCEEDED)


@given(origin=st.sampled_from(CODES), destination=st.sampled_from(CODES), minutes=st.integers(0, 119))
def test_a_fully_paid_single_trip_within_the_time_limit_always_exits(
    origin: str, destination: str, minutes: int
) -> None:
    if origin == destination:
        return
    ticket = make_single(origin, destination)

    assert (
        decide(ticket, exit_at(destination), inside_since(origin, minutes), POLICY, TARIFF, NOW) == Accepted()
    )
