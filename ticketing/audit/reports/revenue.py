"""Revenue: what was sold (tickets issued in the range, by product and origin) and what became of it, next to
what was ridden (trips started in the range, by product and entry station).

docs/audit.md defines each amount; by construction sold_vnd = used_vnd + unused_vnd + refunded_vnd +
refund_fees_vnd.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from ticketing.audit.models import RevenueRow
from ticketing.audit.query import Query
from ticketing.audit.tables import TICKETS, TRIPS, in_range
from ticketing.ingest import rollups, scan_counts

__all__ = ["rows"]

_AMOUNTS = tuple(name for name in RevenueRow.model_fields if name not in ("product", "station"))


def rows(session: Session, q: Query) -> list[RevenueRow]:
    """The rows over q's range, by product then station ("" where there is none)."""
    table: dict[tuple[str, str], dict[str, Any]] = {}

    def row(product: str | None, station: str | None) -> dict[str, Any]:
        key = (product or "", station or "")
        return table.setdefault(key, {"product": key[0], "station": key[1], **dict.fromkeys(_AMOUNTS, 0)})

    for r in _sold(session, q):
        row(r.product, r.origin).update(
            tickets_sold=r.n,
            sold_vnd=int(r.vnd or 0),
            used_vnd=int(r.used_vnd or 0),
            unused_vnd=int(r.unused_vnd or 0),
            tickets_refunded=int(r.refunded or 0),
            refunded_vnd=int(r.refunded_vnd or 0),
            refund_fees_vnd=int(r.fees or 0),
            ridden_after_refund_vnd=int(r.ridden_refunded or 0),
        )
    for r in _ridden(session, q):
        row(r.product, r.entry_station).update(
            trips=r.n, fares_ridden_vnd=int(r.vnd or 0), owed_vnd=int(r.owed or 0)
        )
    return [RevenueRow.model_validate(table[key]) for key in sorted(table)]


def _sold(session: Session, q: Query) -> Sequence[Any]:
    """Tickets issued in the range by product and origin, each in one bucket: refunded (not withdrawn), else
    used, else unused."""
    k = TICKETS
    refunded = k.c.status == "refunded"
    used = sa.and_(sa.not_(refunded), k.c.first_used_at.is_not(None))
    fee = sa.func.coalesce(k.c.refund_fee_vnd, 0)

    def total(when: ColumnElement[bool], value: Any) -> Any:
        return sa.func.sum(sa.case((when, value), else_=0))

    return session.execute(
        sa.select(
            k.c.product,
            k.c.origin,
            sa.func.count().label("n"),
            sa.func.sum(k.c.fare_vnd).label("vnd"),
            total(used, k.c.fare_vnd).label("used_vnd"),
            total(sa.and_(sa.not_(refunded), k.c.first_used_at.is_(None)), k.c.fare_vnd).label("unused_vnd"),
            total(refunded, 1).label("refunded"),
            total(refunded, k.c.fare_vnd - fee).label("refunded_vnd"),
            total(refunded, fee).label("fees"),
            total(sa.and_(refunded, k.c.first_used_at.is_not(None)), k.c.fare_vnd).label("ridden_refunded"),
        )
        .where(*in_range(k.c.issued_at, q))
        .group_by(k.c.product, k.c.origin)
    ).all()


def _ridden(session: Session, q: Query) -> list[Any]:
    """Trips started in the range by product and entry station: whole hours from trip_counts (kept by journal
    ingest), the rest from the trips."""
    assert q.since is not None
    assert q.until is not None
    whole, parts = scan_counts.split(q.since, q.until)
    totals: dict[tuple[str, str], list[int]] = {}
    found = [r for since, until in parts for r in _ridden_trips(session, since, until)]
    if whole is not None:
        found += rollups.summed(session, whole, ("product", "origin"))
    for r in found:
        sums = totals.setdefault((r.product or "", r.origin), [0, 0, 0])
        sums[0] += int(r.n)
        sums[1] += int(r.ridden_vnd or 0)
        sums[2] += int(r.owed_vnd or 0)
    return [_Ridden(p, o, n, vnd, owed) for (p, o), (n, vnd, owed) in sorted(totals.items())]


@dataclass(frozen=True, slots=True)
class _Ridden:
    product: str
    entry_station: str
    n: int
    vnd: int
    owed: int


def _ridden_trips(session: Session, since: datetime, until: datetime) -> Sequence[Any]:
    """Trips started in [since, until) by product and entry station, counted one by one. A single ticket's
    fare counts on its first trip only: a double-used one was paid for once."""
    t = TRIPS
    earlier = sa.alias(t, "earlier")
    # A ticket's trips are its credential's (t:<serial>): naming it lets each probe walk that credential's
    # trips by index instead of every earlier trip.
    first_trip = sa.not_(
        sa.exists().where(
            earlier.c.credential == t.c.credential,
            earlier.c.ticket_serial == t.c.ticket_serial,
            earlier.c.entry_station.is_not(None),
            sa.or_(
                earlier.c.started_at < t.c.started_at,
                sa.and_(earlier.c.started_at == t.c.started_at, earlier.c.id < t.c.id),
            ),
        )
    )
    fare = sa.case((sa.or_(t.c.ticket_serial.is_(None), first_trip), t.c.fare_vnd), else_=0)
    return session.execute(
        sa.select(
            t.c.product,
            t.c.entry_station.label("origin"),
            sa.func.count().label("n"),
            sa.func.sum(fare).label("ridden_vnd"),
            sa.func.sum(t.c.owed_vnd).label("owed_vnd"),
        )
        .where(t.c.entry_station.is_not(None), t.c.started_at >= since, t.c.started_at < until)
        .group_by(t.c.product, t.c.entry_station)
    ).all()
