"""The plain values that the rules read and return. All datetimes are timezone-aware (UTC)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from fare_rules.products import Product
from fare_rules.reasons import Reason

__all__ = [
    "Accepted",
    "Credential",
    "Decision",
    "Denied",
    "Direction",
    "Flag",
    "History",
    "Scan",
    "Use",
]


class Direction(StrEnum):
    ENTRY = "entry"
    EXIT = "exit"


class Flag(StrEnum):
    """Something an auditor should know about an accepted (or refused) scan.

    The values are a wire contract: add, never rename.
    """

    ENTRY_UNSEEN = "entry_unseen"  # exit admitted although this gate never saw the entry
    WITHIN_TOLERANCE = "within_tolerance"  # admitted only thanks to the clock tolerance at a validity edge
    ACTIVATED = "activated"  # this entry activated a day or 3-day pass
    STALE_LISTS = "stale_lists"  # a list scans are decided from is older than the policy allows
    CLOCK_SUSPECT = "clock_suspect"  # the gate clock is too far from the server's
    EXIT_UNSEEN = "exit_unseen"  # entry admitted although the previous entry's exit was never seen
    COMPARE_CARD = "compare_card"  # free by the birth date on an unsigned card QR: compare it with the rider


@dataclass(frozen=True, slots=True)
class Credential:
    """What a gate knows about a ticket or pass once its signature (or registry entry) checked out.

    `valid_from`/`valid_until` bound its use: for a single ticket the 30-day use-by window, for a day or
    3-day pass the activation window, for monthly and priority passes the ride period itself.
    """

    id: str  # stable identity: the ticket serial as text, or the pass id from the registry
    product: Product
    issued_at: datetime
    valid_from: datetime
    valid_until: datetime
    fare_vnd: int = 0
    origin: str | None = None  # station code, single tickets only
    destination: str | None = None
    eligibility_verified: bool = True  # student passes start unverified


@dataclass(frozen=True, slots=True)
class Scan:
    """One presentation of a credential at a gate."""

    station: str
    direction: Direction
    gate: str = ""


@dataclass(frozen=True, slots=True)
class Use:
    """An accepted passage through a gate, from this gate's store or synced from other gates."""

    station: str
    direction: Direction
    at: datetime


@dataclass(frozen=True, slots=True)
class History:
    """What the gate knows of a credential: its accepted uses, oldest first, and why it is revoked (None
    while it is not)."""

    uses: tuple[Use, ...] = ()
    revoked: Reason | None = None


@dataclass(frozen=True, slots=True)
class Accepted:
    flags: frozenset[Flag] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Denied:
    reason: Reason
    owed_vnd: int = 0  # fare adjustment staff should collect, where one is due
    flags: frozenset[Flag] = field(default_factory=frozenset)


Decision = Accepted | Denied
