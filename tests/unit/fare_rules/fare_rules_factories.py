"""Shared by the fare_rules unit tests: the shipped data, a fixed NOW and small factories with defaults."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from importlib import resources

from fare_rules import (
    DEFAULT_POLICY,
    Credential,
    Direction,
    History,
    Product,
    Reason,
    Scan,
    Use,
    load_network,
    load_tariff,
    validity_window,
)


def shipped(name: str) -> str:
    """A data file shipped inside the package (read-only package data, not the gate's disk)."""
    return resources.files("fare_rules.data").joinpath(name).read_text(encoding="utf-8")


NOW = datetime(2025, 3, 10, 3, 0, tzinfo=UTC)  # 10:00 in Ho Chi Minh City, mid service day
SECOND = timedelta(seconds=1)
POLICY = DEFAULT_POLICY
EXACT = replace(DEFAULT_POLICY, clock_tolerance_seconds=0)  # validity edges without the clock tolerance
TOLERANCE = timedelta(seconds=POLICY.clock_tolerance_seconds)
NETWORK = load_network(shipped("hcmc-line1.json"))
TARIFF = load_tariff(shipped("hcmc-line1-tariff.json"), NETWORK)
CODES = tuple(s.code for s in NETWORK.stations)


def local(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An aware UTC datetime from a Ho Chi Minh City wall-clock time (UTC+7)."""
    return datetime(year, month, day, hour, minute, second, tzinfo=POLICY.local_tz).astimezone(UTC)


def fare(origin: str, destination: str) -> int:
    return TARIFF.single_fare(origin, destination)


def make_single(
    origin: str = "L1-01",
    destination: str = "L1-05",
    issued_at: datetime = NOW - timedelta(hours=1),
    fare_vnd: int | None = None,
) -> Credential:
    valid_from, valid_until = validity_window(Product.SINGLE, issued_at, POLICY)
    return Credential(
        id="T-1",
        product=Product.SINGLE,
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        fare_vnd=fare(origin, destination) if fare_vnd is None else fare_vnd,
        origin=origin,
        destination=destination,
    )


def make_pass(
    product: Product = Product.MONTHLY,
    issued_at: datetime = NOW - timedelta(days=1),
    start_date: date | None = None,
    eligibility_verified: bool = True,
) -> Credential:
    valid_from, valid_until = validity_window(product, issued_at, POLICY, start_date)
    return Credential(
        id="P-1",
        product=product,
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
        eligibility_verified=eligibility_verified,
    )


def entry_at(station: str) -> Scan:
    return Scan(station, Direction.ENTRY, gate="G1")


def exit_at(station: str) -> Scan:
    return Scan(station, Direction.EXIT, gate="G1")


def entered(station: str, at: datetime) -> Use:
    return Use(station, Direction.ENTRY, at)


def exited(station: str, at: datetime) -> Use:
    return Use(station, Direction.EXIT, at)


def history(*uses: Use, revoked: Reason | None = None) -> History:
    return History(uses=uses, revoked=revoked)


def inside_since(station: str = "L1-01", minutes: float = 20, now: datetime = NOW) -> History:
    """The credential entered at `station` that many minutes before `now`, and has not exited."""
    return history(entered(station, now - timedelta(minutes=minutes)))


NEVER_USED = History()
