"""Used after refund: tickets refunded (in the range) that an upload later showed used, because a gate
offline at the refund let them ride. Each with its refund (withdrawn when the use arrived within the hold,
else final: money returned for a ride taken) and its trips."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.anomalies.items import trip_as, trips_of
from ticketing.audit.models import RefundSummary, RiddenTrip, UsedAfterRefundFindings, UsedAfterRefundItem
from ticketing.audit.query import Query, iso
from ticketing.audit.tables import TICKETS, TRIPS, in_range
from ticketing.catalog import Catalog

__all__ = ["find"]


def find(session: Session, q: Query, _catalog: Catalog) -> UsedAfterRefundFindings:
    """The tickets refunded in q's range and used, by refund time."""
    k, t = TICKETS, TRIPS
    where = [k.c.refunded_at.is_not(None), k.c.first_used_at.is_not(None), *in_range(k.c.refunded_at, q)]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(
        sa.select(k).where(*where).order_by(k.c.refunded_at, k.c.serial).limit(q.limit)
    ).all()
    ridden_by = trips_of(session, t.c.ticket_serial, {r.serial for r in rows})
    items = [_item(r, ridden_by.get(r.serial, [])) for r in rows]
    return UsedAfterRefundFindings(count=int(total), items=items)


def _item(ticket: Any, ridden: list[Any]) -> UsedAfterRefundItem:
    fee = ticket.refund_fee_vnd or 0
    refund = RefundSummary(
        at=iso(ticket.refunded_at),
        amount_vnd=ticket.fare_vnd - fee,
        fee_vnd=fee,
        final_at=iso(ticket.refund_final_at),
        state="withdrawn" if ticket.refund_withdrawn_at is not None else "final",
    )
    return UsedAfterRefundItem(
        at=iso(ticket.first_used_at),
        credential=f"t:{ticket.serial}",
        refund=refund,
        trips=[trip_as(RiddenTrip, trip, status=trip.status) for trip in ridden],
    )
