"""Origin-destination: complete trips per origin and destination, their fares and mean duration. Whole hours
come from trip_counts (kept by journal ingest), the rest of the range from the trips."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import OdRow
from ticketing.audit.query import Query
from ticketing.audit.tables import TRIPS
from ticketing.ingest import rollups, scan_counts

__all__ = ["rows"]

_Totals = dict[tuple[str, str], list[int]]  # (origin, destination) -> [trips, fares, seconds]


def rows(session: Session, q: Query) -> list[OdRow]:
    """The rows over q's range (trips started in it), by origin then destination; `product` filters."""
    assert q.since is not None
    assert q.until is not None
    whole, parts = scan_counts.split(q.since, q.until)
    totals: _Totals = {}
    for since, until in parts:
        _add(totals, _scanned(session, q, since, until))
    if whole is not None:
        counted = rollups.summed(session, whole, ("origin", "destination"), complete=True, product=q.product)
        _add(totals, counted)
    return [
        OdRow(origin=o, destination=d, trips=n, fare_vnd=fare, avg_duration_s=round(seconds / n))
        for (o, d), (n, fare, seconds) in sorted(totals.items())
    ]


def _add(totals: _Totals, found: Iterable[Any]) -> None:
    for r in found:
        sums = totals.setdefault((r.origin, r.destination), [0, 0, 0])
        sums[0] += int(r.n)
        sums[1] += int(r.fare_vnd or 0)
        sums[2] += int(r.duration_s or 0)


def _scanned(session: Session, q: Query, since: datetime, until: datetime) -> Any:
    t = TRIPS
    where = [t.c.status == "complete", t.c.started_at >= since, t.c.started_at < until]
    if q.product is not None:
        where.append(t.c.product == q.product)
    return session.execute(
        sa.select(
            t.c.entry_station.label("origin"),
            t.c.exit_station.label("destination"),
            sa.func.count().label("n"),
            sa.func.sum(t.c.fare_vnd).label("fare_vnd"),
            sa.func.sum(t.c.duration_s).label("duration_s"),
        )
        .where(*where)
        .group_by(t.c.entry_station, t.c.exit_station)
    ).all()
