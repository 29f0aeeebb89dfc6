"""Entered trips counted per hour, product, origin and destination (models.TripCount), for the od and revenue
reports.

At 10 M scans a month a day holds ~165,000 trips, and adding them up one by one took 140-410 ms a report
(docs/audit.md). Trips change after they are written (an exit completes an open trip, an entry fills in an
orphan exit, a late entry becomes a ticket's first ride), so the counts are kept by difference: what the
trips a batch touched count after pairing, less what they counted before. SQLite's ingest reads them before
and after (ticketing.ingest.trip_changes) and adds the difference here (`delta`, `add`); PostgreSQL's
pairing statement adds it as it writes the trips, by the same definitions (ticketing.ingest.postgres). A
batch sent twice pairs nothing, so it counts nothing.

What a trip counts, once it has an entry (an orphan or repeated exit counts nothing): one trip, its fare,
owed amount and duration, under the hour it started, its product, origin and destination (complete trips
only; '' for an open one). `ridden_vnd` is what the revenue report calls fares ridden: a single ticket's fare
on its first trip only (a double-used ticket was paid for once), every other trip's fare as it is.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection
from sqlmodel import Session

from ticketing.ingest.trip_changes import Snapshot
from ticketing.models import TripCount, table_of

__all__ = ["AMOUNTS", "KEY", "TABLE", "TripKey", "add", "counted", "delta", "summed"]

TABLE: sa.Table = table_of(TripCount)
KEY = ("hour", "product", "origin", "destination", "complete")
AMOUNTS = ("n", "fare_vnd", "ridden_vnd", "owed_vnd", "duration_s")
TripKey = tuple[datetime, str, str, str, bool]


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
    order (one lock order for every upload). Only the trips that changed are counted, with the other trips of
    their tickets in `before` (its first trip among them: it may stop being the first)."""
    changed = {i for i, t in after.trips.items() if before.trips.get(i) != t}
    serials = {t["ticket_serial"] for i in changed for t in (after.trips[i], before.trips.get(i)) if t}
    serials.discard(None)

    def touched(trips: Mapping[int, Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        return [t for i, t in trips.items() if i in changed or t["ticket_serial"] in serials]

    change = counted(touched({**before.trips, **after.trips}))
    change.subtract(counted(touched(before.trips)))
    out: dict[TripKey, dict[str, int]] = {}
    for (key, amount), value in change.items():
        if value:
            out.setdefault(key, dict.fromkeys(AMOUNTS, 0))[amount] = value
    return sorted(out.items())


def add(connection: Connection, change: Sequence[tuple[TripKey, Mapping[str, int]]]) -> None:
    """Add `change` (delta's) to the counts (SQLite). Not committed."""
    if not change:
        return
    insert = sqlite.insert(TABLE)
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
