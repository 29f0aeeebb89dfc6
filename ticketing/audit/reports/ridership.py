"""Ridership: accepted entries and exits, and refused scans (as the denials report counts them), per station
and local hour or day.

Whole hours come from scan_counts (kept by journal ingest), the rest of the range from the scans; buckets
are computed in SQL (date_trunc on PostgreSQL, strftime on SQLite) so only the aggregate leaves the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from ticketing.audit.models import RidershipByDay, RidershipByHour
from ticketing.audit.query import Query
from ticketing.audit.tables import SCANS
from ticketing.ingest import scan_counts

__all__ = ["ROWS", "rows"]

ROWS: dict[str, type[RidershipByHour] | type[RidershipByDay]] = {
    "hour": RidershipByHour,
    "day": RidershipByDay,
}

_Totals = dict[tuple[str | None, str], list[int]]  # (station, bucket) -> [entries, exits, denials]


def rows(session: Session, q: Query) -> list[RidershipByHour] | list[RidershipByDay]:
    """The rows over q's range, by bucket then station."""
    totals = sorted(_totals(session, q).items(), key=lambda item: (item[0][1], item[0][0] or ""))
    if q.bucket == "day":
        return [
            RidershipByDay(station=s, day=b, entries=e, exits=x, denials=n) for (s, b), (e, x, n) in totals
        ]
    return [RidershipByHour(station=s, hour=b, entries=e, exits=x, denials=n) for (s, b), (e, x, n) in totals]


def _totals(session: Session, q: Query) -> _Totals:
    assert q.since is not None
    assert q.until is not None
    whole, parts = scan_counts.split(q.since, q.until)
    totals: _Totals = {}
    for since, until in parts:
        for r in _scanned(session, q, since, until):
            sums = totals.setdefault((r.station, _bucket_text(r.bucket, q)), [0, 0, 0])
            sums[0] += r.entries
            sums[1] += r.exits
            sums[2] += r.denials
    if whole is not None:
        columns = ("station", "hour", "direction")
        counted = scan_counts.summed(
            session, whole, columns, verdict="accept", problem=False, station=q.station
        )
        for r in counted:
            local = (r.hour + timedelta(hours=q.utc_offset_hours)).replace(tzinfo=None)
            sums = totals.setdefault((r.station or None, _bucket_text(local, q)), [0, 0, 0])
            if r.direction in ("entry", "exit"):
                sums[0 if r.direction == "entry" else 1] += int(r.n)
        for r in scan_counts.summed(session, whole, ("station", "hour"), verdict="deny", station=q.station):
            local = (r.hour + timedelta(hours=q.utc_offset_hours)).replace(tzinfo=None)
            totals.setdefault((r.station or None, _bucket_text(local, q)), [0, 0, 0])[2] += int(r.n)
    return totals


def _scanned(session: Session, q: Query, since: datetime, until: datetime) -> Sequence[Any]:
    t = SCANS
    bucket = _bucket(session, t.c.at, q).label("bucket")
    used = sa.and_(t.c.verdict == "accept", t.c.problem.is_(None))
    entries = sa.func.sum(sa.case((sa.and_(used, t.c.direction == "entry"), 1), else_=0)).label("entries")
    exits = sa.func.sum(sa.case((sa.and_(used, t.c.direction == "exit"), 1), else_=0)).label("exits")
    denials = sa.func.sum(sa.case((t.c.verdict == "deny", 1), else_=0)).label("denials")
    where = [t.c.verdict.in_(("accept", "deny")), t.c.at >= since, t.c.at < until]
    if q.station is not None:
        where.append(t.c.station == q.station)
    return session.execute(
        sa.select(t.c.station, bucket, entries, exits, denials).where(*where).group_by(t.c.station, bucket)
    ).all()


def _bucket(session: Session, column: sa.Column[Any], q: Query) -> ColumnElement[Any]:
    """The local hour or day (q.bucket, in q's local time) of a UTC time column."""
    hours = int(q.utc_offset_hours)  # an int: it goes into the SQL text
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.date_trunc(q.bucket, column + sa.text(f"interval '{hours} hours'"))
    return sa.func.strftime(
        "%Y-%m-%d %H:00" if q.bucket == "hour" else "%Y-%m-%d", column, f"{hours:+d} hours"
    )


def _bucket_text(value: Any, q: Query) -> str:
    if isinstance(value, datetime):
        value = value.strftime("%Y-%m-%d %H:00" if q.bucket == "hour" else "%Y-%m-%d")
    offset = datetime(2000, 1, 1, tzinfo=q.local).strftime("%z")
    return f"{str(value).replace(' ', 'T')}{offset[:3]}:{offset[3:]}" if q.bucket == "hour" else str(value)
