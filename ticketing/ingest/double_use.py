"""Double use revoked at ingest: a ticket the newly stored uses show entering twice (rules.entered_twice) is
put on the revocation list (reason "double_use"), in the transaction that pairs the second entry, so every
gate refuses it as revoked after its next sync; both entries stay in scan_events for the auditors. The
entries are noted for the anomalies report (ticketing.ingest.candidates), which applies the same rule to the
noted tickets again: an exit uploaded later may show the rider left in between.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from ticketing.ingest.rules import DoubleUseRule, StoredUse, entered_twice
from ticketing.models import Revocation, ScanEvent, Ticket, TicketStatus, table_of
from ticketing.services.common import next_seqs

__all__ = ["DOUBLE_USE", "entered_twice_among", "revoke_double_uses"]

DOUBLE_USE = "double_use"  # the revocation reason gates receive (Revocation.reason)
_SCANS: sa.Table = table_of(ScanEvent)


def _ticket_entry(row: Mapping[str, Any]) -> bool:
    return (
        row.get("verdict") == "accept"
        and row.get("direction") == "entry"
        and str(row.get("credential") or "").startswith("t:")
        and row.get("ticket_serial") is not None
        and row.get("at") is not None
        and not row.get("problem")
    )


def entered_twice_among(
    session: Session,
    stored: Sequence[Mapping[str, Any]],
    rule: DoubleUseRule,
    candidates: Collection[int] | None = None,
) -> list[int]:
    """The tickets (serials) that the newly stored scan_events rows `stored` show entering twice, with the
    uses stored before them (rules.entered_twice). `candidates`: the only serials that can have (journal
    ingest takes them from the trips: another entry at another gate within `rule.open_entry`); None checks
    every ticket entry in `stored`."""
    entries = [r for r in stored if _ticket_entry(r)]
    if candidates is not None:
        entries = [r for r in entries if int(r["ticket_serial"]) in candidates]
    if not entries:
        return []
    credentials = sorted({str(r["credential"]) for r in entries})
    # Bounded in time, so PostgreSQL reads only the month partitions that can hold a matching use.
    since = min(r["at"] for r in entries) - rule.open_entry
    until = max(r["at"] for r in entries) + rule.open_entry
    t = _SCANS.c
    rows = session.connection().execute(
        sa.select(t.credential, t.product, t.gate_id, t.seq, t.station, t.direction, t.at).where(
            t.credential.in_(credentials),
            t.verdict == "accept",
            t.problem.is_(None),
            t.at >= since,
            t.at <= until,
        )
    )
    by_credential: dict[str, list[StoredUse]] = {}
    products: dict[str, str | None] = {}
    for credential, product, gate, seq, station, direction, at in rows:
        if credential is not None and direction is not None and at is not None:
            use = StoredUse(credential, gate, seq, station, at, direction, product)
            by_credential.setdefault(credential, []).append(use)
            products[credential] = products.get(credential) or product
    return sorted(
        int(credential[2:])
        for credential, uses in by_credential.items()
        if entered_twice(uses, rule, single=products.get(credential) == "single")
    )


def revoke_double_uses(session: Session, serials: Sequence[int], now: datetime) -> list[int]:
    """Put these tickets on the revocation list (reason "double_use"), those not refunded or revoked
    already; the serials revoked. The caller commits (journal ingest, with the uses that show it)."""
    if not serials:
        return []
    # Compare-and-set on the status, as refunds do: a ticket already refunded or revoked stays as it is and
    # gets no second revocation entry.
    issued = session.exec(
        select(Ticket.id, Ticket.serial).where(
            col(Ticket.serial).in_(sorted(serials)), Ticket.status == TicketStatus.ISSUED
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
