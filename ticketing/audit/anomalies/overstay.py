"""Overstay: single-ticket trips longer than the policy allows (let out by a gate that did not know the
entry), plus exits refused for time."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.anomalies.items import refused, trip_as
from ticketing.audit.models import OverstayFindings, OverstayTrip, RefusedScan
from ticketing.audit.query import Query
from ticketing.audit.tables import TRIPS, in_range
from ticketing.catalog import Catalog

__all__ = ["find"]

_REFUSED = ("trip_time_exceeded", "same_station_time_exceeded")


def find(session: Session, q: Query, catalog: Catalog) -> OverstayFindings:
    """The overlong trips started in q's range, then the exits refused for time in it."""
    t = TRIPS
    limit_s = catalog.policy.max_trip_minutes * 60
    where = [
        t.c.status == "complete",
        t.c.product == "single",
        t.c.duration_s > limit_s,
        *in_range(t.c.started_at, q),
    ]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(sa.select(t).where(*where).order_by(t.c.started_at, t.c.id).limit(q.limit)).all()
    refused_total, refused_scans = refused(session, q, _REFUSED)
    items: list[OverstayTrip | RefusedScan] = [trip_as(OverstayTrip, r, source="trip") for r in rows]
    items += refused_scans
    return OverstayFindings(count=int(total) + refused_total, items=items[: q.limit])
