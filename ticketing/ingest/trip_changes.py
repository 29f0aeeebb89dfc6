"""The trips an upload's pairing touched, as they stood before it and as they stand after, for the counts kept
at ingest (`rollups`) and the anomaly candidates (`candidates`).

`before` holds every trip pairing changed (as it was), each touched ticket's first entered trip (a late entry
may take its place as the first ride) and the trips of the passes used around the uses (the pass-too-fast
check reads their neighbours); `after` is `before` with what pairing wrote laid over it, new trips included.
Trips that pairing did not change are the same in both, so both count them alike.

SQLite reads all the trips around the uses before and after it pairs (`read_around`: more than these, which
changes nothing). PostgreSQL has its pairing
statement return them (ticketing.ingest.postgres): the old and new row of each trip it updates, each trip it
inserts, and the firsts and neighbours as they were, so no trip is read twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ticketing.ingest.rules import PAIRING_WINDOW
from ticketing.models import Trip, table_of

__all__ = [
    "AS_WAS",
    "COLUMNS",
    "DOUBLED",
    "NEIGHBOUR_LOOKBACK",
    "NEW",
    "OLD",
    "Paired",
    "Snapshot",
    "TripRow",
    "assemble",
    "read_around",
]

_TRIPS: sa.Table = table_of(Trip)
COLUMNS = (
    "id", "credential", "started_at", "product", "ticket_serial", "entry_station", "exit_station", "status",
    "fare_vnd", "owed_vnd", "duration_s", "entry_gate", "entry_seq", "entry_at", "exit_gate", "exit_seq",
    "exit_at",
)  # fmt: skip
_TIMES = tuple(i for i, c in enumerate(COLUMNS) if c in ("started_at", "entry_at", "exit_at"))
# No two uses further apart than this can be too fast for the train (13 hops x 90 s is under 20 minutes):
# the pass-too-fast check looks this far either side of a pass's use.
NEIGHBOUR_LOOKBACK = timedelta(hours=1)
TripRow = Mapping[str, Any]  # a trip's COLUMNS, times as aware UTC datetimes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Trips as they stood, by id."""

    trips: dict[int, TripRow]


@dataclass(frozen=True, slots=True)
class Paired:
    """What pairing a set of uses did: the double-use candidates it found (ticket serials), and the trips it
    touched before and after (module doc)."""

    doubled: set[int]
    before: Snapshot
    after: Snapshot


def read_around(
    connection: Connection, uses: Sequence[Mapping[str, Any]], *, firsts: bool = True
) -> Snapshot:
    """The trips that pairing these uses (scan_events rows) can change, and (`firsts`) each ticket's first
    trip. After pairing the firsts are not needed: those outside the window have not changed. Pairing matches
    a use only with trips of its credential within PAIRING_WINDOW, and the neighbours of a pass's use are
    at most NEIGHBOUR_LOOKBACK from it, so the window is the two."""
    credentials = sorted({u["credential"] for u in uses})
    if not credentials:
        return Snapshot({})
    reach = PAIRING_WINDOW + NEIGHBOUR_LOOKBACK
    since, until = min(u["at"] for u in uses) - reach, max(u["at"] for u in uses) + reach
    t = _TRIPS.c
    window = sa.select(*(t[c] for c in COLUMNS)).where(
        t.credential.in_(credentials), t.started_at >= since, t.started_at <= until
    )
    trips: dict[int, TripRow] = {r.id: dict(r._mapping) for r in connection.execute(window)}
    tickets = [c for c in credentials if c.startswith("t:")] if firsts else []
    if tickets:
        trips.update({r.id: dict(r._mapping) for r in connection.execute(_first_trips(tickets))})
    return Snapshot(trips)


def _first_trips(credentials: list[str]) -> sa.Select[Any]:
    t = _TRIPS.c
    rank = sa.func.row_number().over(partition_by=t.credential, order_by=(t.started_at, t.id)).label("rank")
    ranked = (
        sa.select(*(t[c] for c in COLUMNS), rank)
        .where(t.credential.in_(credentials), t.entry_station.is_not(None))
        .subquery()
    )
    return sa.select(*(ranked.c[c] for c in COLUMNS)).where(ranked.c.rank == 1)


# What a row returned by a pairing statement is (assemble).
OLD = "old"  # a trip the round updated, as it was before the round
NEW = "new"  # a trip the round updated or inserted, as the round left it
AS_WAS = "as_was"  # a ticket's first trip or a pass's neighbour, read before the first round
DOUBLED = "doubled"  # a double-use candidate: only ticket_serial is set


def assemble(rounds: Iterable[Iterable[Sequence[Any]]]) -> Paired:
    """Paired from the rows of each round of a pairing statement, in round order: each (part, *COLUMNS) with
    naive UTC times. The OLD row of a trip an earlier round wrote is that round's work, not the trip as it
    was, so it is not kept."""
    before: dict[int, TripRow] = {}
    written: dict[int, TripRow] = {}
    doubled: set[int] = set()
    serial = COLUMNS.index("ticket_serial")
    for rows in rounds:
        now_written: dict[int, TripRow] = {}
        for part, *values in rows:
            if part == DOUBLED:
                doubled.add(values[serial])
                continue
            for i in _TIMES:
                if values[i] is not None:
                    values[i] = values[i].replace(tzinfo=UTC)
            trip = dict(zip(COLUMNS, values, strict=True))
            if part == NEW:
                now_written[trip["id"]] = trip
            elif trip["id"] not in written:
                before.setdefault(trip["id"], trip)
        written.update(now_written)
    return Paired(doubled, Snapshot(before), Snapshot({**before, **written}))
