"""Scans counted per hour, gate and outcome (models.ScanCount), for the ridership and denials reports.

At 10 M scans a month a day holds ~330,000 of them, and counting them one by one took 200-430 ms a report
(docs/audit.md). Journal ingest adds each batch's scans to their hours in the transaction that stores them
(a few rows a batch: one gate, a few hours), so a report adds up 24 rows per gate and day instead. Only
scans stored for the first time are counted, so a batch sent twice counts once.

A report's range need not fall on whole hours: `split` gives the whole hours, read from the counts, and the
parts before and after, read from the scans. Hours are UTC; the policy's local time is a whole number of
hours away (Ho Chi Minh City: UTC+7 all year), so each local hour and day is made of whole UTC hours.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import Session

from ticketing.models import ScanCount, table_of
from ticketing.services.bulk import ColumnArrays

__all__ = ["TABLE", "count_stored", "split", "summed"]

TABLE: sa.Table = table_of(ScanCount)
_HOUR = timedelta(hours=1)
_KEY = ("hour", "gate_id", "station", "direction", "verdict", "reason", "problem")
_COLUMNS = tuple(zip(_KEY, ("timestamp", "text", "text", "text", "text", "text", "boolean"), strict=True))

Key = tuple[datetime, str, str, str, str, str, bool]


def count_stored(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Add newly stored scan_events rows to their hours (rows without a time have no hour). The caller
    commits, with the rows."""
    counts: Counter[Key] = Counter()
    for r in rows:
        at = r["at"]
        if at is None:
            continue
        hour = at.replace(minute=0, second=0, microsecond=0)
        counts[hour, r["gate_id"], r["station"] or "", r["direction"] or "", r["verdict"] or "",
               r["reason"] or "", r["problem"] is not None] += 1  # fmt: skip
    if not counts:
        return
    keys = sorted(counts)  # every upload locks the rows it adds to in one order: no deadlock between two
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        insert = sqlite.insert(TABLE)
        statement = insert.on_conflict_do_update(
            index_elements=list(_KEY), set_={"n": TABLE.c.n + insert.excluded.n}
        )
        connection.execute(statement, [{**dict(zip(_KEY, k, strict=True)), "n": counts[k]} for k in keys])
        return
    arrays = ColumnArrays()
    sources = [arrays.add(name, kind, [k[i] for k in keys]) for i, (name, kind) in enumerate(_COLUMNS)]
    sources.append(arrays.add("n", "bigint", [counts[k] for k in keys]))
    columns = ", ".join((*_KEY, "n"))
    connection.exec_driver_sql(
        f"INSERT INTO scan_counts ({columns}) SELECT * FROM unnest({', '.join(sources)})"  # noqa: S608 (our names)
        f" ON CONFLICT ({', '.join(_KEY)}) DO UPDATE SET n = scan_counts.n + excluded.n",
        arrays.params,
    )


Span = tuple[datetime, datetime]


def split(since: datetime, until: datetime) -> tuple[Span | None, list[Span]]:
    """The whole hours in [since, until) as one range (None if there is none), and the parts around them."""
    first = since.replace(minute=0, second=0, microsecond=0)
    if first < since:
        first += _HOUR
    last = until.replace(minute=0, second=0, microsecond=0)
    if first >= last:
        return None, [(since, until)]
    edges = [(a, b) for a, b in ((since, first), (last, until)) if a < b]
    return (first, last), edges


def summed(session: Session, hours: Span, columns: Sequence[str], **equal: Any) -> Sequence[Any]:
    """Counts over the whole `hours`, summed (as `n`) per value of `columns`, keeping the rows whose column
    equals each `equal` value that is not None. A missing station, direction or reason is ''."""
    c = TABLE.c
    where = [c.hour >= hours[0], c.hour < hours[1], *(c[k] == v for k, v in equal.items() if v is not None)]
    grouped = [c[name] for name in columns]
    query = sa.select(*grouped, sa.func.sum(c.n).label("n")).where(*where).group_by(*grouped)
    return session.execute(query).all()
