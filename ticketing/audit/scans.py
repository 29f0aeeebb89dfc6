"""Scan events by filter: one page at a time (JSON) or every matching scan as a CSV stream of any size.

The API and the CLI call these same functions. Paging and the CSV walk: `ticketing.audit.pages`; who a
ticket, order or CCCD filter stands for: `ticketing.audit.who`.

A staff action is read in the same statement, from the rows ingest keeps beside the events
(`ticketing.ingest.adjustments`), each found by its journal event (gate, seq): an override's reason and agent,
a settlement's method, amount and agent, and for an exit a settlement let out, that settlement (by exit_seq).
An override is an event with a row in gate_overrides (what the overrides report counts), a settlement one
with verdict "settle"; every other event is a scan.
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
from ticketing.ingest.adjustments import OVERRIDES, SETTLEMENTS
from ticketing.models import Gate

__all__ = ["scans_csv", "scans_page"]

_OVERRIDE = OVERRIDES.alias("override")
_SETTLEMENT = SETTLEMENTS.alias("settlement")  # the settlement event itself
_SETTLED_BY = SETTLEMENTS.alias("settled_by")  # the settlement that let this exit out


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
    where += _kind(q)
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


def _kind(q: Query) -> list[ColumnElement[bool]]:
    """The `kind` filter; an override's time range repeated on its own table lets that index find them."""
    t, o = SCANS.c, _OVERRIDE.c
    if q.kind == "settlement":
        return [t.verdict == "settle"]
    if q.kind == "scan":
        return [o.id.is_(None), sa.or_(t.verdict.is_(None), t.verdict != "settle")]
    if q.kind != "override":
        return []
    where: list[ColumnElement[bool]] = [o.id.is_not(None)]
    if q.since is not None:
        where.append(o.at >= q.since)
    if q.until is not None:
        where.append(o.at < q.until)
    return where


def _select(where: Sequence[ColumnElement[bool]], after: Key | None, limit: int) -> sa.Select[Any]:
    t = SCANS
    conditions = list(where)
    if after is not None:
        conditions += [t.c.at >= after[0], sa.tuple_(t.c.at, t.c.gate_id, t.c.seq) > sa.tuple_(*after)]
    o, s, by = _OVERRIDE.c, _SETTLEMENT.c, _SETTLED_BY.c
    staff: list[ColumnElement[Any]] = [
        *(o.id.label("override_id"), o.reason.label("override_reason"), o.agent.label("override_agent")),
        *(o.gate_reason, s.method, s.collected_vnd, s.agent.label("settlement_agent"), s.exit_seq),
        *(by.seq.label("settled_by_seq"), by.method.label("settled_by_method")),
        *(by.collected_vnd.label("settled_by_vnd"), by.agent.label("settled_by_agent")),
    ]
    joined = (
        t.outerjoin(PASSES, PASSES.c.id == t.c.pass_id)
        .outerjoin(_OVERRIDE, sa.and_(o.gate_id == t.c.gate_id, o.seq == t.c.seq))
        .outerjoin(_SETTLEMENT, sa.and_(s.gate_id == t.c.gate_id, s.seq == t.c.seq))
        .outerjoin(_SETTLED_BY, sa.and_(by.gate_id == t.c.gate_id, by.exit_seq == t.c.seq))
    )
    return (
        sa.select(t, PASSES.c.holder_masked, *staff)
        .select_from(joined)
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
        **_staff(row),
    }


def _staff(row: Any) -> dict[str, object]:
    """The staff fields of a ScanItem: who overrode or settled it, how, and what the gate had said."""
    if row.override_id is not None:
        kind, agent = "override", row.override_agent
    elif row.verdict == "settle":
        kind, agent = "settlement", row.settlement_agent
    else:
        kind, agent = "scan", row.settled_by_agent
    return {
        "kind": kind,
        "agent": agent,
        "override_reason": row.override_reason,
        "gate_reason": row.gate_reason,
        "method": row.method or row.settled_by_method,
        "collected_vnd": row.collected_vnd if row.collected_vnd is not None else row.settled_by_vnd,
        "settlement_seq": row.settled_by_seq,
        "exit_seq": row.exit_seq,
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
