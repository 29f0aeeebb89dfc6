"""Overstay: single-ticket trips longer than the policy allows (let out by a gate that did not know the
entry), plus exits refused for time. Journal ingest notes the long trips as it pairs
(ticketing.ingest.candidates); a policy limit under its floor reads the trips instead."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.anomalies.items import noted_trips, refused, trip_as
from ticketing.audit.models import OverstayFindings, OverstayTrip, RefusedScan
from ticketing.audit.query import Query
from ticketing.audit.tables import TRIPS, in_range
from ticketing.catalog import Catalog
from ticketing.ingest.candidates import OVERSTAY_FLOOR_S, TRIP_TABLE

__all__ = ["find"]

_REFUSED = ("trip_time_exceeded", "same_station_time_exceeded")


def find(session: Session, q: Query, catalog: Catalog) -> OverstayFindings:
    """The overlong trips started in q's range, then the exits refused for time in it."""
    limit_s = catalog.policy.max_trip_minutes * 60
    if limit_s >= OVERSTAY_FLOOR_S:
        total, rows = noted_trips(session, q, "overstay", TRIP_TABLE.c.duration_s > limit_s)
    else:
        total, rows = _long_trips(session, q, limit_s)
    refused_total, refused_scans = refused(session, q, _REFUSED)
    items: list[OverstayTrip | RefusedScan] = [trip_as(OverstayTrip, r, source="trip") for r in rows]
    items += refused_scans
    return OverstayFindings(count=total + refused_total, items=items[: q.limit])


def _long_trips(session: Session, q: Query, limit_s: int) -> tuple[int, list[Any]]:
    """The overlong trips counted from the trips themselves, for a limit ingest does not note."""
    t = TRIPS
    where = [
        t.c.status == "complete",
        t.c.product == "single",
        t.c.duration_s > limit_s,
        *in_range(t.c.started_at, q),
    ]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(sa.select(t).where(*where).order_by(t.c.started_at, t.c.id).limit(q.limit)).all()
    return int(total), list(rows)
