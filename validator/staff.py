"""What station staff do at a gate by hand: settle a fare owed at the exit, and override the gate.

The decisions are fare_rules' (`settlement.settle`; an override is the agent's own); the transaction is the
gate's (`Gate.settle`, `Gate.override`). Here: what a staff action is about (`Shown`, `LastRefused`,
`NoCredential`), the settlement event and answer, and the journal reads they need. Both journal like every
scan: a settlement event (`kind` "settlement", verdict "settle": neither a passage nor a refusal at the
gate) and then, once accepted, the exit it lets out (its `adjustment` says what was collected); an override
is one event (`kind` "override"), a passage or a refusal like a scan.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fare_rules.model import Credential, Denied
from fare_rules.products import Product
from fare_rules.reasons import Message, Reason, message_for
from fare_rules.settlement import PaymentMethod, Settled
from validator.core import ScanOutcome, TicketSeen
from validator.wire import iso, parse_iso

__all__ = [
    "RECALL_EVENTS",
    "SETTLE_VERDICT",
    "LastRefused",
    "NoCredential",
    "NothingToRecall",
    "Settlement",
    "Shown",
    "StaffCounts",
    "Subject",
    "credential_of",
    "last_refused_event",
    "record_action",
    "settled_before",
    "settlement_event",
    "staff_counts",
    "ticket_from_json",
]

SETTLE_VERDICT = "settle"
SETTLED_MESSAGE = Message("Đã bù cước — mời qua", "Fare owed settled — go ahead")


@dataclass(frozen=True, slots=True)
class Shown:
    """A code shown now: the payload text of a ticket or card QR (read from an image or a scanner)."""

    text: str


@dataclass(frozen=True, slots=True)
class LastRefused:
    """This gate's last refused scan in the action's direction, as its journal recorded it."""


@dataclass(frozen=True, slots=True)
class NoCredential:
    """Nothing shown at all (an evacuation, a child under 6): an override only."""


Subject = Shown | LastRefused | NoCredential


class NothingToRecall(LookupError):
    """`LastRefused` at a gate that has refused no scan in that direction."""


@dataclass(frozen=True, slots=True)
class Settlement:
    """What `Gate.settle` answers: the settlement journaled (event `seq`), accepted or refused with its
    reason, and once accepted the exit it let out (`exit`, journaled next with its adjustment)."""

    reason: Reason | None  # None: accepted
    owed_vnd: int
    collected_vnd: int
    method: PaymentMethod
    agent: str
    gate: str
    station: str
    at: datetime
    seq: int
    ticket: TicketSeen | None
    exit: ScanOutcome | None

    @property
    def accepted(self) -> bool:
        return self.reason is None

    @property
    def message(self) -> Message:
        return SETTLED_MESSAGE if self.reason is None else message_for(self.reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": "settlement",
            "accepted": self.accepted,
            "reason": self.reason.value if self.reason else None,
            "message": {"vi": self.message.vi, "en": self.message.en},
            "owed_vnd": self.owed_vnd,
            "collected_vnd": self.collected_vnd,
            "method": self.method.value,
            "agent": self.agent,
            "gate": self.gate,
            "station": self.station,
            "at": iso(self.at),
            "seq": self.seq,
            "ticket": self.ticket.to_json() if self.ticket else None,
            "exit": self.exit.to_json() if self.exit else None,
        }


def settlement_event(
    exit_outcome: ScanOutcome,
    *,
    seq: int,
    decided: Settled | Denied,
    collected_vnd: int,
    method: PaymentMethod,
    agent: str,
    credential: str | None,
    holder_hash: bytes | None,
) -> dict[str, Any]:
    """The journal event of a settlement (accepted or refused), at the exit `exit_outcome` decided."""
    refused = isinstance(decided, Denied)
    event: dict[str, Any] = {
        "v": 1,
        "kind": "settlement",
        "gate": exit_outcome.gate,
        "seq": seq,
        "station": exit_outcome.station,
        "direction": exit_outcome.direction.value,
        "at": iso(exit_outcome.at),
        "input": exit_outcome.input_kind.value,
        "verdict": SETTLE_VERDICT,
        "reason": decided.reason.value if isinstance(decided, Denied) else None,
        "owed_vnd": decided.owed_vnd,
        "flags": sorted(f.value for f in exit_outcome.flags),
        "credential": credential,
        "holder_hash": holder_hash.hex() if holder_hash else None,
        "settlement": {
            "method": method.value,
            "collected_vnd": collected_vnd,
            "agent": agent,
            "gate_reason": exit_outcome.reason.value if exit_outcome.reason else None,
            "accepted": not refused,
        },
    }
    if exit_outcome.ticket is not None:
        event["ticket"] = exit_outcome.ticket.to_json()
    return event


def record_action(
    conn: sqlite3.Connection, event: dict[str, Any], *, accepted: bool, collected_vnd: int = 0
) -> None:
    """Keep a staff action's journal event in `staff_actions` too (same transaction)."""
    conn.execute(
        "INSERT INTO staff_actions (gate, seq, kind, credential, accepted, collected_vnd)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (event["gate"], event["seq"], event["kind"], event.get("credential"), int(accepted), collected_vnd),
    )


def settled_before(conn: sqlite3.Connection, credential: str | None) -> bool:
    """Whether any gate of this store accepted a settlement for `credential` (a trip is settled once)."""
    if credential is None:
        return False
    row = conn.execute(
        "SELECT 1 FROM staff_actions WHERE credential = ? AND kind = 'settlement' AND accepted = 1 LIMIT 1",
        (credential,),
    ).fetchone()
    return row is not None


# How far back `--last` looks: the agent acts on a refusal just made, and the read holds the write lock.
RECALL_EVENTS = 500


def last_refused_event(conn: sqlite3.Connection, gate: str, direction: str) -> dict[str, Any]:
    """The journal event of `gate`'s last refused scan (not a staff action) in `direction`, among its last
    RECALL_EVENTS events."""
    row = conn.execute(
        "SELECT event FROM (SELECT seq, event FROM journal WHERE gate = ? ORDER BY seq DESC LIMIT ?)"
        " WHERE json_extract(event, '$.kind') IS NULL AND json_extract(event, '$.verdict') = 'deny'"
        " AND json_extract(event, '$.direction') = ? ORDER BY seq DESC LIMIT 1",
        (gate, RECALL_EVENTS, direction),
    ).fetchone()
    if row is None:
        raise NothingToRecall(f"gate {gate} refused no {direction} scan lately: scan the code instead")
    event: dict[str, Any] = json.loads(row[0])
    return event


def ticket_from_json(data: object) -> TicketSeen | None:
    """A ticket as a journal event shows it (TicketSeen.to_json), or None."""
    if not isinstance(data, dict):
        return None
    return TicketSeen(
        serial=int(data["serial"]),
        product=Product(data["product"]),
        origin=data["origin"],
        destination=data["destination"],
        valid_from=parse_iso(data["valid_from"]),
        valid_until=parse_iso(data["valid_until"]),
        fare_vnd=int(data["fare_vnd"]),
        key_id=int(data["key_id"]),
        verified=bool(data["verified"]),
    )


def credential_of(seen: TicketSeen) -> Credential | None:
    """The credential a ticket this gate verified stands for, rebuilt from its journal record (None for one
    that did not verify or names a station the gate did not know)."""
    unknown = any(code is not None and code.startswith("#") for code in (seen.origin, seen.destination))
    if not seen.verified or unknown:
        return None
    return Credential(
        id=str(seen.serial),
        product=seen.product,
        issued_at=seen.valid_from,
        valid_from=seen.valid_from,
        valid_until=seen.valid_until,
        fare_vnd=seen.fare_vnd,
        origin=seen.origin,
        destination=seen.destination,
        eligibility_verified=seen.product is not Product.MONTHLY_STUDENT,
    )


@dataclass(frozen=True, slots=True)
class StaffCounts:
    """A gate's staff actions in its journal, for `status`: overrides (admitted, refused), settlements
    accepted and what they collected."""

    overrides_admitted: int
    overrides_refused: int
    settlements: int
    collected_vnd: int


def staff_counts(conn: sqlite3.Connection, gate: str) -> StaffCounts:
    row = conn.execute(
        "SELECT sum(kind = 'override' AND accepted), sum(kind = 'override' AND NOT accepted),"
        " sum(kind = 'settlement' AND accepted), sum(CASE WHEN accepted THEN collected_vnd ELSE 0 END)"
        " FROM staff_actions WHERE gate = ?",
        (gate,),
    ).fetchone()
    return StaffCounts(*(int(v or 0) for v in row))
