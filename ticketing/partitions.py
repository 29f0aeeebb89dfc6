"""Monthly range partitions of `scan_events` on PostgreSQL (SQLite keeps one plain table).

Each month is `scan_events_YYYY_MM`, FOR VALUES FROM (first of the month) TO (first of the next), UTC. A
DEFAULT partition catches what no month holds: events without a readable time and clocks far off. Creating
a month whose rows already sit in the default partition would fail, so those rows are moved in the same
transaction. Ingest makes the months a batch needs (`ensure_for_times`); `python -m ticketing audit
partitions --ahead N` makes the coming ones ahead of time, so ingest rarely has to.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from datetime import UTC, date, datetime

from sqlalchemy.engine import Connection, Engine

__all__ = [
    "DEFAULT_PARTITION",
    "PARENT",
    "ensure_for_times",
    "ensure_months",
    "existing_months",
    "extend_ahead",
    "is_partitioned",
    "month_of",
    "partition_name",
]

PARENT = "scan_events"
DEFAULT_PARTITION = "scan_events_default"
# Ingest makes partitions only for times this close to now: a gate with a wild clock (year 2099) must not
# create a partition per bogus month. Its events still land, in the default partition.
_PAST_MONTHS, _FUTURE_MONTHS = 24, 3
_known: weakref.WeakKeyDictionary[Engine, set[date]] = weakref.WeakKeyDictionary()


def month_of(at: datetime | date) -> date:
    return date(at.year, at.month, 1)


def _next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"{PARENT}_{month:%Y_%m}"


def is_partitioned(connection: Connection) -> bool:
    if connection.dialect.name != "postgresql":
        return False
    found = connection.exec_driver_sql(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = %s",
        (PARENT,),
    ).first()
    return found is not None


def existing_months(connection: Connection) -> set[date]:
    rows = connection.exec_driver_sql(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
        (PARENT,),
    ).scalars()
    months: set[date] = set()
    for name in rows:
        tail = name.removeprefix(PARENT + "_")
        if tail[:4].isdigit() and len(tail) == 7:
            months.add(date(int(tail[:4]), int(tail[5:7]), 1))
    return months


def ensure_months(connection: Connection, months: Iterable[date]) -> list[str]:
    """Create the missing monthly partitions (moving their rows out of the default one). Returns the names
    created. The caller commits; DDL here takes a short ACCESS EXCLUSIVE lock on `scan_events`."""
    # Two API workers may both see a month missing: one waits for the other, then finds it made.
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('metro-qr scan_events partitions'))")
    have = existing_months(connection)
    created = []
    for month in sorted(set(months) - have):
        _create_month(connection, month)
        created.append(partition_name(month))
    return created


def _create_month(connection: Connection, month: date) -> None:
    name, lo, hi = partition_name(month), month.isoformat(), _next_month(month).isoformat()
    bounds = f"FOR VALUES FROM ('{lo}') TO ('{hi}')"  # dates we formatted ourselves, not user input
    in_default = connection.exec_driver_sql(
        f"SELECT 1 FROM {DEFAULT_PARTITION} WHERE at >= %s AND at < %s LIMIT 1",  # noqa: S608
        (lo, hi),
    ).first()
    if in_default is None:
        connection.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {PARENT} {bounds}")
        return
    connection.exec_driver_sql(f"ALTER TABLE {PARENT} DETACH PARTITION {DEFAULT_PARTITION}")
    connection.exec_driver_sql(f"CREATE TABLE {name} PARTITION OF {PARENT} {bounds}")
    where = f"WHERE at >= '{lo}' AND at < '{hi}'"
    connection.exec_driver_sql(f"INSERT INTO {name} SELECT * FROM {DEFAULT_PARTITION} {where}")  # noqa: S608
    connection.exec_driver_sql(f"DELETE FROM {DEFAULT_PARTITION} {where}")  # noqa: S608
    connection.exec_driver_sql(f"ALTER TABLE {PARENT} ATTACH PARTITION {DEFAULT_PARTITION} DEFAULT")


def extend_ahead(connection: Connection, now: datetime, ahead: int) -> list[str]:
    """Partitions for this month and the `ahead` next ones. The caller commits."""
    first = month_of(now.astimezone(UTC))
    return ensure_months(connection, [_add_months(first, n) for n in range(ahead + 1)])


def ensure_for_times(engine: Engine, times: Iterable[datetime], now: datetime) -> None:
    """Before an ingest transaction: make the months these event times need, on a connection of its own
    (DDL inside the ingest transaction could deadlock with another gate's upload). A no-op on SQLite and
    for months this process already knows."""
    if engine.dialect.name != "postgresql":
        return
    known = _known.setdefault(engine, set())
    lo, hi = _add_months(month_of(now), -_PAST_MONTHS), _add_months(month_of(now), _FUTURE_MONTHS)
    wanted = {month_of(t) for t in times} - known
    wanted = {m for m in wanted if lo <= m <= hi}
    if not wanted:
        return
    with engine.begin() as connection:
        if not is_partitioned(connection):
            return
        ensure_months(connection, wanted)
        known.update(existing_months(connection))
