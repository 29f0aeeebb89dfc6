"""Adjustments: fares owed that station staff settled at the gates, by station, gate and method, as the
revenue report shows them beside the fares ridden (ticketing.ingest.adjustments stores the settlements).

A trip is settled once: of a credential's accepted settlements, the first (by time, then gate and seq)
counts, and any later one, at whatever gate and in whatever range, is a double settlement.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from ticketing.audit.models import AdjustmentRow
from ticketing.audit.query import Query
from ticketing.audit.tables import in_range
from ticketing.ingest.adjustments import SETTLEMENTS

__all__ = ["rows"]


def rows(session: Session, q: Query) -> list[AdjustmentRow]:
    """The settlements made in q's range, by station, gate and method."""
    s = SETTLEMENTS.c
    accepted = s.reason.is_(None)
    counted, double = sa.and_(accepted, sa.not_(_settled_before())), sa.and_(accepted, _settled_before())

    def total(when: ColumnElement[bool], value: Any) -> Any:
        return sa.func.coalesce(sa.func.sum(sa.case((when, value), else_=0)), 0)

    found = session.execute(
        sa.select(
            s.station,
            s.gate_id,
            s.method,
            total(counted, 1).label("settlements"),
            total(counted, s.collected_vnd).label("collected"),
            total(double, 1).label("doubles"),
            total(double, s.collected_vnd).label("double_collected"),
            total(sa.not_(accepted), 1).label("refused"),
        )
        .where(*in_range(s.at, q))
        .group_by(s.station, s.gate_id, s.method)
        .order_by(s.station, s.gate_id, s.method)
    ).all()
    return [
        AdjustmentRow(
            station=r.station, gate=r.gate_id, method=r.method, settlements=int(r.settlements),
            collected_vnd=int(r.collected), double_settlements=int(r.doubles),
            double_collected_vnd=int(r.double_collected), refused_settlements=int(r.refused),
        )
        for r in found
    ]  # fmt: skip


def _settled_before() -> ColumnElement[bool]:
    """An accepted settlement of the same credential comes before this one."""
    s, earlier = SETTLEMENTS.c, sa.alias(SETTLEMENTS, "earlier").c
    before = sa.or_(
        earlier.at < s.at,
        sa.and_(earlier.at == s.at, sa.tuple_(earlier.gate_id, earlier.seq) < sa.tuple_(s.gate_id, s.seq)),
    )
    return sa.exists().where(earlier.credential == s.credential, earlier.reason.is_(None), before)
