"""Entry unseen: exits whose entry never reached the server (orphan exits), which is reconciliation work."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.anomalies.items import trip_as
from ticketing.audit.models import EntryUnseenFindings, TripSummary
from ticketing.audit.query import Query
from ticketing.audit.tables import TRIPS, in_range
from ticketing.catalog import Catalog

__all__ = ["find"]


def find(session: Session, q: Query, _catalog: Catalog) -> EntryUnseenFindings:
    """The orphan exits of q's range."""
    t = TRIPS
    where = [t.c.status == "orphan_exit", *in_range(t.c.started_at, q)]
    total = session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    rows = session.execute(sa.select(t).where(*where).order_by(t.c.started_at, t.c.id).limit(q.limit)).all()
    return EntryUnseenFindings(count=int(total), items=[trip_as(TripSummary, r) for r in rows])
