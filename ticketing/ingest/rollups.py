"""Entered trips counted per hour, product, origin and destination (models.TripCount), for the od and revenue
reports.

At 10 M scans a month a day holds ~165,000 trips, and adding them up one by one took 140-410 ms a report
(docs/audit.md). Trips change after they are written (an exit completes an open trip, an entry fills in an
orphan exit, a late entry becomes a ticket's first ride), so the counts are kept by difference: pairing reads
the trips a batch can touch before and after it pairs (`snapshot`), and adds what they count after less what
they counted before (`delta`). A batch sent twice pairs nothing, so it counts nothing.

What a trip counts, once it has an entry (an orphan or repeated exit counts nothing): one trip, its fare,
owed amount and duration, under the hour it started, its product, origin and destination (complete trips
only; '' for an open one). `ridden_vnd` is what the revenue report calls fares ridden: a single ticket's fare
on its first trip only (a double-used ticket was paid for once), every other trip's fare as it is.

Which trips a batch can touch: pairing matches a use only with trips of its credential that started within
PAIRING_WINDOW of it, and makes new trips at the use's own time; and a ticket's first trip, which a late
entry may replace, wherever it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from ticketing.ingest.rules import PAIRING_WINDOW
from ticketing.models import Trip, TripCount, table_of

__all__ = ["AMOUNTS", "KEY", "TABLE", "Snapshot", "TripKey", "add", "counted", "delta", "snapshot", "summed"]

TABLE: sa.Table = table_of(TripCount)
_TRIPS: sa.Table = table_of(Trip)
KEY = ("hour", "product", "origin", "destination", "complete")
AMOUNTS = ("n", "fare_vnd", "ridden_vnd", "owed_vnd", "duration_s")
TripKey = tuple[datetime, str, str, str, bool]
_COLUMNS = (
    "id", "credential", "started_at", "product", "ticket_serial", "entry_station", "exit_station", "status",
    "fare_vnd", "owed_vnd", "duration_s",
)  # fmt: skip
# The same upsert on both engines; each dialect has its own construct for it.
_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Trips as they stood, by id."""

    trips: dict[int, Mapping[str, Any]]


def counted(trips: Iterable[Mapping[str, Any]]) -> Counter[tuple[TripKey, str]]:
    """What these trips count, per key and amount (module doc). A ticket's first trip is its earliest entered
    one among `trips` (by start, then id), so `trips` must hold it."""
    entered = [t for t in trips if t["entry_station"] is not None]
    first: dict[int, tuple[datetime, int]] = {}
    for t in entered:
        if t["ticket_serial"] is not None:
            was = first.get(t["ticket_serial"])
            if was is None or (t["started_at"], t["id"]) < was:
                first[t["ticket_serial"]] = (t["started_at"], t["id"])
    counts: Counter[tuple[TripKey, str]] = Counter()
    for t in entered:
        complete = t["status"] == "complete"
        hour = t["started_at"].replace(minute=0, second=0, microsecond=0)
        destination = (t["exit_station"] or "") if complete else ""
        key = (hour, t["product"] or "", t["entry_station"], destination, complete)
        fare = t["fare_vnd"] or 0
        is_first = t["ticket_serial"] is None or first[t["ticket_serial"]] == (t["started_at"], t["id"])
        counts[key, "n"] += 1
        counts[key, "fare_vnd"] += fare
        counts[key, "ridden_vnd"] += fare if is_first else 0
        counts[key, "owed_vnd"] += t["owed_vnd"] or 0
        counts[key, "duration_s"] += t["duration_s"] or 0
    return counts


def delta(before: Snapshot, after: Snapshot) -> list[tuple[TripKey, dict[str, int]]]:
    """What changed between two snapshots of the same trips (`after` may hold new ones), per key in key
    order (one lock order for every upload). A trip read before and not after (a ticket's first trip that is
    no longer first, outside the window) has not changed: it is counted as it was."""
    trips = {**before.trips, **after.trips}
    change = counted(trips.values())
    change.subtract(counted(before.trips.values()))
    out: dict[TripKey, dict[str, int]] = {}
    for (key, amount), value in change.items():
        if value:
            out.setdefault(key, dict.fromkeys(AMOUNTS, 0))[amount] = value
    return sorted(out.items())


def snapshot(connection: Connection, uses: Sequence[Mapping[str, Any]]) -> Snapshot:
    """The trips that pairing these uses (scan_events rows) can change or replace as a ticket's first trip."""
    credentials = sorted({u["credential"] for u in uses})
    if not credentials:
        return Snapshot({})
    t = _TRIPS.c
    first, last = min(u["at"] for u in uses), max(u["at"] for u in uses)
    window = sa.select(*(t[c] for c in _COLUMNS)).where(
        t.credential.in_(credentials),
        t.started_at >= first - PAIRING_WINDOW,
        t.started_at <= last + PAIRING_WINDOW,
    )
    found: dict[int, Mapping[str, Any]] = {r.id: dict(r._mapping) for r in connection.execute(window)}
    tickets = [c for c in credentials if c.startswith("t:")]
    if tickets:
        found.update({r.id: dict(r._mapping) for r in connection.execute(_first_trips(tickets))})
    return Snapshot(found)


def _first_trips(credentials: list[str]) -> sa.Select[Any]:
    t = _TRIPS.c
    rank = sa.func.row_number().over(partition_by=t.credential, order_by=(t.started_at, t.id)).label("rank")
    ranked = (
        sa.select(*(t[c] for c in _COLUMNS), rank)
        .where(t.credential.in_(credentials), t.entry_station.is_not(None))
        .subquery()
    )
    return sa.select(*(ranked.c[c] for c in _COLUMNS)).where(ranked.c.rank == 1)


def add(connection: Connection, change: Sequence[tuple[TripKey, Mapping[str, int]]]) -> None:
    """Add `change` (delta's) to the counts. Not committed."""
    if not change:
        return
    insert: Any = _INSERT[connection.dialect.name](TABLE)
    statement = insert.on_conflict_do_update(
        index_elements=list(KEY), set_={a: TABLE.c[a] + insert.excluded[a] for a in AMOUNTS}
    )
    connection.execute(statement, [{**dict(zip(KEY, k, strict=True)), **v} for k, v in change])


def summed(session: Session, hours: tuple[datetime, datetime], columns: Sequence[str], **equal: Any) -> Any:
    """The counts over the whole `hours`, summed per value of `columns` (only keys with trips), keeping the
    rows whose column equals each `equal` value that is not None."""
    c = TABLE.c
    where = [c.hour >= hours[0], c.hour < hours[1], *(c[k] == v for k, v in equal.items() if v is not None)]
    grouped = [c[name] for name in columns]
    totals = [sa.func.sum(c[a]).label(a) for a in AMOUNTS]
    query = sa.select(*grouped, *totals).where(*where).group_by(*grouped).having(sa.func.sum(c.n) > 0)
    return session.execute(query).all()
