"""The rules of use: decide one scan from plain values. Pure: the same inputs give the same decision.

Semantics, where domain.md leaves a choice to us (each also noted at the code that does it):

- Checks run in this order: revoked; student pass not yet verified; scan station not in the tariff; then the
  product's own rules.
- Validity windows are inclusive at both ends and stretched by `Policy.clock_tolerance_seconds` on each
  side; a scan admitted only thanks to the stretch carries `Flag.WITHIN_TOLERANCE`. Time limits inside the
  paid area (trip time, same-station exit, re-entry) are exact: they compare two recorded instants.
- Single ticket: `valid_from..valid_until` bounds the *entry*. An exit with a known entry checks only time
  inside and fare; an exit whose entry is unseen checks only the fare and is allowed until `valid_until` plus
  one maximum trip. Any recorded exit spends the ticket.
- Passes: `history.uses` are accepted passages, so the first of them activated a day or 3-day pass (an exit
  stands in for an activating entry this gate never saw). An exit right after a known entry is always let out;
  an exit with its entry unseen is allowed until the end of the ride period plus one maximum trip.
  On entry the dates are checked before anti-passback ("expired" is what an expired pass's holder must hear);
  on a single the state is checked first ("already used" or "already inside" before "expired").
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from fare_rules.model import Accepted, Credential, Decision, Denied, Direction, Flag, History, Scan, Use
from fare_rules.policy import Policy, service_day, service_day_of_date
from fare_rules.products import Product
from fare_rules.reasons import Reason
from fare_rules.tariff import Tariff

__all__ = ["decide", "gate_flags", "lists_stale", "rides_until", "validity_window", "with_flags"]

# Service days a day or 3-day pass runs for once activated.
_ACTIVATED_DAYS = {Product.DAY: 1, Product.THREE_DAY: 3}
_NO_FLAGS: frozenset[Flag] = frozenset()
_UNSEEN = frozenset({Flag.ENTRY_UNSEEN})


def decide(  # noqa: PLR0917 - the contract others code against; every input is passed in
    credential: Credential, scan: Scan, history: History, policy: Policy, tariff: Tariff, now: datetime
) -> Decision:
    """Decide one scan. `now` is the gate's (aware) clock; `history` holds the credential's accepted uses."""
    if history.revoked is not None:
        return Denied(history.revoked)
    if credential.product == Product.MONTHLY_STUDENT and not credential.eligibility_verified:
        return Denied(Reason.PENDING_VERIFICATION)
    if scan.station not in tariff.stations:
        return Denied(Reason.UNKNOWN_STATION)
    if credential.product == Product.SINGLE:
        return _decide_single(credential, scan, history.uses, policy=policy, tariff=tariff, now=now)
    if scan.direction == Direction.ENTRY:
        return _pass_entry(credential, scan, history.uses, policy, now)
    return _pass_exit(credential, history.uses, policy, now)


def gate_flags(
    now: datetime, last_sync: datetime | None, clock_offset_seconds: float | None, policy: Policy
) -> frozenset[Flag]:
    """Flags every decision of a gate carries: lists too old (STALE_LISTS), clock too far off (CLOCK_SUSPECT).

    A gate that never synced, or never measured its offset, counts as stale and suspect: unknown is not fine.
    """
    flags: set[Flag] = set()
    if lists_stale(now, last_sync, policy):
        flags.add(Flag.STALE_LISTS)
    if clock_offset_seconds is None or abs(clock_offset_seconds) > policy.max_clock_offset_seconds:
        flags.add(Flag.CLOCK_SUSPECT)
    return frozenset(flags)


def lists_stale(now: datetime, lists_as_of: datetime | None, policy: Policy) -> bool:
    """Whether lists synced at `lists_as_of` (the oldest of them; None: one never synced) are older than the
    policy allows at `now`: what a gate flags its decisions STALE_LISTS by, and gate health judges it by."""
    return lists_as_of is None or now - lists_as_of > timedelta(seconds=policy.max_list_age_seconds)


def with_flags(decision: Decision, flags: frozenset[Flag]) -> Decision:
    """`decision` with `flags` added, e.g. the gate's own flags from gate_flags()."""
    if isinstance(decision, Accepted):
        return Accepted(decision.flags | flags)
    return Denied(decision.reason, decision.owed_vnd, decision.flags | flags)


def validity_window(
    product: Product, issued_at: datetime, policy: Policy, start_date: date | None = None
) -> tuple[datetime, datetime]:
    """The `valid_from`, `valid_until` an issuer should sign, so issuer and gates read the policy alike.

    Single: 30 days to enter. Day and 3-day passes: the activation window. Monthly and priority passes:
    30 days from the start of the service day of `start_date` (default: the service day of purchase).
    """
    if product == Product.SINGLE:
        return issued_at, issued_at + timedelta(days=policy.single_validity_days)
    if product in _ACTIVATED_DAYS:
        return issued_at, issued_at + timedelta(days=policy.pass_activation_days)
    start = service_day(issued_at, policy) if start_date is None else service_day_of_date(start_date, policy)
    return start, start + timedelta(days=policy.monthly_days)


# --- single tickets


def _decide_single(
    credential: Credential,
    scan: Scan,
    uses: tuple[Use, ...],
    *,
    policy: Policy,
    tariff: Tariff,
    now: datetime,
) -> Decision:
    if credential.origin not in tariff.stations:
        return Denied(Reason.UNKNOWN_STATION)  # a tariff that no longer prices the ticket's origin
    if _last(uses, Direction.EXIT) is not None:
        return Denied(Reason.ALREADY_USED)
    entry = _last(uses, Direction.ENTRY)
    if scan.direction == Direction.ENTRY:
        return _single_entry(credential, scan, entry, policy, now)
    if entry is None:
        return _single_exit_unseen(credential, scan, policy, tariff, now)
    return _single_exit(credential, scan, entry, policy=policy, tariff=tariff, now=now)


def _single_entry(
    credential: Credential, scan: Scan, entry: Use | None, policy: Policy, now: datetime
) -> Decision:
    # The ticket's state comes before its dates: "already inside" tells staff more than "expired".
    if entry is not None:
        return Denied(Reason.ALREADY_INSIDE)
    checked = _window(now, credential.valid_from, credential.valid_until, policy)
    if isinstance(checked, Denied):
        return checked
    if scan.station != credential.origin:
        return Denied(Reason.WRONG_STATION)
    return Accepted(checked)


def _single_exit(
    credential: Credential, scan: Scan, entry: Use, *, policy: Policy, tariff: Tariff, now: datetime
) -> Decision:
    inside = now - entry.at
    if scan.station == entry.station:
        if inside <= timedelta(minutes=policy.same_station_exit_minutes):
            return Accepted()
        return Denied(Reason.SAME_STATION_TIME_EXCEEDED)
    if inside > timedelta(minutes=policy.max_trip_minutes):
        return Denied(Reason.TRIP_TIME_EXCEEDED)
    return _fare_check(credential, scan.station, tariff, _NO_FLAGS)


def _single_exit_unseen(
    credential: Credential, scan: Scan, policy: Policy, tariff: Tariff, now: datetime
) -> Decision:
    # The unseen entry was at the latest at valid_until, so its exit may come up to one maximum trip later.
    latest = credential.valid_until + timedelta(minutes=policy.max_trip_minutes)
    checked = _window(now, credential.valid_from, latest, policy)
    if isinstance(checked, Denied):
        return Denied(checked.reason, flags=_UNSEEN)
    return _fare_check(credential, scan.station, tariff, checked | _UNSEEN)


def _fare_check(credential: Credential, station: str, tariff: Tariff, flags: frozenset[Flag]) -> Decision:
    """Exit where the fare paid covers the cashless fare from the origin; else deny with the difference."""
    origin = credential.origin
    fare = 0 if origin is None or origin == station else tariff.single_fare(origin, station)
    owed = fare - credential.fare_vnd
    if owed > 0:
        return Denied(Reason.FARE_EXCEEDED, owed_vnd=owed, flags=flags)
    return Accepted(flags)


# --- passes


def _pass_entry(
    credential: Credential, scan: Scan, uses: tuple[Use, ...], policy: Policy, now: datetime
) -> Decision:
    start, end = _ride_window(credential, uses, policy)
    checked = _window(now, start, end, policy)
    if isinstance(checked, Denied):
        return checked
    refused = _passback(scan, uses, policy, now)
    if isinstance(refused, Denied):
        return refused
    checked |= refused
    if credential.product in _ACTIVATED_DAYS and not uses:
        checked |= {Flag.ACTIVATED}
    return Accepted(checked)


def _pass_exit(credential: Credential, uses: tuple[Use, ...], policy: Policy, now: datetime) -> Decision:
    # Let out whoever we let in: passes have no fare or time limit inside, and the entry was valid.
    if uses and uses[-1].direction == Direction.ENTRY:
        return Accepted()
    start, end = _ride_window(credential, uses, policy)
    days = _ACTIVATED_DAYS.get(credential.product)
    if days is not None and not uses:
        # Activated out of sight, at the latest at the end of its activation window.
        end = service_day(end, policy) + timedelta(days=days)
    checked = _window(now, start, end + timedelta(minutes=policy.max_trip_minutes), policy)
    if isinstance(checked, Denied):
        return Denied(checked.reason, flags=_UNSEEN)
    return Accepted(checked | _UNSEEN)


def _ride_window(credential: Credential, uses: tuple[Use, ...], policy: Policy) -> tuple[datetime, datetime]:
    """When the pass may be ridden. For a day or 3-day pass not yet activated: when it may be activated.

    Once activated it runs to the end of the activation's service day (or the third one); the end instant is
    inclusive like valid_until, which the clock tolerance dwarfs anyway.
    """
    if credential.product not in _ACTIVATED_DAYS or not uses:
        return credential.valid_from, credential.valid_until
    return service_day(uses[0].at, policy), rides_until(
        credential.product, credential.valid_until, uses[0].at, policy
    )


def rides_until(
    product: Product, valid_until: datetime, first_use: datetime | None, policy: Policy
) -> datetime:
    """When a credential stops riding: its `valid_until`, or, for a day or 3-day pass once activated by its
    first use, the end of that service day (or the third)."""
    days = _ACTIVATED_DAYS.get(product)
    if days is None or first_use is None:
        return valid_until
    return service_day(first_use, policy) + timedelta(days=days)


def _passback(scan: Scan, uses: tuple[Use, ...], policy: Policy, now: datetime) -> Denied | frozenset[Flag]:
    """Anti-passback: no entry without an exit, and no re-entry at the same station just after the exit.

    An entry left open for longer than `passback_reset_minutes` no longer blocks: its exit was lost (an
    offline gate), and the new entry is admitted flagged EXIT_UNSEEN for reconciliation.
    """
    if not uses:
        return _NO_FLAGS
    last = uses[-1]
    if last.direction == Direction.ENTRY:
        if now - last.at < timedelta(minutes=policy.passback_reset_minutes):
            return Denied(Reason.ALREADY_INSIDE)
        return frozenset({Flag.EXIT_UNSEEN})
    too_soon = now - last.at < timedelta(minutes=policy.reentry_same_station_minutes)
    if last.station == scan.station and too_soon:
        return Denied(Reason.REENTRY_TOO_SOON)
    return _NO_FLAGS


# --- shared


def _window(now: datetime, start: datetime, end: datetime, policy: Policy) -> Denied | frozenset[Flag]:
    """Inclusive validity window stretched by the clock tolerance: a refusal, or the flags to carry."""
    tolerance = timedelta(seconds=policy.clock_tolerance_seconds)
    if now < start - tolerance:
        return Denied(Reason.NOT_YET_VALID)
    if now > end + tolerance:
        return Denied(Reason.EXPIRED)
    if now < start or now > end:
        return frozenset({Flag.WITHIN_TOLERANCE})
    return _NO_FLAGS


def _last(uses: tuple[Use, ...], direction: Direction) -> Use | None:
    for use in reversed(uses):
        if use.direction == direction:
            return use
    return None
