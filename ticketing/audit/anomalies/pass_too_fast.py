"""Pass too fast: a pass seen at two stations closer in time than the train takes (hops x
min_seconds_per_hop), so two people may share it. Journal ingest keeps each such move as it pairs
(ticketing.ingest.candidates, `pass_moves`), so this reads a count and a page of rows."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import PassTooFastFindings, PassTooFastItem
from ticketing.audit.query import Query, iso
from ticketing.audit.tables import in_range
from ticketing.catalog import Catalog
from ticketing.ingest.candidates import MOVE_TABLE

__all__ = ["find"]


def find(session: Session, q: Query, _catalog: Catalog) -> PassTooFastFindings:
    """The moves into q's range (their later use in it) faster than the network allows, by time then
    credential."""
    m = MOVE_TABLE.c
    where = in_range(m.at, q)
    total = session.execute(sa.select(sa.func.count()).select_from(MOVE_TABLE).where(*where)).scalar_one()
    rows = session.execute(
        sa.select(MOVE_TABLE).where(*where).order_by(m.at, m.credential, m.gate_id, m.seq).limit(q.limit)
    ).all()
    items = [
        PassTooFastItem(
            credential=r.credential,
            at=iso(r.at),
            station=r.station,
            gate=r.gate_id,
            previous_station=r.previous_station,
            previous_at=iso(r.previous_at),
            seconds=int((r.at - r.previous_at).total_seconds()),
            at_least_s=r.at_least_s,
        )
        for r in rows
    ]
    return PassTooFastFindings(count=int(total), items=items)
