"""Operator policy: every "our rule" number in one value, loaded from data so it changes without code."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

from fare_rules import _json
from fare_rules.errors import DataFileError

__all__ = [
    "DEFAULT_POLICY",
    "PLACEHOLDER_PAYEE",
    "Payee",
    "Policy",
    "load_policy",
    "policy_to_json",
    "service_date",
    "service_dates",
    "service_day",
    "service_day_of_date",
]


@dataclass(frozen=True, slots=True)
class Payee:
    """The operator's bank account that a rider's banking app pays a fare owed into (a VietQR at the gate).
    `bank_bin` is the bank's 6-digit NAPAS BIN; `name` is at most 25 ASCII characters (EMV field 59)."""

    bank_bin: str
    account: str
    name: str


# Shipped until the operator enters its own account: a gate shows a warning with every VietQR it draws.
PLACEHOLDER_PAYEE = Payee("970436", "0000000000", "METRO HCMC")


@dataclass(frozen=True, slots=True)
class Policy:
    single_validity_days: int = 30  # an unused single ticket stays valid this long after purchase
    max_trip_minutes: int = 120  # time inside the paid area on a single ticket
    same_station_exit_minutes: int = 20  # entry and exit at the same station allowed within this
    reentry_same_station_minutes: int = 2  # anti-passback: a pass re-enters the same station after this
    # An entry with no exit for this long no longer blocks the next one: the exit was most likely made at a
    # gate we have not heard from (offline), and a rider must not be locked out for good by a lost event.
    passback_reset_minutes: int = 240
    pass_activation_days: int = 30  # a day or 3-day pass must be first used within this
    monthly_days: int = 30
    service_day_start: time = time(4, 0)
    utc_offset_hours: int = 7  # Asia/Ho_Chi_Minh, no DST
    clock_tolerance_seconds: int = 120  # grace at validity edges
    max_clock_offset_seconds: int = 300  # beyond this the gate clock is suspect
    max_list_age_seconds: int = 6 * 3600  # lists older than this make decisions flagged stale
    refunds_allowed: bool = False  # HCMC singles are non-refundable; an operator may allow it
    refund_fee_vnd: int = 0
    # A refund is final (the money may go back) only this long after it is asked for. The ticket is revoked at
    # once, but a gate offline at the time may have let it ride: a use uploaded within the hold withdraws the
    # refund; one uploaded later is a used_after_refund anomaly.
    refund_hold_minutes: int = 24 * 60
    order_expiry_minutes: int = 15
    # Audits: no train covers a station-to-station segment faster than this, so a pass seen at two
    # stations closer in time than hops x this was carried by two people (or the clocks are wrong).
    min_seconds_per_hop: int = 90
    # A new issuer key is published this long before it signs, so every gate that syncs within it holds the
    # key before the first ticket it signed is shown there (a gate offline longer refuses it unknown_key).
    key_lead_hours: int = 48
    # Free riders (resolution 29/2024): from this age, by the birth date on the CCCD card, on the local date.
    free_age_years: int = 60
    # Where a fare owed settled by VietQR at the gate goes; null: gates settle in cash only.
    settlement_payee: Payee | None = PLACEHOLDER_PAYEE

    @property
    def local_tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))


DEFAULT_POLICY = Policy()

_MAX_UTC_OFFSET_HOURS = 14


def load_policy(text: str) -> Policy:
    """Parse a policy file (JSON object of field -> value over the defaults). DataFileError on bad data.

    Unknown keys are refused rather than ignored: a misspelt rule would otherwise silently keep its default.
    """
    data = _json.parse_object(text, "policy")
    kinds = {f.name: f.type for f in dataclasses.fields(Policy)}  # annotations are strings here
    overrides: dict[str, Any] = {}
    for key, value in data.items():
        if key not in kinds:
            raise DataFileError(f"policy.{key}: not a policy setting")
        overrides[key] = _setting(key, value, str(kinds[key]))
    return dataclasses.replace(DEFAULT_POLICY, **overrides)


def _setting(key: str, value: object, kind: str) -> int | bool | time | Payee | None:
    where = f"policy.{key}"
    if kind == "Payee | None":
        return None if value is None else _payee(_json.check(value, dict, where), where)
    if kind == "bool":
        return _json.check(value, bool, where)
    if kind == "time":
        return _parse_hh_mm(_json.check(value, str, where), where)
    number = _json.check(value, int, where)
    if key == "utc_offset_hours":
        if abs(number) > _MAX_UTC_OFFSET_HOURS:
            raise DataFileError(f"{where}: {number} is not a UTC offset")
    elif number < 0:
        raise DataFileError(f"{where}: must not be negative")
    return number


def _payee(block: dict[str, Any], where: str) -> Payee:
    unknown = sorted(set(block) - {"bank_bin", "account", "name"})
    if unknown:
        raise DataFileError(f"{where}.{unknown[0]}: not a payee field")
    payee = Payee(*(_json.field(block, k, str, where) for k in ("bank_bin", "account", "name")))
    if not (len(payee.bank_bin) == 6 and payee.bank_bin.isascii() and payee.bank_bin.isdigit()):
        raise DataFileError(f"{where}.bank_bin: 6 digits expected")
    if not (payee.account.isascii() and payee.account.isalnum() and len(payee.account) <= 19):
        raise DataFileError(f"{where}.account: 1 to 19 letters or digits expected")
    if not (payee.name.isascii() and payee.name.isprintable() and 0 < len(payee.name) <= 25):
        raise DataFileError(f"{where}.name: 1 to 25 printable ASCII characters expected")
    return payee


def _parse_hh_mm(text: str, where: str) -> time:
    hours, sep, minutes = text.partition(":")
    if not (sep and len(hours) == 2 and len(minutes) == 2 and hours.isdigit() and minutes.isdigit()):
        raise DataFileError(f"{where}: {text!r} is not HH:MM")
    try:
        return time(int(hours), int(minutes))
    except ValueError:
        raise DataFileError(f"{where}: {text!r} is not a time of day") from None


def policy_to_json(policy: Policy) -> str:
    """Every setting of `policy` as a policy file (what load_policy reads back)."""
    data: dict[str, object] = {}
    for f in dataclasses.fields(policy):
        value = getattr(policy, f.name)
        if isinstance(value, Payee):
            value = dataclasses.asdict(value)
        data[f.name] = value.strftime("%H:%M") if isinstance(value, time) else value
    return json.dumps(data, indent=2) + "\n"


def service_day(at: datetime, policy: Policy) -> datetime:
    """The start (aware UTC) of the service day that `at` falls in (04:00 local to 03:59 the next day)."""
    if at.tzinfo is None:
        raise ValueError("service_day needs an aware datetime")  # a naive one would read the host's zone
    local = at.astimezone(policy.local_tz)
    start = service_day_of_date(local.date(), policy)
    return start if start <= at else start - timedelta(days=1)


def service_date(at: datetime, policy: Policy) -> date:
    """The local date that names the service day `at` falls in: before 04:00 it is still yesterday's."""
    return service_day(at, policy).astimezone(policy.local_tz).date()


def service_dates(start: datetime, end: datetime, policy: Policy) -> tuple[date, date]:
    """The local dates of the first and the last service day of a validity from `start` to `end` (its end
    excluded): the days riders and staff name, e.g. 2026-12-03 to 2027-01-01 for a monthly pass of 30."""
    first = service_date(start, policy)
    last = service_date(end - timedelta(microseconds=1), policy)
    return first, max(first, last)


def service_day_of_date(day: date, policy: Policy) -> datetime:
    """The start (aware UTC) of the service day named by a local date, e.g. a monthly pass's start date."""
    local_start = datetime.combine(day, policy.service_day_start, tzinfo=policy.local_tz)
    return local_start.astimezone(UTC)
