"""Audits: scans and trips by filter, one page at a time or as a CSV stream of any size; reports and anomalies
(ticketing.services.audit_reports). The API and the CLI call these same functions.

Pages are keyset pages over a unique sort key — scans by (at, gate, seq), trips by (started_at, id) — and the
cursor is that key of the last row sent. A walk through the pages therefore never repeats or skips a row that
existed when it started, however many events arrive meanwhile; events that arrive late with an earlier time
(a gate that was offline) show up on the next walk. A CSV walks the same pages with a fresh short
transaction each, so memory stays flat and no transaction stays open for the whole download.

Who is asked about: a ticket serial or an order becomes the credentials its tickets and passes are scanned as
(`t:<serial>`, `p:<pass id>`); a CCCD number becomes its keyed hash (never stored, logged or echoed: responses
show the masked number kept with the pass).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from fare_rules.cccd import holder_hash
from ticketing.audit.csv_writer import csv_line
from ticketing.audit.query import (
    ANOMALY_FILTERS,
    REPORT_FILTERS,
    SCAN_FILTERS,
    TRIP_FILTERS,
    Query,
    decode_cursor,
    encode_cursor,
    iso,
    parse_query,
)
from ticketing.models import Gate, Pass, ScanEvent, Ticket, Trip, table_of
from ticketing.services.audit_reports import ANOMALY_COLUMNS, anomalies, anomaly_rows, report, rows_csv

__all__ = [
    "ANOMALY_COLUMNS",
    "ANOMALY_FILTERS",
    "REPORT_FILTERS",
    "SCAN_COLUMNS",
    "SCAN_FILTERS",
    "TRIP_COLUMNS",
    "TRIP_FILTERS",
    "anomalies",
    "anomaly_rows",
    "iso",
    "parse_query",
    "report",
    "rows_csv",
    "scans_csv",
    "scans_page",
    "trips_csv",
    "trips_page",
]

_SCANS: sa.Table = table_of(ScanEvent)
_TRIPS: sa.Table = table_of(Trip)
_PASSES: sa.Table = table_of(Pass)
_TICKETS: sa.Table = table_of(Ticket)
_CSV_PAGE = 2000

SCAN_COLUMNS = (
    "at", "station", "gate", "seq", "direction", "verdict", "reason", "flags", "owed_vnd", "input",
    "credential", "ticket_serial", "product", "pass_id", "cccd", "received_at", "problem", "hash",
    "clock_suspect", "clock_offset_s", "corrected_at",
)  # fmt: skip
TRIP_COLUMNS = (
    "id", "status", "started_at", "credential", "product", "ticket_serial", "pass_id", "cccd",
    "origin", "entry_gate", "entry_at", "destination", "exit_gate", "exit_at", "duration_s",
    "fare_vnd", "owed_vnd", "flags",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Who:
    """The credentials, serials and holder hash a ticket / order / CCCD filter stands for."""

    credentials: frozenset[str]
    serials: frozenset[int]
    holder: str | None


def _who(session: Session, cccd_key: bytes, q: Query) -> _Who | None:
    if q.ticket is None and q.order is None and q.cccd is None:
        return None
    tickets = _TICKETS
    ticket_rows: list[Any] = []
    if q.ticket is not None:
        ticket_rows += session.execute(
            sa.select(tickets.c.id, tickets.c.serial).where(tickets.c.serial == q.ticket)
        )
    if q.order is not None:
        ticket_rows += session.execute(
            sa.select(tickets.c.id, tickets.c.serial).where(tickets.c.order_id == q.order)
        )
    serials = {int(r.serial) for r in ticket_rows} | ({q.ticket} if q.ticket is not None else set())
    credentials = {f"t:{s}" for s in serials}
    holder = holder_hash(q.cccd, cccd_key).hex() if q.cccd else None
    pass_filter: list[ColumnElement[bool]] = []
    if ticket_rows:
        pass_filter.append(_PASSES.c.ticket_id.in_([r.id for r in ticket_rows]))
    if holder is not None:
        pass_filter.append(_PASSES.c.holder_hash == holder)
    if pass_filter:
        ids = session.execute(sa.select(_PASSES.c.id).where(sa.or_(*pass_filter))).scalars()
        credentials |= {f"p:{pid}" for pid in ids}
    if q.ticket is not None and q.order is not None:  # both given: what the ticket did within the order
        credentials &= {f"t:{q.ticket}"} | {c for c in credentials if c.startswith("p:")}
    return _Who(frozenset(credentials), frozenset(serials), holder)


def _gate_station(session: Session, gate_id: str) -> str | None:
    gate = session.get(Gate, gate_id)
    return gate.station if gate is not None else None


# --- scans ---------------------------------------------------------------------------------------------


def _scan_conditions(session: Session, cccd_key: bytes, q: Query) -> list[ColumnElement[bool]]:
    t = _SCANS
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
    who = _who(session, cccd_key, q)
    if who is not None:
        matches: list[ColumnElement[bool]] = []
        matches.append(t.c.credential.in_(sorted(who.credentials)))
        if who.serials:  # refused before a credential was known (forged, unknown key): only these lack one
            matches.append(sa.and_(t.c.credential.is_(None), t.c.ticket_serial.in_(sorted(who.serials))))
        if who.holder is not None:
            matches.append(t.c.holder_hash == who.holder)  # a card with no pass still leaves its hash
        where.append(sa.or_(*matches))
    return where


def _scan_select(
    where: Sequence[ColumnElement[bool]], after: tuple[Any, ...] | None, limit: int
) -> sa.Select[Any]:
    t = _SCANS
    conditions = list(where)
    if after is not None:
        conditions += [t.c.at >= after[0], sa.tuple_(t.c.at, t.c.gate_id, t.c.seq) > sa.tuple_(*after)]
    return (
        sa.select(t, _PASSES.c.holder_masked)
        .select_from(t.outerjoin(_PASSES, _PASSES.c.id == t.c.pass_id))
        .where(*conditions)
        .order_by(t.c.at, t.c.gate_id, t.c.seq)
        .limit(limit)
    )


def _scan_out(row: Any) -> dict[str, Any]:
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
        "corrected_at": iso(corrected) if corrected is not None else None,
    }


def scans_page(session: Session, cccd_key: bytes, q: Query) -> dict[str, Any]:
    """One page of scan events matching `q`, oldest first: `{"items", "next"}` (next is None at the end)."""
    after = decode_cursor(q.cursor, "s", (datetime, str, int)) if q.cursor else None
    rows = session.execute(_scan_select(_scan_conditions(session, cccd_key, q), after, q.limit)).all()
    last = rows[-1] if len(rows) == q.limit else None
    return {
        "items": [_scan_out(r) for r in rows],
        "next": encode_cursor("s", last.at, last.gate_id, last.seq) if last is not None else None,
    }


# --- trips ---------------------------------------------------------------------------------------------


def _trip_conditions(session: Session, cccd_key: bytes, q: Query) -> list[ColumnElement[bool]]:
    t = _TRIPS
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
    who = _who(session, cccd_key, q)
    if who is not None:
        where.append(t.c.credential.in_(sorted(who.credentials)))
    return where


def _trip_select(
    where: Sequence[ColumnElement[bool]], after: tuple[Any, ...] | None, limit: int
) -> sa.Select[Any]:
    t = _TRIPS
    conditions = list(where)
    if after is not None:
        conditions += [t.c.started_at >= after[0], sa.tuple_(t.c.started_at, t.c.id) > sa.tuple_(*after)]
    return (
        sa.select(t, _PASSES.c.holder_masked)
        .select_from(t.outerjoin(_PASSES, _PASSES.c.id == t.c.pass_id))
        .where(*conditions)
        .order_by(t.c.started_at, t.c.id)
        .limit(limit)
    )


def _trip_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "status": row.status,
        "started_at": iso(row.started_at),
        "credential": row.credential,
        "product": row.product,
        "ticket_serial": str(row.ticket_serial) if row.ticket_serial is not None else None,
        "pass_id": row.pass_id,
        "cccd": row.holder_masked,
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
    }


def trips_page(session: Session, cccd_key: bytes, q: Query) -> dict[str, Any]:
    """One page of trips matching `q`, by start time: complete, open (no exit yet) and orphan exits."""
    after = decode_cursor(q.cursor, "t", (datetime, int)) if q.cursor else None
    rows = session.execute(_trip_select(_trip_conditions(session, cccd_key, q), after, q.limit)).all()
    last = rows[-1] if len(rows) == q.limit else None
    return {
        "items": [_trip_out(r) for r in rows],
        "next": encode_cursor("t", last.started_at, last.id) if last is not None else None,
    }


# --- CSV -------------------------------------------------------------------------------------------------


def _paged_csv(
    engine: Engine,
    columns: Sequence[str],
    first: Callable[[], tuple[Any, ...] | None],
    page: Callable[[Session, tuple[Any, ...] | None], Sequence[Any]],
    *,
    out: Callable[[Any], dict[str, Any]],
    key: Callable[[Any], tuple[Any, ...]],
) -> Iterator[str]:
    """CSV lines (a header first) in constant memory: `page` reads `_CSV_PAGE` rows after a key in a short
    session of its own, starting after `first()`, the decoded cursor (called once the header is out)."""
    yield csv_line(columns)
    after = first()
    while True:
        with Session(engine) as session:
            rows = page(session, after)
        for row in rows:
            values = out(row)
            yield csv_line([values[c] for c in columns])
        if len(rows) < _CSV_PAGE:
            return
        after = key(rows[-1])


def scans_csv(engine: Engine, cccd_key: bytes, q: Query) -> Iterator[str]:
    """Every scan matching `q` as CSV lines (a header first), in constant memory."""

    def page(session: Session, after: tuple[Any, ...] | None) -> Sequence[Any]:
        return session.execute(_scan_select(_scan_conditions(session, cccd_key, q), after, _CSV_PAGE)).all()

    return _paged_csv(
        engine,
        SCAN_COLUMNS,
        lambda: decode_cursor(q.cursor, "s", (datetime, str, int)) if q.cursor else None,
        page,
        out=_scan_out,
        key=lambda row: (row.at, row.gate_id, row.seq),
    )


def trips_csv(engine: Engine, cccd_key: bytes, q: Query) -> Iterator[str]:
    """Every trip matching `q` as CSV lines (a header first), in constant memory."""

    def page(session: Session, after: tuple[Any, ...] | None) -> Sequence[Any]:
        return session.execute(_trip_select(_trip_conditions(session, cccd_key, q), after, _CSV_PAGE)).all()

    return _paged_csv(
        engine,
        TRIP_COLUMNS,
        lambda: decode_cursor(q.cursor, "t", (datetime, int)) if q.cursor else None,
        page,
        out=_trip_out,
        key=lambda row: (row.started_at, row.id),
    )
