"""Anomaly candidates, kept by journal ingest as it pairs, so that the anomaly queries read a few rows instead
of a day's trips and scans (docs/audit.md: 2.7 s at 10 M events).

- `trip_anomalies` (models.TripAnomaly) holds exactly the trips that an anomaly lists by its status: orphan
  exits (entry_unseen), repeated exits, and complete single-ticket trips longer than OVERSTAY_FLOOR_S
  (overstay, whose limit the policy sets: the query keeps those over it). A row comes when a trip becomes
  one and goes when it no longer is (an orphan exit whose entry arrives): SQLite's ingest keeps it by the
  difference of the trips it read before and after pairing (`keep_noted_trips`), PostgreSQL's pairing
  statement as it writes the trips (`trip_kind_sql`, the same rule as `trip_kind`).
- `use_anomalies` (models.UseAnomaly) notes the ticket entries paired that show their ticket entering twice
  (ticketing.ingest.double_use, by rules.entered_twice over the uses stored). Never removed: the query
  checks these tickets' uses by the rule again (an exit uploaded later may show the rider left in between);
  a use that makes a double use is an entry, so the upload that brings it notes it, whichever arrives last.
- `pass_moves` (models.PassMove) holds exactly the pass_too_fast anomalies: each pass use at another station
  than the same pass's use just before it, sooner than the train allows. A use's predecessor changes only
  when a use arrives between them, so the rows of each pass whose uses pairing adds are made again from its
  first new use to NEIGHBOUR_LOOKBACK after its last (beyond that no move can be too fast, nor change):
  SQLite's ingest from the trips it reads back after pairing (`keep_pass_moves`), PostgreSQL's in one
  statement after its pairing rounds (the same rule as `too_fast`).

All are kept with the policy in force when the uses were paired: a policy that widens `open_entry` or
`min_seconds_per_hop` applies to the uses paired after it.
"""

from __future__ import annotations

import itertools
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from fare_rules import FareRulesError
from ticketing.ingest.rules import DoubleUseRule
from ticketing.ingest.trip_changes import NEIGHBOUR_LOOKBACK, Snapshot
from ticketing.models import PassMove, TripAnomaly, UseAnomaly, table_of

__all__ = [
    "DOUBLE_USE",
    "MOVE_TABLE",
    "NOTED_COLUMNS",
    "OVERSTAY_FLOOR_S",
    "TRIP_TABLE",
    "USE_TABLE",
    "keep_noted_trips",
    "keep_pass_moves",
    "note_double_uses",
    "too_fast",
    "trip_kind",
    "trip_kind_sql",
]

TRIP_TABLE: sa.Table = table_of(TripAnomaly)
USE_TABLE: sa.Table = table_of(UseAnomaly)
MOVE_TABLE: sa.Table = table_of(PassMove)
# A single-ticket trip longer than this is kept as a possible overstay; a policy limit below it (no line trip
# takes 45 minutes) makes the overstay query read the trips instead.
OVERSTAY_FLOOR_S = 45 * 60
DOUBLE_USE = "double_use"
# What trip_anomalies keeps of a trip beside its kind: what an anomaly shows of it.
NOTED_COLUMNS = (
    "started_at", "duration_s", "credential", "entry_station", "entry_at", "exit_station", "exit_gate",
    "exit_at", "flags",
)  # fmt: skip
_INSERT = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}


def trip_kind(trip: Mapping[str, Any]) -> str | None:
    """The anomaly kind that lists this trip by its status, if any."""
    if trip["status"] == "orphan_exit":
        return "entry_unseen"
    if trip["status"] == "repeated_exit":
        return "repeated_exit"
    long = (trip["duration_s"] or 0) > OVERSTAY_FLOOR_S
    return "overstay" if trip["status"] == "complete" and trip["product"] == "single" and long else None


def trip_kind_sql(prefix: str) -> str:
    """trip_kind as SQL over a row's columns named `prefix` + status, product and duration_s."""
    status, product, duration = f"{prefix}status", f"{prefix}product", f"{prefix}duration_s"
    return (
        f"CASE WHEN {status} = 'orphan_exit' THEN 'entry_unseen' WHEN {status} = 'repeated_exit' THEN"
        f" 'repeated_exit' WHEN {status} = 'complete' AND {product} = 'single' AND COALESCE({duration}, 0) >"
        f" {OVERSTAY_FLOOR_S} THEN 'overstay' END"
    )


def note_double_uses(
    connection: Connection, uses: Sequence[Mapping[str, Any]], doubled: Collection[int]
) -> None:
    """Note the ticket entries among the uses just paired whose tickets entered twice (`doubled`, serials).
    Not committed."""
    noted = sorted({(u["at"], u["credential"]) for u in uses if _doubled(u, doubled)})
    if noted:
        insert: Any = _INSERT[connection.dialect.name](USE_TABLE)
        rows = [{"kind": DOUBLE_USE, "at": at, "credential": c} for at, c in noted]
        connection.execute(insert.on_conflict_do_nothing(), rows)


def keep_pass_moves(
    connection: Connection, after: Snapshot, uses: Sequence[Mapping[str, Any]], rule: DoubleUseRule
) -> None:
    """Keep the pass moves of the uses just paired (SQLite's ingest; `after`: the trips around them as
    pairing left them, trip_changes.read_around). Not committed."""
    passes = [u for u in uses if u["credential"].startswith("p:") and u["at"] is not None]
    if passes:
        _keep_moves(connection, _pass_uses(after, passes), passes, rule)


def _doubled(use: Mapping[str, Any], doubled: Collection[int]) -> bool:
    return (
        use["direction"] == "entry" and use["ticket_serial"] in doubled and use["credential"].startswith("t:")
    )


def keep_noted_trips(connection: Connection, before: Snapshot, after: Snapshot) -> None:
    """Keep trip_anomalies for the trips that changed between two snapshots of them (SQLite's ingest).
    Not committed."""
    gone, kept = [], []
    for trip_id, trip in after.trips.items():
        was, kind = before.trips.get(trip_id), trip_kind(trip)
        if kind is None:
            if was is not None and trip_kind(was) is not None:
                gone.append(trip_id)
        elif was is None or _noted(was) != _noted(trip):
            kept.append({"trip_id": trip_id, **_noted(trip)})
    t = TRIP_TABLE
    if gone:
        connection.execute(sa.delete(t).where(t.c.trip_id.in_(gone)))
    if kept:
        insert: Any = _INSERT[connection.dialect.name](t)
        update = {c: insert.excluded[c] for c in ("kind", *NOTED_COLUMNS)}
        connection.execute(insert.on_conflict_do_update(index_elements=["trip_id"], set_=update), kept)


def _noted(trip: Mapping[str, Any]) -> dict[str, Any]:
    return {"kind": trip_kind(trip), **{c: trip[c] for c in NOTED_COLUMNS}}


class _Use(NamedTuple):
    credential: str
    station: str | None
    gate_id: str
    seq: int
    at: datetime


def _pass_uses(after: Snapshot, passes: Sequence[Mapping[str, Any]]) -> list[_Use]:
    """The paired uses of these passes an hour either side of them, in time order (the pass query's), from
    the trips around them: each paired use is a trip's entry or exit, and `after` holds these passes'
    trips that far around. A use stored and not paired yet checks its neighbours when it is."""
    since = min(u["at"] for u in passes) - NEIGHBOUR_LOOKBACK
    until = max(u["at"] for u in passes) + NEIGHBOUR_LOOKBACK
    wanted = {u["credential"] for u in passes}
    found = []
    for t in after.trips.values():
        if t["credential"] not in wanted:
            continue
        for side in ("entry", "exit"):
            at = t[f"{side}_at"]
            if at is not None and since <= at <= until:
                station, gate, seq = t[f"{side}_station"], t[f"{side}_gate"], t[f"{side}_seq"]
                found.append(_Use(t["credential"], station, gate, seq, at))
    return sorted(found, key=lambda u: (u.credential, u.at, u.gate_id, u.seq))


def _keep_moves(
    connection: Connection, stored: Sequence[_Use], new: Sequence[Mapping[str, Any]], rule: DoubleUseRule
) -> None:
    """Make the passes' pass_moves rows from their first new use to an hour after their last again (module
    doc): delete them and write the moves found there. `stored`: the passes' uses from an hour before that,
    in order, so each of those uses has its predecessor here unless it is over an hour earlier."""
    since = min(u["at"] for u in new)
    until = max(u["at"] for u in new) + NEIGHBOUR_LOOKBACK
    credentials = sorted({u["credential"] for u in new})
    moves: list[dict[str, Any]] = []
    for _, seen in itertools.groupby(stored, key=lambda u: u.credential):
        for previous, use in itertools.pairwise(seen):
            if since <= use.at <= until and (move := too_fast(previous, use, rule)) is not None:
                moves.append(move)
    m = MOVE_TABLE.c
    where = [m.at >= since, m.at <= until, m.credential.in_(credentials)]
    connection.execute(sa.delete(MOVE_TABLE).where(*where))
    if moves:
        connection.execute(sa.insert(MOVE_TABLE), moves)


def too_fast(previous: Any, use: Any, rule: DoubleUseRule) -> dict[str, Any] | None:
    """The pass_moves row of `use` after `previous` (credential, station, gate_id, seq and at each) if it
    came from another station sooner than hops x per_hop, else None."""
    if previous.station is None or use.station is None or previous.station == use.station:
        return None
    try:
        soonest = rule.network.hops(previous.station, use.station) * rule.per_hop
    except FareRulesError:
        return None
    if use.at - previous.at >= soonest:
        return None
    return {
        "credential": use.credential,
        "at": use.at,
        "gate_id": use.gate_id,
        "seq": use.seq,
        "station": use.station,
        "previous_station": previous.station,
        "previous_at": previous.at,
        "at_least_s": int(soonest.total_seconds()),
    }
