"""What several anomaly kinds list, and the reads that find it: scans refused for given reasons (passback,
overstay), a trip as an anomaly shows it, and the trips of a page of credentials or serials at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from ticketing.audit.models import RefusedScan, TripSummary
from ticketing.audit.query import Query, iso
from ticketing.audit.tables import SCANS, TRIPS, in_range
from ticketing.ingest import scan_counts
from ticketing.ingest.candidates import TRIP_TABLE

__all__ = ["noted_trips", "refused", "trip_as", "trips_of"]

Trip = TypeVar("Trip", bound=TripSummary)


def refused(session: Session, q: Query, reasons: Sequence[str]) -> tuple[int, list[RefusedScan]]:
    """How many scans in q's range were refused for one of `reasons`, and the first q.limit of them."""
    t = SCANS
    # The first few of each reason by (reason, at), then together: walking the range's scans by time read a
    # whole day of them when the reasons are rare, and one range over all the reasons sorted thousands. Only
    # the columns shown are read (a scan's row holds its whole journal event).
    shown = (t.c.at, t.c.gate_id, t.c.seq, t.c.station, t.c.credential, t.c.reason)
    order = (t.c.at, t.c.gate_id, t.c.seq)
    firsts = [
        sa.select(
            sa.select(*shown)
            .where(t.c.verdict == "deny", t.c.reason == reason, *in_range(t.c.at, q))
            .order_by(*order)
            .limit(q.limit)
            .subquery()
        )
        for reason in reasons
    ]
    found = sa.union_all(*firsts).subquery()
    rows = session.execute(
        sa.select(found).order_by(found.c.at, found.c.gate_id, found.c.seq).limit(q.limit)
    ).all()
    items = [
        RefusedScan(
            at=iso(r.at),
            station=r.station,
            gate=r.gate_id,
            credential=r.credential,
            reason=r.reason,
            source="refused",
        )
        for r in rows
    ]
    return _refusals(session, q, reasons), items


def _refusals(session: Session, q: Query, reasons: Sequence[str]) -> int:
    """The refusals counted: whole hours from scan_counts, the parts around them from the scans."""
    assert q.since is not None
    assert q.until is not None
    t, c = SCANS.c, scan_counts.TABLE.c
    whole, parts = scan_counts.split(q.since, q.until)
    total = 0
    for since, until in parts:
        where = [t.verdict == "deny", t.reason.in_(reasons), t.at >= since, t.at < until]
        total += session.execute(sa.select(sa.func.count()).where(*where)).scalar_one()
    if whole is not None:
        where = [c.hour >= whole[0], c.hour < whole[1], c.verdict == "deny", c.reason.in_(reasons)]
        total += session.execute(sa.select(sa.func.coalesce(sa.func.sum(c.n), 0)).where(*where)).scalar_one()
    return int(total)


def noted_trips(session: Session, q: Query, kind: str, *where: ColumnElement[bool]) -> tuple[int, list[Any]]:
    """How many trips ingest noted as `kind` (trip_anomalies) started in q's range, and the first q.limit of
    them, by start (trip_anomalies rows, with the trip's fields an anomaly shows); `where` narrows them."""
    a = TRIP_TABLE
    noted = [a.c.kind == kind, *in_range(a.c.started_at, q), *where]
    total = session.execute(sa.select(sa.func.count()).select_from(a).where(*noted)).scalar_one()
    rows = session.execute(
        sa.select(a, a.c.trip_id.label("id"))
        .where(*noted)
        .order_by(a.c.started_at, a.c.trip_id)
        .limit(q.limit)
    ).all()
    return int(total), list(rows)


def trip_as(model: type[Trip], row: Any, **extra: object) -> Trip:
    """A trips row as `model`: a TripSummary, or one with `extra` fields (where it came from, its status)."""
    return model.model_validate(
        {
            "at": iso(row.started_at),
            "credential": row.credential,
            "origin": row.entry_station,
            "entry_at": iso(row.entry_at),
            "destination": row.exit_station,
            "exit_gate": row.exit_gate,
            "exit_at": iso(row.exit_at),
            "duration_s": row.duration_s,
            "flags": row.flags,
            **extra,
        }
    )


def trips_of(
    session: Session, key: sa.Column[Any], values: set[Any], *where: ColumnElement[bool]
) -> dict[Any, list[Any]]:
    """The trips whose `key` is one of `values` (one query for a page of anomalies), by that key, in order."""
    t = TRIPS
    if not values:
        return {}
    rows = session.execute(
        sa.select(t).where(key.in_(sorted(values)), *where).order_by(t.c.started_at, t.c.id)
    ).all()
    found: dict[Any, list[Any]] = {}
    for row in rows:
        found.setdefault(getattr(row, key.name), []).append(row)
    return found
