"""Operator policy: every "our rule" number in one value, loaded from data so it changes without code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

__all__ = ["DEFAULT_POLICY", "Policy", "load_policy", "service_day"]


@dataclass(frozen=True, slots=True)
class Policy:
    single_validity_days: int = 30  # an unused single ticket stays valid this long after purchase
    max_trip_minutes: int = 120  # time inside the paid area on a single ticket
    same_station_exit_minutes: int = 20  # entry and exit at the same station allowed within this
    reentry_same_station_minutes: int = 2  # anti-passback: a pass re-enters the same station after this
    pass_activation_days: int = 30  # a day or 3-day pass must be first used within this
    monthly_days: int = 30
    service_day_start: time = time(4, 0)
    utc_offset_hours: int = 7  # Asia/Ho_Chi_Minh, no DST
    clock_tolerance_seconds: int = 120  # grace at validity edges
    max_clock_offset_seconds: int = 300  # beyond this the gate clock is suspect
    max_list_age_seconds: int = 6 * 3600  # lists older than this make decisions flagged stale
    refunds_allowed: bool = False  # HCMC singles are non-refundable; an operator may allow it
    refund_fee_vnd: int = 0
    order_expiry_minutes: int = 15

    @property
    def local_tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))


DEFAULT_POLICY = Policy()


def load_policy(text: str) -> Policy:
    """Parse a policy file (JSON object of field -> value over the defaults). DataFileError on bad data."""
    raise NotImplementedError


def service_day(at: datetime, policy: Policy) -> datetime:
    """The start (aware UTC datetime) of the service day that `at` falls in (04:00 local to 03:59 next day)."""
    raise NotImplementedError
