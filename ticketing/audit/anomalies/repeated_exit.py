"""Repeated exit: second exits of a trip already complete (two exit gates that did not know of each other),
each with the trip it repeats: the ride was paid once and let out twice, so the QR may have been shared.
Journal ingest notes them as it pairs (ticketing.ingest.candidates)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlmodel import Session

from ticketing.audit.anomalies.items import noted_trips, trip_as, trips_of
from ticketing.audit.models import RepeatedExitFindings, RepeatedExitItem, TripSummary
from ticketing.audit.query import Query, iso
from ticketing.audit.tables import TRIPS
from ticketing.catalog import Catalog
from ticketing.ingest.rules import PAIRING_WINDOW

__all__ = ["find"]


def find(session: Session, q: Query, catalog: Catalog) -> RepeatedExitFindings:
    """The repeated exits of q's range, each with the complete trip it repeats (the latest that entered
    before it left)."""
    t = TRIPS
    total, rows = noted_trips(session, q, "repeated_exit")
    if not rows:
        return RepeatedExitFindings(count=total, items=[])
    latest = max(r.exit_at for r in rows)
    # The trip a repeated exit repeats entered within passback_reset_minutes of it (rules.repeats_exit), and
    # stays complete; later entries only come closer. A pass's month of trips before that is not read. A
    # complete trip started at its entry: bounding started_at lets the (credential, started_at) index do it.
    reach = max(PAIRING_WINDOW, timedelta(minutes=catalog.policy.passback_reset_minutes))
    complete = trips_of(
        session,
        t.c.credential,
        {r.credential for r in rows},
        t.c.status == "complete",
        t.c.started_at <= latest,
        t.c.started_at >= min(r.exit_at for r in rows) - reach,
    )
    items = [_item(r, complete.get(r.credential, [])) for r in rows]
    return RepeatedExitFindings(count=total, items=items)


def _item(row: Any, complete: list[Any]) -> RepeatedExitItem:
    before = [c for c in complete if c.entry_at <= row.exit_at]
    repeats = trip_as(TripSummary, max(before, key=lambda c: c.entry_at)) if before else None
    return RepeatedExitItem(
        at=iso(row.exit_at),
        credential=row.credential,
        station=row.exit_station,
        gate=row.exit_gate,
        flags=row.flags,
        repeats=repeats,
    )
