"""Double use: one ticket let in at two gates with no exit between (each gate offline, neither knowing of the
other: a shared screenshot). Gates cannot prevent it while cut off; the server sees it when both journals
arrive and puts the ticket on the revocation list (reason "double_use"), in the transaction that stores the
second entry, so every gate refuses it as revoked after its next sync; both entries stay in scan_events for
the auditors.

"No exit between" is the gates' own anti-passback rule: an entry open for longer than
`passback_reset_minutes` no longer counts (its exit was likely lost at an offline gate), so a day ticket's
rider who left through an unscanned exit is not blocked.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from fare_rules.policy import DEFAULT_POLICY
from ticketing.models import Revocation, ScanEvent, Ticket, TicketStatus
from ticketing.services.common import next_seqs

__all__ = ["DOUBLE_USE", "OPEN_ENTRY", "block_double_uses", "entered_twice"]

DOUBLE_USE = "double_use"  # the revocation reason gates receive (Revocation.reason)
# Ingest has no policy file at hand; the bundled default is the gates' default too.
OPEN_ENTRY = timedelta(minutes=DEFAULT_POLICY.passback_reset_minutes)


def _ticket_entry(row: Mapping[str, Any]) -> bool:
    return (
        row.get("verdict") == "accept"
        and row.get("direction") == "entry"
        and str(row.get("credential") or "").startswith("t:")
        and row.get("ticket_serial") is not None
        and row.get("at") is not None
        and not row.get("problem")
    )


def entered_twice(uses: Iterable[tuple[str, str, datetime]], open_entry: timedelta = OPEN_ENTRY) -> bool:
    """Whether these accepted uses `(gate, direction, at)` of one ticket hold two entries at different
    gates with no exit between them and the second within `open_entry` of the first (in time order,
    whatever order they arrived in)."""
    inside: tuple[str, datetime] | None = None
    for gate, direction, at in sorted(uses, key=lambda u: (u[2], u[0])):
        if direction == "exit":
            inside = None
            continue
        if inside is not None and gate != inside[0] and at - inside[1] < open_entry:
            return True
        inside = (gate, at)
    return False


def block_double_uses(
    session: Session,
    stored: Sequence[Mapping[str, Any]],
    now: datetime,
    open_entry: timedelta = OPEN_ENTRY,
    candidates: Collection[int] | None = None,
) -> list[int]:
    """Revoke every single ticket that the newly stored scan_events rows `stored` show entering twice.
    `candidates`: the only serials that can have (journal ingest takes them from the trips: another entry at
    another gate within `open_entry`); None checks every ticket entry in `stored`.
    Returns the serials revoked. The caller commits (journal ingest, with the rows themselves)."""
    entries = [r for r in stored if _ticket_entry(r)]
    if candidates is not None:
        entries = [r for r in entries if int(r["ticket_serial"]) in candidates]
    if not entries:
        return []
    serials = sorted({int(r["ticket_serial"]) for r in entries})
    # Bounded in time, so PostgreSQL reads only the month partitions that can hold a matching use.
    since = min(r["at"] for r in entries) - open_entry
    until = max(r["at"] for r in entries) + open_entry
    rows = session.exec(
        select(ScanEvent.ticket_serial, ScanEvent.gate_id, ScanEvent.direction, ScanEvent.at).where(
            col(ScanEvent.ticket_serial).in_(serials),
            ScanEvent.verdict == "accept",
            col(ScanEvent.problem).is_(None),
            col(ScanEvent.at) >= since,
            col(ScanEvent.at) <= until,
        )
    ).all()
    by_serial: dict[int, list[tuple[str, str, datetime]]] = {}
    for serial, gate, direction, at in rows:
        if serial is not None and direction is not None and at is not None:
            by_serial.setdefault(serial, []).append((gate, direction, at))
    doubled = sorted(s for s, uses in by_serial.items() if entered_twice(uses, open_entry))
    return _revoke(session, doubled, now) if doubled else []


def _revoke(session: Session, serials: list[int], now: datetime) -> list[int]:
    # Compare-and-set on the status, as refunds do: a ticket already refunded or revoked stays as it is and
    # gets no second revocation entry.
    issued = session.exec(
        select(Ticket.id, Ticket.serial).where(
            col(Ticket.serial).in_(serials), Ticket.status == TicketStatus.ISSUED
        )
    ).all()
    revoked: list[tuple[str, int]] = []
    for ticket_id, serial in issued:
        changed = session.exec(
            sa.update(Ticket)
            .where(col(Ticket.id) == ticket_id, col(Ticket.status) == TicketStatus.ISSUED)
            .values(status=TicketStatus.REVOKED)
        )
        if changed.rowcount == 1:
            revoked.append((ticket_id, serial))
    if not revoked:
        return []
    seqs = next_seqs(session, "revocations", len(revoked))
    for (ticket_id, serial), seq in zip(revoked, seqs, strict=True):
        session.add(Revocation(seq=seq, ticket_serial=serial, ticket_id=ticket_id, reason=DOUBLE_USE, at=now))
    return [serial for _, serial in revoked]
