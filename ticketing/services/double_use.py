"""Double use: one ticket let in at two gates with no exit between (each gate offline, neither knowing of the
other: a shared screenshot). Gates cannot prevent it while cut off; the server sees it when both journals
arrive and puts the ticket on the revocation list (reason "double_use"), in the transaction that stores the
second entry, so every gate refuses it as revoked after its next sync; both entries stay in scan_events for
the auditors.

"No exit between" is the gates' own anti-passback rule: an entry open for longer than
`passback_reset_minutes` no longer counts (its exit was likely lost at an offline gate).

An exit can also be missing for a while only because its gate has not uploaded yet. For a single ticket that
changes nothing: it pays for one ride, so a second entry is a misuse either way. A day or 3-day ticket rides
many times: a second entry counts only if no rider could have made it, exit unseen or not: at another station
sooner than the train takes to get there (hops x `min_seconds_per_hop`), at the same station sooner than
`reentry_same_station_minutes`. Otherwise it is taken as a second ride whose exit has not arrived yet. The
numbers come from the operator's policy file; the anomalies report (double_use) applies the same rule.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from fare_rules import FareRulesError
from fare_rules.network import Network
from fare_rules.policy import Policy
from ticketing.models import Revocation, ScanEvent, Ticket, TicketStatus, table_of
from ticketing.services.common import next_seqs

__all__ = ["DOUBLE_USE", "DoubleUseRule", "TicketUse", "block_double_uses", "entered_twice"]

DOUBLE_USE = "double_use"  # the revocation reason gates receive (Revocation.reason)
_SCANS: sa.Table = table_of(ScanEvent)


class TicketUse(NamedTuple):
    """One accepted use of a ticket, as scan_events holds it."""

    gate: str
    station: str | None
    direction: str
    at: datetime


@dataclass(frozen=True, slots=True)
class DoubleUseRule:
    """The policy numbers (and the line, for the hops) the double-use rule reads."""

    open_entry: timedelta  # passback_reset_minutes
    per_hop: timedelta  # min_seconds_per_hop
    same_station: timedelta  # reentry_same_station_minutes
    network: Network

    @classmethod
    def of(cls, network: Network, policy: Policy) -> DoubleUseRule:
        return cls(
            open_entry=timedelta(minutes=policy.passback_reset_minutes),
            per_hop=timedelta(seconds=policy.min_seconds_per_hop),
            same_station=timedelta(minutes=policy.reentry_same_station_minutes),
            network=network,
        )

    def soonest_second_entry(self, first: str | None, second: str | None) -> timedelta:
        """How soon after entering at `first` one rider can enter at `second`, having left in between."""
        if first is None or second is None:
            return timedelta(0)
        if first == second:
            return self.same_station
        try:
            return self.network.hops(first, second) * self.per_hop
        except FareRulesError:  # a station this network does not know: no bound
            return timedelta(0)


def _ticket_entry(row: Mapping[str, Any]) -> bool:
    return (
        row.get("verdict") == "accept"
        and row.get("direction") == "entry"
        and str(row.get("credential") or "").startswith("t:")
        and row.get("ticket_serial") is not None
        and row.get("at") is not None
        and not row.get("problem")
    )


def entered_twice(uses: Iterable[TicketUse], rule: DoubleUseRule, *, single: bool) -> bool:
    """Whether these accepted uses of one ticket hold two entries at different gates with no exit between
    them and the second within `open_entry` of the first (in time order, whatever order they arrived in);
    for a ticket that is not `single`, also sooner than one rider could have made it (module doc)."""
    inside: TicketUse | None = None
    for use in sorted(uses, key=lambda u: (u.at, u.gate)):
        if use.direction == "exit":
            inside = None
            continue
        if inside is not None and use.gate != inside.gate and use.at - inside.at < rule.open_entry:
            gap = use.at - inside.at
            if single or gap < rule.soonest_second_entry(inside.station, use.station):
                return True
        inside = use
    return False


def block_double_uses(
    session: Session,
    stored: Sequence[Mapping[str, Any]],
    now: datetime,
    rule: DoubleUseRule,
    candidates: Collection[int] | None = None,
) -> list[int]:
    """Revoke every ticket that the newly stored scan_events rows `stored` show entering twice.
    `candidates`: the only serials that can have (journal ingest takes them from the trips: another entry at
    another gate within `rule.open_entry`); None checks every ticket entry in `stored`.
    Returns the serials revoked. The caller commits (journal ingest, with the rows themselves)."""
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
        sa.select(t.credential, t.product, t.gate_id, t.station, t.direction, t.at).where(
            t.credential.in_(credentials),
            t.verdict == "accept",
            t.problem.is_(None),
            t.at >= since,
            t.at <= until,
        )
    )
    by_credential: dict[str, list[TicketUse]] = {}
    products: dict[str, str | None] = {}
    for credential, product, gate, station, direction, at in rows:
        if credential is not None and direction is not None and at is not None:
            by_credential.setdefault(credential, []).append(TicketUse(gate, station, direction, at))
            products[credential] = products.get(credential) or product
    doubled = sorted(
        int(credential[2:])
        for credential, uses in by_credential.items()
        if entered_twice(uses, rule, single=products.get(credential) == "single")
    )
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
