"""Denials: refused scans per reason, station and gate; whole hours from scan_counts, the rest from the
scans."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import DenialsRow
from ticketing.audit.query import Query
from ticketing.audit.tables import SCANS
from ticketing.ingest import scan_counts

__all__ = ["rows"]

_Totals = Counter[tuple[str | None, str | None, str]]  # (reason, station, gate) -> refusals


def rows(session: Session, q: Query) -> list[DenialsRow]:
    """The rows over q's range, most refusals first; `station` and `gate` filter."""
    assert q.since is not None
    assert q.until is not None
    whole, parts = scan_counts.split(q.since, q.until)
    totals: _Totals = Counter()
    for since, until in parts:
        _add_scanned(session, q, since, until, totals)
    if whole is not None:
        columns = ("reason", "station", "gate_id")
        counted = scan_counts.summed(
            session, whole, columns, verdict="deny", station=q.station, gate_id=q.gate
        )
        for r in counted:
            totals[r.reason or None, r.station or None, r.gate_id] += int(r.n)
    ordered = sorted(
        totals.items(), key=lambda item: (-item[1], item[0][0] or "", item[0][1] or "", item[0][2])
    )
    return [DenialsRow(reason=r, station=s, gate=g, denials=n) for (r, s, g), n in ordered]


def _add_scanned(session: Session, q: Query, since: datetime, until: datetime, totals: _Totals) -> None:
    t = SCANS
    where = [t.c.verdict == "deny", t.c.at >= since, t.c.at < until]
    if q.station is not None:
        where.append(t.c.station == q.station)
    if q.gate is not None:
        where.append(t.c.gate_id == q.gate)
    scanned = session.execute(
        sa.select(t.c.reason, t.c.station, t.c.gate_id, sa.func.count().label("n"))
        .where(*where)
        .group_by(t.c.reason, t.c.station, t.c.gate_id)
    )
    for r in scanned:
        totals[r.reason, r.station, r.gate_id] += r.n
