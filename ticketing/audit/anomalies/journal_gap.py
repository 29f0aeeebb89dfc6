"""Journal gap: every gate whose journal has a hole, whatever the range; `since` is the time of the last event
before it (when the gate's record stops being whole)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import JournalGapFindings, JournalGapItem
from ticketing.audit.query import Query, iso
from ticketing.audit.tables import GAPS, GATES, SCANS
from ticketing.catalog import Catalog

__all__ = ["find"]


def find(session: Session, q: Query, _catalog: Catalog) -> JournalGapFindings:
    """Every gap still missing events, by gate and first missing seq."""
    g = GAPS
    gaps = session.execute(
        sa.select(g, GATES.c.station)
        .join(GATES, GATES.c.gate_id == g.c.gate_id)
        .order_by(g.c.gate_id, g.c.from_seq)
    ).all()
    items = [item for gap in gaps if (item := _hole(session, gap)) is not None]
    return JournalGapFindings(count=len(items), items=items[: q.limit])


def _hole(session: Session, gap: Any) -> JournalGapItem | None:
    # A gap answered 409 is usually filled by the gate's resend: only what is still missing is a hole.
    s = SCANS
    stored = session.execute(
        sa.select(sa.func.count())
        .select_from(s)
        .where(s.c.gate_id == gap.gate_id, s.c.seq.between(gap.from_seq, gap.to_seq))
    ).scalar_one()
    missing = gap.to_seq - gap.from_seq + 1 - stored
    if missing <= 0:
        return None
    before = session.execute(
        sa.select(s.c.at).where(s.c.gate_id == gap.gate_id, s.c.seq == gap.from_seq - 1)
    ).scalar_one_or_none()
    return JournalGapItem(
        gate=gap.gate_id,
        station=gap.station,
        from_seq=gap.from_seq,
        to_seq=gap.to_seq,
        missing=missing,
        since=iso(before) if before is not None else iso(gap.detected_at),
        detected_at=iso(gap.detected_at),
        accepted_as_lost=gap.accepted_at is not None,
    )
