"""Trips: an accepted entry paired with the accepted exit of the same credential, kept at journal ingest.

Why a table kept at ingest, not pairing at query time: pairing needs each credential's whole history in time
order (a window over every scan), so a station-day or OD query over a month of 10 M events would pair
millions of rows per call; kept here, a trip query is an index range scan like a scan query. The cost is paid
once per event, set-based (on PostgreSQL one statement per batch, below), inside the transaction that
stores the events, so a trip never points at an event that was rolled back.

Order of arrival does not matter: gates upload when they can, so an exit may arrive before its entry. It is
then kept as an orphan exit, and the entry, when it arrives, fills it in. An exit after a trip that already
has its exit, with no entry between and within `open_entry` of that trip's entry, is a repeated exit (two exit
gates that did not know of each other let the same ride out twice): a row of its own, never paired, so it is
neither an orphan nor a second trip. Whichever of the two exits arrives second is the repeat; when both
arrive before their entry, the entry completes the first and the other stays an orphan exit (an
`entry_unseen` anomaly): the order of arrival decides that one case.

Concurrent uploads are ordered by the `events` counter row that every upload with accepted uses locks
(journal._insert), so two gates never pair the same credential at once. Idempotent: only events stored for
the first time are paired, and the (gate, seq) of each side is unique in `trips`.

Two implementations of the same rules (`_entry_match`, `_exit_match`, `_repeats_exit`):
- in Python (`_pair_in_python`, SQLite): read the credentials' trips, pair in time order, write.
- in PostgreSQL (`_PAIR_SQL`): one statement per round that probes each use's match by index, updates the
  matched trips, inserts the rest and sets tickets.first_used_at. No trip row travels to Python and back.
  A round holds at most one use per credential, so its uses are independent and the statement's single
  snapshot gives the same answer as pairing them one by one; a credential's next use (a gate's batch may
  hold a pass holder's morning entry and evening exit) goes in the next round, which sees what this one
  wrote. Nearly always one round per batch.

Both also name the double-use candidates: tickets whose new entry has another entry at another gate within the
rule's `open_entry` (every accepted ticket entry is some trip's entry). Only those serials go through the
exact check over scan_events (double_use.block_double_uses); for the rest it cannot find anything.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.models import Ticket, Trip, TripStatus, table_of
from ticketing.services.bulk import ColumnArrays, naive_utc, pg_select, pg_unnest_insert, pg_unnest_update

__all__ = ["PAIRING_WINDOW", "Use", "record_uses", "use_of"]

# An exit pairs with an entry at most this much earlier (a service day and more: overstays stay paired, so
# auditors see them as long trips); beyond it both stay visible, as an open trip and an orphan exit.
PAIRING_WINDOW = timedelta(hours=26)
_TABLE: sa.Table = table_of(Trip)


@dataclass(frozen=True, slots=True)
class Use:
    """One accepted entry or exit, as stored in scan_events."""

    credential: str
    gate: str
    seq: int
    station: str
    at: datetime
    direction: str
    product: str | None = None
    ticket_serial: int | None = None
    pass_id: str | None = None
    fare_vnd: int = 0
    owed_vnd: int = 0
    flags: str = ""


def use_of(row: Mapping[str, Any], event: Mapping[str, Any]) -> Use:
    """The use a stored scan_events row stands for (`event` adds the fare its ticket paid)."""
    return Use(
        credential=row["credential"],
        gate=row["gate_id"],
        seq=row["seq"],
        station=row["station"],
        at=row["at"],
        direction=row["direction"],
        product=row["product"],
        ticket_serial=row["ticket_serial"],
        pass_id=row["pass_id"],
        fare_vnd=_fare(row, event),
        owed_vnd=row["owed_vnd"],
        flags=row["flags"],
    )


def _fare(row: Mapping[str, Any], event: Mapping[str, Any]) -> int:
    ticket = event.get("ticket")
    fare = ticket.get("fare_vnd") if isinstance(ticket, dict) else None
    # A single ticket's fare is the trip's; day and 3-day tickets and monthly passes cover many rides.
    return fare if row["product"] == "single" and isinstance(fare, int) and fare >= 0 else 0


@dataclass(slots=True)
class _Trip:
    credential: str
    id: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    dirty: bool = False

    def get(self, name: str) -> Any:
        return self.values.get(name)

    def add(self, use: Use) -> None:
        side = "entry" if use.direction == "entry" else "exit"
        v = self.values
        v.update({f"{side}_gate": use.gate, f"{side}_seq": use.seq, f"{side}_station": use.station})
        v[f"{side}_at"] = use.at
        v["product"] = v.get("product") or use.product
        v["ticket_serial"] = v.get("ticket_serial") or use.ticket_serial
        v["pass_id"] = v.get("pass_id") or use.pass_id
        v["fare_vnd"] = max(v.get("fare_vnd") or 0, use.fare_vnd)
        v["owed_vnd"] = (v.get("owed_vnd") or 0) + use.owed_vnd
        flags = {f for f in (v.get("flags") or "").split(",") + use.flags.split(",") if f}
        v["flags"] = ",".join(sorted(flags))[:200]
        entry, exit_ = v.get("entry_at"), v.get("exit_at")
        v["started_at"] = entry or exit_
        v["duration_s"] = int((exit_ - entry).total_seconds()) if entry and exit_ else None
        if entry and exit_:
            status = TripStatus.COMPLETE
        elif entry:
            status = TripStatus.OPEN
        elif v.get("status") == TripStatus.REPEATED_EXIT:
            status = TripStatus.REPEATED_EXIT
        else:
            status = TripStatus.ORPHAN_EXIT
        v["status"] = status.value
        self.dirty = True


def record_uses(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    first_uses: Mapping[int, datetime] | None = None,
    *,
    open_entry: timedelta,
) -> set[int]:
    """Pair the uses in these newly stored scan_events `rows` (accepted, with a credential; `events` are
    their journal events, for the fare) with each other and with the trips already kept; set
    tickets.first_used_at from `first_uses` (serial -> earliest accepted use) unless already earlier.
    Returns the double-use candidates (serials). The caller commits."""
    if session.get_bind().dialect.name != "postgresql":
        _first_uses_sqlite(session, first_uses or {})
        return _pair_in_python(session, [use_of(r, e) for r, e in zip(rows, events, strict=True)], open_entry)
    # Round k pairs each credential's k-th use (in time order): a round's uses are independent of each
    # other, and its statement sees the trips the rounds before it wrote, so this is the order of
    # _pair_in_python. Nearly always one round; a gate catching up on days of scans needs a few.
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["at"], rows[i]["gate_id"], rows[i]["seq"]))
    seen: dict[str, int] = {}
    rounds: list[list[int]] = []
    for i in order:
        k = seen.get(rows[i]["credential"], 0)
        seen[rows[i]["credential"]] = k + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(i)
    candidates: set[int] = set()
    for k, part in enumerate(rounds or [[]]):
        picked, fares = [rows[i] for i in part], [events[i] for i in part]
        candidates |= _pair_in_postgres(session, picked, fares, first_uses if k == 0 else None, open_entry)
    return candidates


def _pair_in_python(session: Session, uses: Iterable[Use], open_entry: timedelta) -> set[int]:
    ordered = sorted(uses, key=lambda u: (u.at, u.gate, u.seq))
    if not ordered:
        return set()
    known = _load(session, {u.credential for u in ordered}, ordered[0].at, ordered[-1].at)
    fresh: list[_Trip] = []
    for use in ordered:
        trips = known.setdefault(use.credential, [])
        trip = _entry_match(trips, use) if use.direction == "entry" else _exit_match(trips, use)
        if trip is None:
            repeat = use.direction == "exit" and _repeats_exit(trips, use, open_entry)
            trip = _Trip(use.credential, values={"status": TripStatus.REPEATED_EXIT.value} if repeat else {})
            trips.append(trip)
            fresh.append(trip)
        trip.add(use)
    _write(session, fresh, [t for ts in known.values() for t in ts if t.id is not None and t.dirty])
    return {
        u.ticket_serial
        for u in ordered
        if u.ticket_serial is not None and _doubled(u, known[u.credential], open_entry)
    }


def _doubled(use: Use, trips: list[_Trip], open_entry: timedelta) -> bool:
    """A ticket's entry with another entry at another gate within `open_entry` (double-use candidate)."""
    if use.direction != "entry" or not use.credential.startswith("t:"):
        return False
    return any(
        t.get("entry_gate") not in (None, use.gate) and abs(t.get("entry_at") - use.at) <= open_entry
        for t in trips
    )


def _entry_match(trips: list[_Trip], use: Use) -> _Trip | None:
    """The orphan exit this late-arriving entry belongs to: the first one after it, unless another entry
    came between them (then that entry was this exit's)."""
    orphans = [
        t
        for t in trips
        if t.get("entry_at") is None
        and t.get("status") != TripStatus.REPEATED_EXIT
        and use.at <= t.get("exit_at") <= use.at + PAIRING_WINDOW
    ]
    if not orphans:
        return None
    first = min(orphans, key=lambda t: t.get("exit_at"))
    between = any(
        t.get("entry_at") is not None and use.at < t.get("entry_at") < first.get("exit_at") for t in trips
    )
    return None if between else first


def _exit_match(trips: list[_Trip], use: Use) -> _Trip | None:
    """The latest entry before this exit, if it has no exit yet: otherwise the exit is an orphan."""
    entered = [t for t in trips if t.get("entry_at") is not None and t.get("entry_at") <= use.at]
    if not entered:
        return None
    last = max(entered, key=lambda t: t.get("entry_at"))
    fits = last.get("exit_at") is None and use.at - last.get("entry_at") <= PAIRING_WINDOW
    return last if fits else None


def _repeats_exit(trips: list[_Trip], use: Use, open_entry: timedelta) -> bool:
    """Whether this unmatched exit is a second exit of the latest trip entered before it (module doc)."""
    entered = [t for t in trips if t.get("entry_at") is not None and t.get("entry_at") <= use.at]
    if not entered:
        return False
    last = max(entered, key=lambda t: t.get("entry_at"))
    return last.get("exit_at") is not None and use.at - last.get("entry_at") <= open_entry


def _load(session: Session, credentials: set[str], first: datetime, last: datetime) -> dict[str, list[_Trip]]:
    lo, hi = first - PAIRING_WINDOW, last + PAIRING_WINDOW
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter instead of one per credential (a batch holds hundreds), and one index probe
        # per credential: with `credential = ANY(...)` over a wide window the planner chose to scan the
        # window instead (57 ms a batch). The LIMIT keeps the subquery from being flattened into a join.
        rows = pg_select(
            session.connection(),
            "SELECT t.* FROM unnest(%(creds)b::text[]) AS c(credential), LATERAL ("
            " SELECT * FROM trips WHERE trips.credential = c.credential"
            " AND started_at >= %(lo)s AND started_at <= %(hi)s ORDER BY started_at DESC LIMIT 64) AS t",
            {"creds": sorted(credentials), "lo": naive_utc(lo), "hi": naive_utc(hi)},
        )
    else:
        table = _TABLE
        query = sa.select(table).where(
            table.c.credential.in_(sorted(credentials)), table.c.started_at >= lo, table.c.started_at <= hi
        )
        rows = [dict(r) for r in session.connection().execute(query).mappings()]
    known: dict[str, list[_Trip]] = {}
    for values in rows:
        known.setdefault(values["credential"], []).append(
            _Trip(values["credential"], values.pop("id"), values)
        )
    return known


_COLUMNS = [c.name for c in _TABLE.columns if c.name not in ("id", "credential")]


def _write(session: Session, fresh: list[_Trip], changed: list[_Trip]) -> None:
    connection = session.connection()
    postgres = connection.dialect.name == "postgresql"
    if fresh:
        rows = [{"credential": t.credential, **{c: t.values.get(c) for c in _COLUMNS}} for t in fresh]
        for row in rows:
            row["fare_vnd"] = row["fare_vnd"] or 0
            row["owed_vnd"] = row["owed_vnd"] or 0
        if postgres:
            pg_unnest_insert(connection, _TABLE, ["credential", *_COLUMNS], rows)
        else:
            connection.execute(sa.insert(_TABLE), rows)
    if not changed:
        return
    if postgres:
        pg_unnest_update(connection, _TABLE, "id", _COLUMNS, [{"id": t.id, **t.values} for t in changed])
        return
    statement = (
        sa.update(_TABLE)
        .where(_TABLE.c.id == sa.bindparam("b_id"))
        .values({c: sa.bindparam(f"b_{c}", type_=_TABLE.c[c].type) for c in _COLUMNS})
    )
    connection.execute(
        statement, [{"b_id": t.id, **{f"b_{c}": t.values.get(c) for c in _COLUMNS}} for t in changed]
    )


# --- PostgreSQL: one statement for the credentials with one use in the batch ------------------------------

# The rules of _exit_match and _entry_match, per use, by index probes on (credential, started_at) (a trip's
# started_at is its entry time, or an orphan's exit time):
# - exit: the latest trip entered at or before it within PAIRING_WINDOW; matched if that trip has no exit,
#   else a repeated exit if within open_entry of that trip's entry;
# - entry: the first trip from its time on within PAIRING_WINDOW that is an orphan exit or was entered
#   strictly later (orphans first at equal times); matched if it is the orphan (no entry came between).
# Flags are merged as sorted sets (COLLATE "C": code point order, as Python sorts), cut at 200 characters.
# The `= ANY(...)` beside each join makes the plan an index probe per row whatever the statistics say (a
# table not yet analysed was read whole for a hash join).
_PAIR_SQL = """
WITH u AS (
  SELECT * FROM unnest({uses})
    AS u(credential, gate, seq, station, at, direction, product, serial, pass_id, fare, owed, flags)
), m AS (
  SELECT u.*,
    CASE WHEN u.direction = 'exit' THEN CASE WHEN x.exit_at IS NULL THEN x.id END
         WHEN o.entry_at IS NULL THEN o.id END AS trip_id,
    (u.direction = 'exit' AND x.exit_at IS NOT NULL AND u.at - x.entry_at <= %(open)s::interval) AS repeated,
    d.doubled
  FROM u
  LEFT JOIN LATERAL (
    SELECT t.id, t.entry_at, t.exit_at FROM trips t
    WHERE u.direction = 'exit' AND t.credential = u.credential AND t.entry_at IS NOT NULL
      AND t.started_at >= u.at - %(window)s::interval AND t.started_at <= u.at
    ORDER BY t.started_at DESC, t.id DESC LIMIT 1
  ) x ON true
  LEFT JOIN LATERAL (
    SELECT t.id, t.entry_at FROM trips t
    WHERE u.direction = 'entry' AND t.credential = u.credential
      AND t.started_at >= u.at AND t.started_at <= u.at + %(window)s::interval
      AND (t.entry_at IS NULL OR t.started_at > u.at) AND t.status <> 'repeated_exit'
    ORDER BY t.started_at, t.entry_at IS NULL DESC, t.id LIMIT 1
  ) o ON true
  LEFT JOIN LATERAL (
    SELECT true AS doubled FROM trips t
    WHERE u.direction = 'entry' AND u.serial IS NOT NULL AND u.credential LIKE 't:%%'
      AND t.credential = u.credential AND t.entry_gate IS NOT NULL AND t.entry_gate <> u.gate
      AND t.started_at >= u.at - %(open)s::interval AND t.started_at <= u.at + %(open)s::interval
    LIMIT 1
  ) d ON true
), matched AS (
  UPDATE trips t SET
    entry_gate = CASE WHEN m.direction = 'entry' THEN m.gate ELSE t.entry_gate END,
    entry_seq = CASE WHEN m.direction = 'entry' THEN m.seq ELSE t.entry_seq END,
    entry_station = CASE WHEN m.direction = 'entry' THEN m.station ELSE t.entry_station END,
    entry_at = CASE WHEN m.direction = 'entry' THEN m.at ELSE t.entry_at END,
    exit_gate = CASE WHEN m.direction = 'exit' THEN m.gate ELSE t.exit_gate END,
    exit_seq = CASE WHEN m.direction = 'exit' THEN m.seq ELSE t.exit_seq END,
    exit_station = CASE WHEN m.direction = 'exit' THEN m.station ELSE t.exit_station END,
    exit_at = CASE WHEN m.direction = 'exit' THEN m.at ELSE t.exit_at END,
    started_at = CASE WHEN m.direction = 'entry' THEN m.at ELSE t.started_at END,
    duration_s = trunc(extract(epoch FROM
      CASE WHEN m.direction = 'exit' THEN m.at - t.entry_at ELSE t.exit_at - m.at END))::integer,
    status = 'complete',
    product = COALESCE(NULLIF(t.product, ''), m.product),
    ticket_serial = COALESCE(NULLIF(t.ticket_serial, 0), m.serial),
    pass_id = COALESCE(NULLIF(t.pass_id, ''), m.pass_id),
    fare_vnd = GREATEST(t.fare_vnd, m.fare),
    owed_vnd = t.owed_vnd + m.owed,
    flags = CASE WHEN m.flags = '' THEN t.flags ELSE left(array_to_string(ARRAY(
      SELECT DISTINCT f COLLATE "C" FROM unnest(string_to_array(t.flags || ',' || m.flags, ',')) AS f
      WHERE f <> '' ORDER BY 1), ','), 200) END
  FROM m WHERE t.id = m.trip_id AND t.id = ANY(ARRAY(SELECT trip_id FROM m WHERE trip_id IS NOT NULL))
), fresh AS (
  INSERT INTO trips (credential, status, started_at, product, ticket_serial, pass_id, entry_gate,
    entry_seq, entry_station, entry_at, exit_gate, exit_seq, exit_station, exit_at, duration_s, fare_vnd,
    owed_vnd, flags)
  SELECT credential,
    CASE WHEN direction = 'entry' THEN 'open' WHEN repeated THEN 'repeated_exit' ELSE 'orphan_exit' END,
    at, product, serial, pass_id,
    CASE WHEN direction = 'entry' THEN gate END, CASE WHEN direction = 'entry' THEN seq END,
    CASE WHEN direction = 'entry' THEN station END, CASE WHEN direction = 'entry' THEN at END,
    CASE WHEN direction = 'exit' THEN gate END, CASE WHEN direction = 'exit' THEN seq END,
    CASE WHEN direction = 'exit' THEN station END, CASE WHEN direction = 'exit' THEN at END,
    NULL, fare, owed, flags
  FROM m WHERE trip_id IS NULL
), first_use AS (
  UPDATE tickets SET first_used_at = f.at
  FROM unnest({first_serial}, {first_at}) AS f(serial, at)
  WHERE tickets.serial = f.serial AND tickets.serial = ANY({first_serial})
    AND (tickets.first_used_at IS NULL OR tickets.first_used_at > f.at)
)
SELECT serial FROM m WHERE doubled
"""


def _flag_set(flags: str) -> str:
    """Flags as a trip keeps them: sorted, each once, at most 200 characters."""
    if "," not in flags:
        return flags[:200]
    return ",".join(sorted({f for f in flags.split(",") if f}))[:200]


def _pair_in_postgres(
    session: Session,
    rows: Sequence[Mapping[str, Any]],
    events: Sequence[Mapping[str, Any]],
    first_uses: Mapping[int, datetime] | None,
    open_entry: timedelta,
) -> set[int]:
    first_uses = first_uses or {}
    if not rows and not first_uses:
        return set()
    arrays = ColumnArrays()
    columns = {name: [r[column] for r in rows] for name, column in _PAIR_COLUMNS.items()}
    columns["fare"] = [_fare(r, e) for r, e in zip(rows, events, strict=True)]
    columns["flags"] = [_flag_set(f) for f in columns["flags"]]
    uses = ", ".join(arrays.add(name, _PAIR_TYPES.get(name, "text"), columns[name]) for name in _PAIR_ORDER)
    first_serial = arrays.add("first_serial", "bigint", list(first_uses))
    first_at = arrays.add("first_at", "timestamp", list(first_uses.values()))
    params = arrays.params
    params["window"], params["open"] = PAIRING_WINDOW, open_entry
    statement = _PAIR_SQL.format(uses=uses, first_serial=first_serial, first_at=first_at)
    result = session.connection().exec_driver_sql(statement, params)
    return {serial for serial in result.scalars() if serial is not None}


# _PAIR_SQL's arrays in the order of its `u` columns, their types, and the scan_events column of each.
_PAIR_ORDER = [
    "credential",
    "gate",
    "seq",
    "station",
    "at",
    "direction",
    "product",
    "serial",
    "pass_id",
    "fare",
    "owed",
    "flags",
]
_PAIR_TYPES = {"seq": "bigint", "at": "timestamp", "serial": "bigint", "fare": "integer", "owed": "integer"}
_PAIR_COLUMNS = {
    "credential": "credential", "gate": "gate_id", "seq": "seq", "station": "station", "at": "at",
    "direction": "direction", "product": "product", "serial": "ticket_serial", "pass_id": "pass_id",
    "owed": "owed_vnd", "flags": "flags",
}  # fmt: skip


_AT = sa.bindparam("b_at", type_=table_of(Trip).c.started_at.type)


def _first_uses_sqlite(session: Session, first_uses: Mapping[int, datetime]) -> None:
    """A ticket's first accepted use, entry or exit, becomes tickets.first_used_at: refunds check it."""
    if not first_uses:
        return
    tickets = table_of(Ticket)
    session.connection().execute(  # Core executemany: the ORM would want primary keys
        sa.update(tickets)
        .where(tickets.c.serial == sa.bindparam("b_serial"))
        .where(sa.or_(tickets.c.first_used_at.is_(None), tickets.c.first_used_at > _AT))
        .values(first_used_at=_AT),
        [{"b_serial": serial, "b_at": at} for serial, at in first_uses.items()],
    )
