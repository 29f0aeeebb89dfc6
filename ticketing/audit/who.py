"""Who a scans or trips query asks about: a ticket serial or an order becomes the credentials its tickets and
passes are scanned as (`t:<serial>`, `p:<pass id>`); a CCCD number becomes its keyed hash (never stored,
logged or echoed: answers show the masked number kept with the pass), and the credentials its free rides are
keyed by (its free-rider entries, and the identity of a rider free by age: fare_rules.free)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from fare_rules.cccd import holder_hash
from fare_rules.free import senior_credential_id
from ticketing.audit.query import Query
from ticketing.audit.tables import PASSES, TICKETS
from ticketing.models import FreeRider, table_of

__all__ = ["Who", "who_of"]

FREE_RIDERS: sa.Table = table_of(FreeRider)


@dataclass(frozen=True, slots=True)
class Who:
    """The credentials, serials and holder hash a ticket / order / CCCD filter stands for."""

    credentials: frozenset[str]
    serials: frozenset[int]
    holder: str | None


def who_of(session: Session, cccd_key: bytes, q: Query) -> Who | None:
    """Who q's ticket, order and CCCD filters stand for; None when it has none of them."""
    if q.ticket is None and q.order is None and q.cccd is None:
        return None
    tickets = TICKETS
    ticket_rows: list[Any] = []
    if q.ticket is not None:
        ticket_rows += session.execute(
            sa.select(tickets.c.id, tickets.c.serial).where(tickets.c.serial == q.ticket)
        )
    if q.order is not None:
        ticket_rows += session.execute(
            sa.select(tickets.c.id, tickets.c.serial).where(tickets.c.order_id == q.order)
        )
    serials = {int(r.serial) for r in ticket_rows} | ({q.ticket} if q.ticket is not None else set())
    credentials = {f"t:{s}" for s in serials}
    holder = holder_hash(q.cccd, cccd_key).hex() if q.cccd else None
    pass_filter: list[ColumnElement[bool]] = []
    if ticket_rows:
        pass_filter.append(PASSES.c.ticket_id.in_([r.id for r in ticket_rows]))
    if holder is not None:
        pass_filter.append(PASSES.c.holder_hash == holder)
    if pass_filter:
        ids = session.execute(sa.select(PASSES.c.id).where(sa.or_(*pass_filter))).scalars()
        credentials |= {f"p:{pid}" for pid in ids}
    if holder is not None:
        registered = sa.select(FREE_RIDERS.c.id).where(FREE_RIDERS.c.holder_hash == holder)
        entries = session.execute(registered).scalars()
        credentials |= {f"p:{eid}" for eid in entries} | {f"p:{senior_credential_id(bytes.fromhex(holder))}"}
    if q.ticket is not None and q.order is not None:  # both given: what the ticket did within the order
        credentials &= {f"t:{q.ticket}"} | {c for c in credentials if c.startswith("p:")}
    return Who(frozenset(credentials), frozenset(serials), holder)
