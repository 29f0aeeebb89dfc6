"""The gate's functional core: classify what was scanned, build the credential, shape the outcome and event.

No I/O here: the shell (validator.gate) reads the store, calls these, then writes what they return.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from fare_rules.errors import FareRulesError
from fare_rules.free import FreeCategory, FreeEntry, category_message
from fare_rules.model import Credential, Direction, Flag
from fare_rules.network import Network
from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.products import Product
from fare_rules.reasons import Message, Reason, message_for
from fare_rules.settlement import PaymentMethod
from validator.codec import TicketBody, has_scheme
from validator.records import FreeRiderRecord, PassRecord
from validator.wire import iso

__all__ = [
    "ACCEPT_MESSAGE",
    "Adjustment",
    "InputKind",
    "Override",
    "PassSeen",
    "ScanOutcome",
    "TicketSeen",
    "Verdict",
    "classify",
    "event_for",
    "free_entry",
    "normalise",
    "pass_credential",
    "pass_is_current",
    "pass_is_revoked",
    "pick_pass",
    "ticket_credential",
    "ticket_seen",
]

ACCEPT_MESSAGE = Message("Mời qua", "Go ahead")
# Registry statuses (sync contract). Anything not listed as usable refuses the pass as revoked.
PASS_ACTIVE = "active"  # noqa: S105 - a status, not a password
PASS_PENDING = "pending_verification"  # noqa: S105 - a status


class InputKind(StrEnum):
    TICKET = "ticket"  # our scheme prefix
    CCCD = "cccd"  # a CCCD 2021 card front QR (pipe-separated, starts with digits)
    EMPTY = "empty"
    OTHER = "other"  # anything else: another scheme, a URL, garbage
    IMAGE = "image"  # an image that yielded no single code


class Verdict(StrEnum):
    ACCEPT = "accept"
    DENY = "deny"


def normalise(raw: str) -> str:
    """Strip what keyboard-wedge scanners add around a payload (CR, LF, spaces, a BOM)."""
    return raw.strip().lstrip("\ufeff").strip()


def classify(raw: str) -> InputKind:
    """What a scanned text looks like, before any parsing or verification."""
    text = normalise(raw)
    if not text:
        return InputKind.EMPTY
    if has_scheme(text):
        return InputKind.TICKET
    first, sep, _ = text.partition("|")
    if sep and first.strip().isdigit():
        return InputKind.CCCD
    return InputKind.OTHER


@dataclass(frozen=True, slots=True)
class TicketSeen:
    """A signed ticket or pass QR as read (verified=False when its signature did not check out)."""

    serial: int
    product: Product
    origin: str | None
    destination: str | None
    valid_from: datetime
    valid_until: datetime
    fare_vnd: int
    key_id: int
    verified: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "serial": str(self.serial),
            "product": self.product.value,
            "origin": self.origin,
            "destination": self.destination,
            "valid_from": iso(self.valid_from),
            "valid_until": iso(self.valid_until),
            "fare_vnd": self.fare_vnd,
            "key_id": self.key_id,
            "verified": self.verified,
        }


@dataclass(frozen=True, slots=True)
class PassSeen:
    """A registry pass, as staff should compare it with the card. Never holds the CCCD number in clear."""

    pass_id: str | None  # None when the card has no pass
    product: Product | None
    cccd_masked: str | None
    initials: str | None
    birth_year: int | None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    status: str | None = None
    category: FreeCategory | None = None  # a free ride: its category (the product is free_priority)

    def to_json(self) -> dict[str, Any]:
        free = {"category": self.category.value} if self.category else {}
        return {
            **free,
            "pass_id": self.pass_id,
            "product": self.product.value if self.product else None,
            "cccd": self.cccd_masked,
            "initials": self.initials,
            "birth_year": self.birth_year,
            "valid_from": iso(self.valid_from) if self.valid_from else None,
            "valid_until": iso(self.valid_until) if self.valid_until else None,
            "status": self.status,
        }


Recognised = TicketSeen | PassSeen


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A fare owed that an agent collected at this exit (the settlement event `settlement_seq` says how)."""

    amount_vnd: int
    method: PaymentMethod
    agent: str
    settlement_seq: int

    def to_json(self) -> dict[str, Any]:
        return {
            "amount_vnd": self.amount_vnd,
            "method": self.method.value,
            "agent": self.agent,
            "settlement_seq": self.settlement_seq,
        }


@dataclass(frozen=True, slots=True)
class Override:
    """An agent's decision by hand, and what the gate itself would have said (None: it would admit)."""

    action: OverrideAction
    reason: OverrideReason
    agent: str
    gate_reason: Reason | None

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "reason": self.reason.value,
            "agent": self.agent,
            "gate_reason": self.gate_reason.value if self.gate_reason else None,
        }


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What the gate answers for one scan: the screen and `--json` are drawn from this alone."""

    verdict: Verdict
    reason: Reason | None
    gate: str
    station: str
    direction: Direction
    at: datetime
    seq: int  # journal sequence of this scan's event
    input_kind: InputKind
    owed_vnd: int = 0
    flags: frozenset[Flag] = field(default_factory=frozenset)
    recognised: Recognised | None = None
    ticket: TicketSeen | None = None  # a pass QR shows both the ticket it is and the registry pass
    clock_offset_seconds: float | None = None  # the gate's last measured offset (server minus gate clock)
    # A settled exit: admitted with the fare owed collected (owed_vnd is then the amount collected).
    adjustment: Adjustment | None = None
    override: Override | None = None  # an agent admitted or refused by hand

    @property
    def accepted(self) -> bool:
        return self.verdict is Verdict.ACCEPT

    @property
    def free_category(self) -> FreeCategory | None:
        """The category of a free ride, accepted or refused (None for anything else)."""
        return self.recognised.category if isinstance(self.recognised, PassSeen) else None

    @property
    def message(self) -> Message:
        if self.reason is not None:
            return message_for(self.reason)
        category = self.free_category
        return ACCEPT_MESSAGE if category is None else category_message(category)

    def to_json(self) -> dict[str, Any]:
        """The `--json` contract object (DESIGN.md): verdict, reason, message, recognised, owed_vnd, flags;
        `adjustment` and `override` only on a settled exit and an override."""
        recognised: dict[str, Any] | None = None
        if self.ticket is not None:
            recognised = {"ticket": self.ticket.to_json()}
        if isinstance(self.recognised, PassSeen):
            recognised = {**(recognised or {}), "pass": self.recognised.to_json()}
        return _staff_fields(self) | {
            "verdict": self.verdict.value,
            "reason": self.reason.value if self.reason else None,
            "message": {"vi": self.message.vi, "en": self.message.en},
            "recognised": recognised,
            "owed_vnd": self.owed_vnd,
            "flags": sorted(f.value for f in self.flags),
            "free_category": self.free_category.value if self.free_category else None,
            "clock_offset_seconds": self.clock_offset_seconds,
            "gate": self.gate,
            "station": self.station,
            "direction": self.direction.value,
            "at": iso(self.at),
            "seq": self.seq,
        }


def _staff_fields(outcome: ScanOutcome) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if outcome.adjustment is not None:
        fields["adjustment"] = outcome.adjustment.to_json()
    if outcome.override is not None:
        fields["kind"] = "override"
        fields["override"] = outcome.override.to_json()
    return fields


def ticket_seen(body: TicketBody, network: Network, verified: bool) -> TicketSeen:
    """Display form of a ticket body; unknown station numbers show as `#<n>` rather than failing."""
    return TicketSeen(
        serial=body.serial,
        product=body.product,
        origin=_station_code(network, body.origin),
        destination=_station_code(network, body.destination),
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        fare_vnd=body.fare_vnd,
        key_id=body.key_id,
        verified=verified,
    )


def _station_code(network: Network, number: int) -> str | None:
    if number == 0:
        return None
    try:
        return network.by_number(number).code
    except FareRulesError:
        return f"#{number}"


def ticket_credential(body: TicketBody, network: Network) -> Credential | Reason:
    """The credential a verified ticket stands for; UNKNOWN_STATION if it names a station we do not have.

    The QR alone cannot show that a student's eligibility was verified (only the pass registry knows), so a
    student pass judged on its QR counts as unverified; other holder products are decided on the signed QR.
    """
    try:
        origin = network.by_number(body.origin).code if body.origin else None
        destination = network.by_number(body.destination).code if body.destination else None
    except FareRulesError:
        return Reason.UNKNOWN_STATION
    return Credential(
        id=str(body.serial),
        product=body.product,
        issued_at=body.issued_at,
        valid_from=body.valid_from,
        valid_until=body.valid_until,
        fare_vnd=body.fare_vnd,
        origin=origin,
        destination=destination,
        eligibility_verified=body.product is not Product.MONTHLY_STUDENT,
    )


def pass_credential(record: PassRecord) -> Credential:
    return Credential(
        id=record.pass_id,
        product=record.product,
        issued_at=record.valid_from,
        valid_from=record.valid_from,
        valid_until=record.valid_until,
        eligibility_verified=record.status != PASS_PENDING,
    )


def free_entry(record: FreeRiderRecord) -> FreeEntry:
    """The rules' view of a registry entry; any status but active counts as ended."""
    return FreeEntry(
        record.entry_id,
        FreeCategory(record.category),
        record.valid_from,
        record.valid_until,
        ended=record.status != PASS_ACTIVE,
    )


def pass_is_current(record: PassRecord, now: datetime) -> bool:
    """Whether the pass rides now by its own state and dates: then it, not a free-ride claim, decides."""
    return not pass_is_revoked(record) and record.valid_from <= now <= record.valid_until


def pass_is_revoked(record: PassRecord) -> bool:
    return record.status not in (PASS_ACTIVE, PASS_PENDING)


def pick_pass(records: Sequence[PassRecord], now: datetime) -> PassRecord | None:
    """Of one holder's passes, the one to judge: current and active first, then current, then the next to
    start, then the most recently ended (so an expired pass is refused as EXPIRED, not as unknown)."""

    def rank(p: PassRecord) -> tuple[int, float]:
        current = p.valid_from <= now <= p.valid_until
        if current:
            return (0 if p.status == PASS_ACTIVE else 1, -p.valid_until.timestamp())
        if p.valid_from > now:
            return (2, p.valid_from.timestamp())
        return (3, -p.valid_until.timestamp())

    return min(records, key=rank) if records else None


def event_for(outcome: ScanOutcome, credential_key: str | None, holder_hash: bytes | None) -> dict[str, Any]:
    """The journal event of a scan. Carries keyed hashes and masked numbers only, never a CCCD number."""
    event: dict[str, Any] = {
        "v": 1,
        "gate": outcome.gate,
        "seq": outcome.seq,
        "station": outcome.station,
        "direction": outcome.direction.value,
        "at": iso(outcome.at),
        "input": outcome.input_kind.value,
        "verdict": outcome.verdict.value,
        "reason": outcome.reason.value if outcome.reason else None,
        "owed_vnd": outcome.owed_vnd,
        "flags": sorted(f.value for f in outcome.flags),
        "credential": credential_key,
        "holder_hash": holder_hash.hex() if holder_hash else None,
        **_staff_fields(outcome),
    }
    if outcome.ticket is not None:
        event["ticket"] = outcome.ticket.to_json()
    if isinstance(outcome.recognised, PassSeen):
        event["pass"] = outcome.recognised.to_json()
    return event
