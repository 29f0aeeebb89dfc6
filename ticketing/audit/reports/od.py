"""Origin-destination: complete trips per origin and destination, their fares and mean duration."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import OdRow
from ticketing.audit.query import Query
from ticketing.audit.tables import TRIPS, in_range

__all__ = ["rows"]


def rows(session: Session, q: Query) -> list[OdRow]:
    """The rows over q's range (trips started in it), by origin then destination; `product` filters."""
    t = TRIPS
    where = [t.c.status == "complete", *in_range(t.c.started_at, q)]
    if q.product is not None:
        where.append(t.c.product == q.product)
    found = session.execute(
        sa.select(
            t.c.entry_station,
            t.c.exit_station,
            sa.func.count().label("trips"),
            sa.func.sum(t.c.fare_vnd).label("fare_vnd"),
            sa.func.avg(t.c.duration_s).label("avg_duration_s"),
        )
        .where(*where)
        .group_by(t.c.entry_station, t.c.exit_station)
    ).all()
    return [
        OdRow(
            origin=r.entry_station,
            destination=r.exit_station,
            trips=r.trips,
            fare_vnd=int(r.fare_vnd or 0),
            avg_duration_s=round(float(r.avg_duration_s or 0)),
        )
        for r in sorted(found, key=lambda r: (r.entry_station, r.exit_station))
    ]
