"""Free rides: scans of free riders per category and station (fare_rules.free), entries and exits let through
and scans refused, read from the scans by the partial index on their category."""

from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import FreeRidesRow
from ticketing.audit.query import Query
from ticketing.audit.tables import SCANS, in_range

__all__ = ["rows"]


def rows(session: Session, q: Query) -> list[FreeRidesRow]:
    """The rows over q's range, by category then station; `station` filters."""
    t = SCANS
    where = [t.c.free_category.is_not(None), *in_range(t.c.at, q)]
    if q.station is not None:
        where.append(t.c.station == q.station)
    counted = session.execute(
        sa.select(t.c.free_category, t.c.station, t.c.direction, t.c.verdict, sa.func.count().label("n"))
        .where(*where)
        .group_by(t.c.free_category, t.c.station, t.c.direction, t.c.verdict)
    )
    totals: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"entries": 0, "exits": 0, "refused": 0}
    )
    for r in counted:
        cell = totals[r.free_category, r.station or ""]
        if r.verdict != "accept":
            cell["refused"] += r.n
        elif r.direction == "entry":
            cell["entries"] += r.n
        else:
            cell["exits"] += r.n
    return [
        FreeRidesRow(category=category, station=station or None, **counts)
        for (category, station), counts in sorted(totals.items())
    ]
