"""Trips by filter: one page at a time (JSON) or every matching trip as a CSV stream of any size.

Trips are kept by journal ingest (ticketing.ingest); here they are only read. Paging and the CSV walk:
`ticketing.audit.pages`; who a ticket, order or CCCD filter stands for: `ticketing.audit.who`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from ticketing.audit.csv_writer import csv_lines
from ticketing.audit.models import TripItem, TripsPage
from ticketing.audit.pages import CSV_PAGE, Key, every_row
from ticketing.audit.query import Query, decode_cursor, encode_cursor, iso
from ticketing.audit.tables import PASSES, TRIPS
from ticketing.audit.who import who_of
from ticketing.ingest.adjustments import SETTLEMENTS

__all__ = ["trips_csv", "trips_page"]


def _conditions(session: Session, cccd_key: bytes, q: Query) -> list[ColumnElement[bool]]:
    t = TRIPS
    where: list[ColumnElement[bool]] = []
    if q.station is not None:
        where.append(sa.or_(t.c.entry_station == q.station, t.c.exit_station == q.station))
    for column, value in (
        (t.c.entry_station, q.origin),
        (t.c.exit_station, q.destination),
        (t.c.product, q.product),
        (t.c.status, q.status),
    ):
        if value is not None:
            where.append(column == value)
    if q.gate is not None:
        where.append(sa.or_(t.c.entry_gate == q.gate, t.c.exit_gate == q.gate))
    if q.since is not None:
        where.append(t.c.started_at >= q.since)
    if q.until is not None:
        where.append(t.c.started_at < q.until)
    who = who_of(session, cccd_key, q)
    if who is not None:
        where.append(t.c.credential.in_(sorted(who.credentials)))
    return where


def _select(where: Sequence[ColumnElement[bool]], after: Key | None, limit: int) -> sa.Select[Any]:
    t = TRIPS
    conditions = list(where)
    if after is not None:
        conditions += [t.c.started_at >= after[0], sa.tuple_(t.c.started_at, t.c.id) > sa.tuple_(*after)]
    s = SETTLEMENTS.c  # a settled exit's adjustment: the settlement that let it out
    settled = sa.and_(s.gate_id == t.c.exit_gate, s.exit_seq == t.c.exit_seq)
    return (
        sa.select(t, PASSES.c.holder_masked, s.method, s.agent)
        .select_from(t.outerjoin(PASSES, PASSES.c.id == t.c.pass_id).outerjoin(SETTLEMENTS, settled))
        .where(*conditions)
        .order_by(t.c.started_at, t.c.id)
        .limit(limit)
    )


def _item(row: Any) -> dict[str, object]:
    """The fields of a TripItem, from a trip row: a page validates them into one, a CSV writes them as
    they are."""
    return {
        "id": row.id,
        "status": row.status,
        "started_at": iso(row.started_at),
        "credential": row.credential,
        "product": row.product,
        "ticket_serial": str(row.ticket_serial) if row.ticket_serial is not None else None,
        "pass_id": row.pass_id,
        "cccd": row.holder_masked,  # masked, from the pass; never the number
        "origin": row.entry_station,
        "entry_gate": row.entry_gate,
        "entry_at": iso(row.entry_at),
        "destination": row.exit_station,
        "exit_gate": row.exit_gate,
        "exit_at": iso(row.exit_at),
        "duration_s": row.duration_s,
        "fare_vnd": row.fare_vnd,
        "owed_vnd": row.owed_vnd,
        "flags": [f for f in row.flags.split(",") if f],
        "adjustment_method": row.method,
        "adjustment_agent": row.agent,
    }


def _after(q: Query) -> Key | None:
    return decode_cursor(q.cursor, "t", (datetime, int)) if q.cursor else None


def trips_page(session: Session, cccd_key: bytes, q: Query) -> TripsPage:
    """One page of trips matching `q`, by start time: complete, open (no exit yet) and orphan exits."""
    rows = session.execute(_select(_conditions(session, cccd_key, q), _after(q), q.limit)).all()
    last = rows[-1] if len(rows) == q.limit else None
    return TripsPage.model_validate(
        {
            "items": [_item(r) for r in rows],
            "next": encode_cursor("t", last.started_at, last.id) if last is not None else None,
        }
    )


def trips_csv(engine: Engine, cccd_key: bytes, q: Query) -> Iterator[str]:
    """Every trip matching `q` as CSV lines (a header first), in constant memory."""

    def page(session: Session, after: Key | None) -> Sequence[Any]:
        return session.execute(_select(_conditions(session, cccd_key, q), after, CSV_PAGE)).all()

    rows = every_row(engine, lambda: _after(q), page, key=lambda row: (row.started_at, row.id))
    return csv_lines(TripItem, (_item(row) for row in rows))
