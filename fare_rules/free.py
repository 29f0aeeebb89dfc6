"""Free riders (city resolution 29/2024): who rides free on a CCCD card, and how a free ride is decided. Pure.

Two ways, where domain.md leaves the choice to us (our rules):

- Age: a rider is free from the local (Asia/Ho_Chi_Minh) date of their `Policy.free_age_years`-th birthday,
  read from the birth date on the card's QR. Someone born on 29 February comes of age on 1 March in a year
  without one (the birthday has not been reached on 28 February). The QR is not signed, so such a ride is
  flagged `compare_card`: staff compare the birth year and the photo with the rider.
- Registry: staff enter the other categories (people with disabilities, people with revolutionary merit)
  after a document check; an entry rides from the start of its first service day to the end of its last.
  Children under 6 have no card: staff admit them by hand (an override), not here.

Which way a card rides: a registry entry usable now, else the age rule, else the entry as it is (refused
with its own reason: ended, expired, not yet valid). A free ride follows a pass's rules of use
(anti-passback; an exit lets out whoever entered) at 0 VND.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from fare_rules.model import Accepted, Credential, Decision, Denied, Flag, History, Scan
from fare_rules.policy import Policy, service_day_of_date
from fare_rules.products import Product
from fare_rules.reasons import Message, Reason
from fare_rules.rules import decide
from fare_rules.tariff import Tariff

__all__ = [
    "REGISTRY_CATEGORIES",
    "FreeCategory",
    "FreeEntry",
    "FreeRide",
    "age_on",
    "category_message",
    "decide_free",
    "free_ride",
    "is_of_free_age",
    "registry_window",
    "senior_credential_id",
]


class FreeCategory(StrEnum):
    """Why a rider rides free. The values are a wire contract: add, never rename."""

    SENIOR = "senior"  # aged free_age_years or over, by the card's birth date
    DISABILITY = "disability"
    REVOLUTIONARY_MERIT = "revolutionary_merit"


# The categories staff enter in the registry; seniors need no entry, their card says their age.
REGISTRY_CATEGORIES = frozenset({FreeCategory.DISABILITY, FreeCategory.REVOLUTIONARY_MERIT})

_MESSAGES = {
    FreeCategory.SENIOR: Message("Miễn vé — người cao tuổi", "Free ride — senior"),
    FreeCategory.DISABILITY: Message("Miễn vé — người khuyết tật", "Free ride — person with a disability"),
    FreeCategory.REVOLUTIONARY_MERIT: Message(
        "Miễn vé — người có công với cách mạng", "Free ride — person with revolutionary merit"
    ),
}
# A card's own period of use ends with the holder; this only has to outlast any scan.
_SENIOR_YEARS = 200
_WINDOW_REASONS = {
    Reason.EXPIRED: Reason.FREE_RIDER_EXPIRED,
    Reason.NOT_YET_VALID: Reason.FREE_RIDER_NOT_YET_VALID,
}


def category_message(category: FreeCategory) -> Message:
    """The Vietnamese and English screen text for a free ride of `category`."""
    return _MESSAGES[category]


@dataclass(frozen=True, slots=True)
class FreeEntry:
    """A registry entry as a gate holds it: the holder's keyed hash stays with the caller."""

    entry_id: str
    category: FreeCategory
    valid_from: datetime
    valid_until: datetime
    ended: bool = False


@dataclass(frozen=True, slots=True)
class FreeRide:
    """What a card rides free as: its category and the credential to decide on (its uses' identity)."""

    category: FreeCategory
    credential: Credential
    ended: bool = False  # the registry entry was ended by staff

    @property
    def flags(self) -> frozenset[Flag]:
        return frozenset({Flag.COMPARE_CARD}) if self.category is FreeCategory.SENIOR else frozenset()


def age_on(birth_date: date, day: date) -> int:
    """Full years of age on `day`; a 29 February birthday counts as reached on 1 March in other years."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def is_of_free_age(birth_date: date, now: datetime, policy: Policy) -> bool:
    """Whether the holder is `free_age_years` or older on the local date of `now` (an aware instant)."""
    if now.tzinfo is None:
        raise ValueError("is_of_free_age needs an aware datetime")
    return age_on(birth_date, now.astimezone(policy.local_tz).date()) >= policy.free_age_years


def registry_window(first_day: date, last_day: date, policy: Policy) -> tuple[datetime, datetime]:
    """The instants an entry for local dates `first_day`..`last_day` rides: from the start of the first
    service day to the start of the one after the last."""
    return service_day_of_date(first_day, policy), service_day_of_date(last_day + timedelta(days=1), policy)


def senior_credential_id(holder_hash: bytes) -> str:
    """The one identity every gate gives a holder riding free by age (their uses are keyed by it), so that
    anti-passback holds across gates; 12 bytes of the keyed hash, never the number."""
    return "senior-" + holder_hash[:12].hex()


def free_ride(
    entries: Sequence[FreeEntry], birth_date: date, holder_hash: bytes, now: datetime, policy: Policy
) -> FreeRide | None:
    """How this card rides free, if at all (module docstring): a usable entry, the age rule, or the entry
    that will be refused. None: the card has no free-ride claim."""
    usable = [e for e in entries if not e.ended and _in_window(e, now, policy)]
    if usable:
        return _entry_ride(max(usable, key=lambda e: e.valid_until))
    if is_of_free_age(birth_date, now, policy):
        day = now.astimezone(policy.local_tz).date()
        start = datetime.combine(day, datetime.min.time(), tzinfo=policy.local_tz)
        credential = Credential(
            senior_credential_id(holder_hash),
            Product.FREE_PRIORITY,
            issued_at=start,
            valid_from=start,
            valid_until=start + timedelta(days=366 * _SENIOR_YEARS),
        )
        return FreeRide(FreeCategory.SENIOR, credential)
    if not entries:
        return None
    return _entry_ride(_nearest(entries, now))


def decide_free(  # noqa: PLR0917 - decide's inputs, as decide takes them
    ride: FreeRide, scan: Scan, history: History, policy: Policy, tariff: Tariff, now: datetime
) -> Decision:
    """Decide one free ride: a pass's rules of use, the entry's own refusals, the ride's flags."""
    revoked = Reason.FREE_RIDER_ENDED if ride.ended else history.revoked
    decision = decide(ride.credential, scan, History(history.uses, revoked), policy, tariff, now)
    if isinstance(decision, Denied):
        reason = _WINDOW_REASONS.get(decision.reason, decision.reason)
        return Denied(reason, decision.owed_vnd, decision.flags | ride.flags)
    return Accepted(decision.flags | ride.flags)


def _entry_ride(entry: FreeEntry) -> FreeRide:
    credential = Credential(
        entry.entry_id,
        Product.FREE_PRIORITY,
        issued_at=entry.valid_from,
        valid_from=entry.valid_from,
        valid_until=entry.valid_until,
    )
    return FreeRide(entry.category, credential, entry.ended)


def _in_window(entry: FreeEntry, now: datetime, policy: Policy) -> bool:
    tolerance = timedelta(seconds=policy.clock_tolerance_seconds)
    return entry.valid_from - tolerance <= now <= entry.valid_until + tolerance


def _nearest(entries: Sequence[FreeEntry], now: datetime) -> FreeEntry:
    """Of entries none of which rides now, the one the refusal names: an unended one first, then the next to
    start, then the most recently ended (so a lapsed entry is refused as expired)."""

    def rank(e: FreeEntry) -> tuple[int, int, float]:
        if e.valid_from > now:
            return (int(e.ended), 0, e.valid_from.timestamp())
        return (int(e.ended), 1, -e.valid_until.timestamp())

    return min(entries, key=rank)
