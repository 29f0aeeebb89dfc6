"""Ingest on SQLite, the embedded engine: the rules applied in Python (`rules.pair`) over the trips read
back, and each step one executemany statement. One writer at a time, so there is nothing to order. The
trips around the uses are read before and after pairing (trip_changes.read_around) to keep the trip counts
and the noted trips by their difference, and the pass moves by what is there after."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from ticketing.ingest import rollups
from ticketing.ingest.candidates import keep_noted_trips, keep_pass_moves
from ticketing.ingest.rules import PAIRING_WINDOW, DoubleUseRule, FirstUses, TripDraft, pair, use_of
from ticketing.ingest.scan_counts import COUNT_KEY, CountKey
from ticketing.ingest.trip_changes import read_around
from ticketing.models import Pass, ScanCount, ScanEvent, Ticket, Trip, table_of
from ticketing.services.tickets import withdraw_held_refunds

__all__ = ["TRIP_COLUMNS", "SQLiteIngest"]

_SCANS: sa.Table = table_of(ScanEvent)
_COUNTS: sa.Table = table_of(ScanCount)
_TRIPS: sa.Table = table_of(Trip)
_TICKETS: sa.Table = table_of(Ticket)
_PASSES: sa.Table = table_of(Pass)
TRIP_COLUMNS = [c.name for c in _TRIPS.columns if c.name not in ("id", "credential")]


class SQLiteIngest:
    """The ingest adapter for SQLite (ticketing.ingest.adapter.IngestEngine)."""

    name = "sqlite"

    def insert_events(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> set[int]:
        statement = (
            sqlite.insert(_SCANS)
            .on_conflict_do_nothing(index_elements=["gate_id", "seq"])
            .returning(_SCANS.c.seq)
        )
        return set(connection.execute(statement, list(rows)).scalars())

    def add_scan_counts(self, connection: Connection, counts: Sequence[tuple[CountKey, int]]) -> None:
        insert = sqlite.insert(_COUNTS)
        statement = insert.on_conflict_do_update(
            index_elements=list(COUNT_KEY), set_={"n": _COUNTS.c.n + insert.excluded.n}
        )
        connection.execute(statement, [{**dict(zip(COUNT_KEY, k, strict=True)), "n": n} for k, n in counts])

    def record_uses(
        self,
        connection: Connection,
        rows: Sequence[Mapping[str, Any]],
        events: Sequence[Mapping[str, Any]],
        first_uses: FirstUses,
        *,
        rule: DoubleUseRule,
        now: datetime,
    ) -> set[int]:
        _set_first_uses(connection, first_uses, now)
        uses = [use_of(r, e) for r, e in zip(rows, events, strict=True)]
        if not uses:
            return set()
        before = read_around(connection, rows)
        first, last = min(u.at for u in uses), max(u.at for u in uses)
        known = _load(connection, {u.credential for u in uses}, first, last)
        fresh, candidates = pair(known, uses, rule.open_entry)
        changed = [t for ts in known.values() for t in ts if t.id is not None and t.dirty]
        _write(connection, fresh, changed)
        after = read_around(connection, rows, firsts=False)
        rollups.add(connection, rollups.delta(before, after))
        keep_noted_trips(connection, before, after)
        keep_pass_moves(connection, after, rows, rule)
        return candidates


def _load(
    connection: Connection, credentials: set[str], first: datetime, last: datetime
) -> dict[str, list[TripDraft]]:
    t = _TRIPS.c
    query = sa.select(_TRIPS).where(
        t.credential.in_(sorted(credentials)),
        t.started_at >= first - PAIRING_WINDOW,
        t.started_at <= last + PAIRING_WINDOW,
    )
    known: dict[str, list[TripDraft]] = {}
    for row in connection.execute(query).mappings():
        values = dict(row)
        known.setdefault(values["credential"], []).append(
            TripDraft(values["credential"], values.pop("id"), values)
        )
    return known


def _write(connection: Connection, fresh: list[TripDraft], changed: list[TripDraft]) -> None:
    if fresh:
        rows = [{"credential": t.credential, **{c: t.values.get(c) for c in TRIP_COLUMNS}} for t in fresh]
        for row in rows:
            row["fare_vnd"] = row["fare_vnd"] or 0
            row["owed_vnd"] = row["owed_vnd"] or 0
        connection.execute(sa.insert(_TRIPS), rows)
    if changed:
        statement = (
            sa.update(_TRIPS)
            .where(_TRIPS.c.id == sa.bindparam("b_id"))
            .values({c: sa.bindparam(f"b_{c}", type_=_TRIPS.c[c].type) for c in TRIP_COLUMNS})
        )
        connection.execute(
            statement, [{"b_id": t.id, **{f"b_{c}": t.values.get(c) for c in TRIP_COLUMNS}} for t in changed]
        )


_AT = sa.bindparam("b_at", type_=_TICKETS.c.first_used_at.type)


def _set_first_uses(connection: Connection, first_uses: FirstUses, now: datetime) -> None:
    """Set tickets.first_used_at from `first_uses` unless already earlier, and withdraw the refunds in their
    hold of the tickets used."""
    earliest = first_uses.by_ticket(_pass_serials(connection, first_uses.by_pass))
    if not earliest:
        return
    withdraw_held_refunds(connection, earliest.keys(), now)
    connection.execute(  # Core executemany: the ORM would want primary keys
        sa.update(_TICKETS)
        .where(_TICKETS.c.serial == sa.bindparam("b_serial"))
        .where(sa.or_(_TICKETS.c.first_used_at.is_(None), _TICKETS.c.first_used_at > _AT))
        .values(first_used_at=_AT),
        [{"b_serial": serial, "b_at": at} for serial, at in earliest.items()],
    )


def _pass_serials(connection: Connection, pass_ids: Collection[str]) -> dict[str, int]:
    """The serial of each pass's ticket, by pass id."""
    if not pass_ids:
        return {}
    p, t = _PASSES.c, _TICKETS.c
    query = sa.select(p.id, t.serial).join(_TICKETS, t.id == p.ticket_id).where(p.id.in_(sorted(pass_ids)))
    return {str(row.id): int(row.serial) for row in connection.execute(query)}
