"""Audit reports over a time range, a module each: `ridership`, `od` (origin-destination), `revenue` and
`denials`. Each answers rows of its model (ticketing.audit.models), here put in the report's envelope or
written as CSV.

Hours and days are local, at the policy's `utc_offset_hours` (Query.utc_offset_hours): an auditor's
"07:00-08:00" is Ho Chi Minh City time.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel
from sqlmodel import Session

from ticketing.audit.csv_writer import csv_lines
from ticketing.audit.models import (
    DenialsReport,
    DenialsRow,
    FreeRidesReport,
    FreeRidesRow,
    OdReport,
    OdRow,
    OverridesReport,
    OverridesRow,
    Report,
    RevenueReport,
    RevenueRow,
    RidershipReport,
)
from ticketing.audit.query import REPORT_KINDS, Query, iso
from ticketing.audit.reports import adjustments, denials, free_rides, od, overrides, revenue, ridership
from ticketing.errors import InvalidRequest

__all__ = ["report", "report_csv"]

_ROWS: dict[str, type[BaseModel]] = {"od": OdRow, "revenue": RevenueRow, "denials": DenialsRow}
_ROWS["overrides"] = OverridesRow
_ROWS["free_rides"] = FreeRidesRow


def report(session: Session, kind: str, q: Query) -> Report:
    """Report `kind` (ridership, od, revenue, denials, overrides) over q's time range (required)."""
    if kind not in REPORT_KINDS:
        raise InvalidRequest(f"no report {kind!r}: one of {', '.join(REPORT_KINDS)}", code="unknown_report")
    if q.since is None or q.until is None:
        raise InvalidRequest("a report needs a time range: from and to", code="bad_range")
    since, until = iso(q.since), iso(q.until)
    if kind == "ridership":
        return RidershipReport(report=kind, since=since, until=until, rows=ridership.rows(session, q))
    if kind == "od":
        return OdReport(report=kind, since=since, until=until, rows=od.rows(session, q))
    if kind == "revenue":
        settled = adjustments.rows(session, q)
        return RevenueReport(
            report=kind, since=since, until=until, rows=revenue.rows(session, q), adjustments=settled
        )
    if kind == "overrides":
        return OverridesReport(report=kind, since=since, until=until, rows=overrides.rows(session, q))
    if kind == "free_rides":
        return FreeRidesReport(report=kind, since=since, until=until, rows=free_rides.rows(session, q))
    return DenialsReport(report="denials", since=since, until=until, rows=denials.rows(session, q))


def report_csv(answer: Report, q: Query) -> Iterator[str]:
    """A report's rows as CSV lines, a header first: the fields of its row model (for ridership, the one of
    q's bucket), so an empty report still names its columns."""
    model = ridership.ROWS[q.bucket] if answer.report == "ridership" else _ROWS[answer.report]
    return csv_lines(model, answer.rows)
