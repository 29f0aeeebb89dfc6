"""Overrides: what station staff admitted or refused by hand, counted per station, gate, agent, action and
reason code (ticketing.ingest.adjustments stores them from the gates' journals)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import OverridesRow
from ticketing.audit.query import Query
from ticketing.audit.tables import in_range
from ticketing.ingest.adjustments import OVERRIDES

__all__ = ["rows"]


def rows(session: Session, q: Query) -> list[OverridesRow]:
    """The overrides in q's range, most first; `station` and `gate` filter."""
    o = OVERRIDES.c
    where = in_range(o.at, q)
    if q.station is not None:
        where.append(o.station == q.station)
    if q.gate is not None:
        where.append(o.gate_id == q.gate)
    keys = (o.station, o.gate_id, o.agent, o.action, o.reason)
    n = sa.func.count().label("n")
    found = session.execute(sa.select(*keys, n).where(*where).group_by(*keys).order_by(n.desc(), *keys)).all()
    return [
        OverridesRow(
            station=r.station, gate=r.gate_id, agent=r.agent, action=r.action, reason=r.reason, overrides=r.n
        )
        for r in found
    ]
