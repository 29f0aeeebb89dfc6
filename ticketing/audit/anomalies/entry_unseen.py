"""Entry unseen: exits whose entry never reached the server (orphan exits), which is reconciliation work.
Journal ingest notes them as it pairs (ticketing.ingest.candidates)."""

from __future__ import annotations

from sqlmodel import Session

from ticketing.audit.anomalies.items import noted_trips, trip_as
from ticketing.audit.models import EntryUnseenFindings, TripSummary
from ticketing.audit.query import Query
from ticketing.catalog import Catalog

__all__ = ["find"]


def find(session: Session, q: Query, _catalog: Catalog) -> EntryUnseenFindings:
    """The orphan exits of q's range."""
    total, rows = noted_trips(session, q, "entry_unseen")
    return EntryUnseenFindings(count=total, items=[trip_as(TripSummary, r) for r in rows])
