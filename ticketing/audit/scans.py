"""Scan events by filter: one page at a time (JSON) or every matching scan as a CSV stream of any size.

The API and the CLI call these same functions. Paging and the CSV walk: `ticketing.audit.pages`; who a
ticket, order or CCCD filter stands for: `ticketing.audit.who`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from ticketing.audit.csv_writer import csv_lines
from ticketing.audit.models import ScanItem, ScansPage
from ticketing.audit.pages import CSV_PAGE, Key, every_row
from ticketing.audit.query import Query, decode_cursor, encode_cursor, iso
from ticketing.audit.tables import PASSES, SCANS
from ticketing.audit.who import who_of
from ticketing.models import Gate

__all__ = ["scans_csv", "scans_page"]


def _gate_station(session: Session, gate_id: str) -> str | None:
    gate = session.get(Gate, gate_id)
    return gate.station if gate is not None else None


def _conditions(session: Session, cccd_key: bytes, q: Query) -> list[ColumnElement[bool]]:
    t = SCANS
    where: list[ColumnElement[bool]] = [t.c.at.is_not(None)]
    if q.gate is not None:
        where.append(t.c.gate_id == q.gate)
        # The gate's station too: lets the (station, at) index find the gate's hour.
        station = _gate_station(session, q.gate)
        if station is not None:
            where.append(t.c.station == station)
    for column, value in ((t.c.station, q.station), (t.c.product, q.product), (t.c.verdict, q.verdict)):
        if value is not None:
            where.append(column == value)
    if q.reason is not None:
        where.append(t.c.reason == q.reason)
    if q.since is not None:
        where.append(t.c.at >= q.since)
    if q.until is not None:
        where.append(t.c.at < q.until)
    who = who_of(session, cccd_key, q)
    if who is not None:
        matches: list[ColumnElement[bool]] = []
        matches.append(t.c.credential.in_(sorted(who.credentials)))
        if who.serials:  # refused before a credential was known (forged, unknown key): only these lack one
            matches.append(sa.and_(t.c.credential.is_(None), t.c.ticket_serial.in_(sorted(who.serials))))
        if who.holder is not None:
            matches.append(t.c.holder_hash == who.holder)  # a card with no pass still leaves its hash
        where.append(sa.or_(*matches))
    return where


def _select(where: Sequence[ColumnElement[bool]], after: Key | None, limit: int) -> sa.Select[Any]:
    t = SCANS
    conditions = list(where)
    if after is not None:
        conditions += [t.c.at >= after[0], sa.tuple_(t.c.at, t.c.gate_id, t.c.seq) > sa.tuple_(*after)]
    return (
        sa.select(t, PASSES.c.holder_masked)
        .select_from(t.outerjoin(PASSES, PASSES.c.id == t.c.pass_id))
        .where(*conditions)
        .order_by(t.c.at, t.c.gate_id, t.c.seq)
        .limit(limit)
    )


def _item(row: Any) -> dict[str, object]:
    """The fields of a ScanItem, from a scan row: a page validates them into one, a CSV writes them as
    they are."""
    flags = [f for f in row.flags.split(",") if f]
    # The gate flags a scan clock_suspect when its clock was off (or never checked); the offset it measured
    # at upload then dates the scan by the issuer's clock. A clock set right between the scan and the upload
    # leaves an offset of ~0: the time cannot be corrected, only doubted.
    suspect = "clock_suspect" in flags
    corrected = None
    if suspect and row.clock_offset_s and row.at is not None:
        corrected = row.at + timedelta(seconds=row.clock_offset_s)
    return {
        "at": iso(row.at),
        "station": row.station,
        "gate": row.gate_id,
        "seq": row.seq,
        "direction": row.direction,
        "verdict": row.verdict,
        "reason": row.reason,
        "flags": flags,
        "owed_vnd": row.owed_vnd,
        "input": row.input_kind,
        "credential": row.credential,
        "ticket_serial": str(row.ticket_serial) if row.ticket_serial is not None else None,
        "product": row.product,
        "pass_id": row.pass_id,
        "cccd": row.holder_masked,  # masked (0793******34), from the pass; never the number
        "received_at": iso(row.received_at),
        "problem": row.problem,
        "hash": row.hash,
        "clock_suspect": suspect,
        "clock_offset_s": row.clock_offset_s,
        "corrected_at": iso(corrected),
    }


def _after(q: Query) -> Key | None:
    return decode_cursor(q.cursor, "s", (datetime, str, int)) if q.cursor else None


def scans_page(session: Session, cccd_key: bytes, q: Query) -> ScansPage:
    """One page of scan events matching `q`, oldest first (`next` is None at the end)."""
    rows = session.execute(_select(_conditions(session, cccd_key, q), _after(q), q.limit)).all()
    last = rows[-1] if len(rows) == q.limit else None
    return ScansPage.model_validate(
        {
            "items": [_item(r) for r in rows],
            "next": encode_cursor("s", last.at, last.gate_id, last.seq) if last is not None else None,
        }
    )


def scans_csv(engine: Engine, cccd_key: bytes, q: Query) -> Iterator[str]:
    """Every scan matching `q` as CSV lines (a header first), in constant memory."""

    def page(session: Session, after: Key | None) -> Sequence[Any]:
        return session.execute(_select(_conditions(session, cccd_key, q), after, CSV_PAGE)).all()

    rows = every_row(engine, lambda: _after(q), page, key=lambda row: (row.at, row.gate_id, row.seq))
    return csv_lines(ScanItem, (_item(row) for row in rows))
