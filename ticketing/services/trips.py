"""Trips: an accepted entry paired with the accepted exit of the same credential, kept at journal ingest.

Why a table kept at ingest, not pairing at query time: pairing needs each credential's whole history in time
order (a window over every scan), so a station-day or OD query over a month of 10 M events would pair
millions of rows per call; kept here, a trip query is an index range scan like a scan query. The cost is paid
once per event, set-based (one read, one insert, one update per batch), inside the transaction that stores
the events, so a trip never points at an event that was rolled back.

Order of arrival does not matter: gates upload when they can, so an exit may arrive before its entry. It is
then kept as an orphan exit, and the entry, when it arrives, fills it in. Concurrent uploads are ordered by
the `events` counter row that every upload with accepted uses locks (journal._insert), so two gates never
pair the same credential at once. Idempotent: only events stored for the first time are paired, and the
(gate, seq) of each side is unique in `trips`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.models import Trip, TripStatus
from ticketing.services.bulk import naive_utc, pg_select, pg_unnest_insert, pg_unnest_update

__all__ = ["PAIRING_WINDOW", "Use", "record_uses", "use_of"]

# An exit pairs with an entry at most this much earlier (a service day and more: overstays stay paired, so
# auditors see them as long trips); beyond it both stay visible, as an open trip and an orphan exit.
PAIRING_WINDOW = timedelta(hours=26)
_TABLE: sa.Table = Trip.__table__  # type: ignore[attr-defined]


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
    ticket = event.get("ticket")
    fare = ticket.get("fare_vnd") if isinstance(ticket, dict) else None
    # A single ticket's fare is the trip's; day and 3-day tickets and monthly passes cover many rides.
    charged = fare if row["product"] == "single" and isinstance(fare, int) and fare >= 0 else 0
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
        fare_vnd=charged,
        owed_vnd=row["owed_vnd"],
        flags=row["flags"],
    )


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
        status = (
            TripStatus.COMPLETE if entry and exit_ else TripStatus.OPEN if entry else TripStatus.ORPHAN_EXIT
        )
        v["status"] = status.value
        self.dirty = True


def record_uses(session: Session, uses: Iterable[Use]) -> None:
    """Pair these newly stored uses with each other and with the trips already kept. The caller commits."""
    ordered = sorted(uses, key=lambda u: (u.at, u.gate, u.seq))
    if not ordered:
        return
    known = _load(session, {u.credential for u in ordered}, ordered[0].at, ordered[-1].at)
    fresh: list[_Trip] = []
    for use in ordered:
        trips = known.setdefault(use.credential, [])
        trip = _entry_match(trips, use) if use.direction == "entry" else _exit_match(trips, use)
        if trip is None:
            trip = _Trip(use.credential)
            trips.append(trip)
            fresh.append(trip)
        trip.add(use)
    _write(session, fresh, [t for ts in known.values() for t in ts if t.id is not None and t.dirty])


def _entry_match(trips: list[_Trip], use: Use) -> _Trip | None:
    """The orphan exit this late-arriving entry belongs to: the first one after it, unless another entry
    came between them (then that entry was this exit's)."""
    orphans = [
        t
        for t in trips
        if t.get("entry_at") is None and use.at <= t.get("exit_at") <= use.at + PAIRING_WINDOW
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
