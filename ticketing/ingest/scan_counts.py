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
from sqlmodel import Session

from ticketing.models import ScanCount, table_of

__all__ = ["COUNT_KEY", "TABLE", "CountKey", "counted", "split", "summed"]

TABLE: sa.Table = table_of(ScanCount)
_HOUR = timedelta(hours=1)
COUNT_KEY = ("hour", "gate_id", "station", "direction", "verdict", "reason", "problem")

CountKey = tuple[datetime, str, str, str, str, str, bool]


def counted(rows: Iterable[Mapping[str, Any]]) -> list[tuple[CountKey, int]]:
    """Newly stored scan_events rows counted per hour (rows without a time have no hour), in key order:
    every upload locks the count rows it adds to in that one order, so two never deadlock."""
    counts: Counter[CountKey] = Counter()
    for r in rows:
        at = r["at"]
        if at is None:
            continue
        hour = at.replace(minute=0, second=0, microsecond=0)
        counts[hour, r["gate_id"], r["station"] or "", r["direction"] or "", r["verdict"] or "",
               r["reason"] or "", r["problem"] is not None] += 1  # fmt: skip
    return sorted(counts.items())


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
