"""The trips around an upload's uses, before and after pairing them: SQLite's ingest reads them
(`read_around`) and keeps the trip counts and the noted trips by their difference (rollups.delta,
candidates.keep_noted_trips) and the pass moves by the passes' trips within NEIGHBOUR_LOOKBACK of their uses
after (candidates.keep_pass_moves). PostgreSQL's pairing statements keep all three themselves
(ticketing.ingest.postgres), over the same columns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ticketing.ingest.rules import PAIRING_WINDOW
from ticketing.models import Trip, table_of

__all__ = ["COLUMNS", "NEIGHBOUR_LOOKBACK", "Snapshot", "TripRow", "read_around"]

_TRIPS: sa.Table = table_of(Trip)
COLUMNS = (
    "id", "credential", "started_at", "product", "ticket_serial", "entry_station", "exit_station", "status",
    "fare_vnd", "owed_vnd", "duration_s", "entry_gate", "entry_seq", "entry_at", "exit_gate", "exit_seq",
    "exit_at", "flags",
)  # fmt: skip
# No two uses further apart than this can be too fast for the train (13 hops x 90 s is under 20 minutes):
# the pass-too-fast check looks this far either side of a pass's use.
NEIGHBOUR_LOOKBACK = timedelta(hours=1)
TripRow = Mapping[str, Any]  # a trip's COLUMNS, times as aware UTC datetimes


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Trips as they stood, by id."""

    trips: dict[int, TripRow]


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
