"""The tables the audits read, and the time-range condition that reports and anomalies share."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from ticketing.audit.query import Query
from ticketing.models import Gate, JournalGap, Pass, Revocation, ScanEvent, Ticket, Trip, table_of

__all__ = ["GAPS", "GATES", "PASSES", "REVOCATIONS", "SCANS", "TICKETS", "TRIPS", "in_range"]

SCANS: sa.Table = table_of(ScanEvent)
TRIPS: sa.Table = table_of(Trip)
PASSES: sa.Table = table_of(Pass)
TICKETS: sa.Table = table_of(Ticket)
GAPS: sa.Table = table_of(JournalGap)
GATES: sa.Table = table_of(Gate)
REVOCATIONS: sa.Table = table_of(Revocation)


def in_range(column: sa.Column[Any], q: Query) -> list[ColumnElement[bool]]:
    """`column` within q's time range, which a report or an anomaly query always has."""
    assert q.since is not None  # parse_query(require_range=True)
    assert q.until is not None
    return [column >= q.since, column < q.until]
