"""Auditors' reads (Bearer auditor or admin token): scans, trips, reports and anomalies, as JSON pages or CSV.

Unknown query parameters are refused (a misspelt filter must not silently widen the result)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from ticketing.audit import scans as audit
from ticketing.audit.query import CCCD_HEADER, Query, parse_query
from ticketing.context import ServiceContext
from ticketing.deps import AuditorDep, ContextDep, SessionDep

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def _query(
    request: Request, ctx: ServiceContext, allowed: frozenset[str], require_range: bool = False
) -> Query:
    """The audit query of this request, its local time the operator's policy."""
    return parse_query(
        request.query_params.multi_items(),
        allowed,
        require_range=require_range,
        cccd=request.headers.get(CCCD_HEADER),
        utc_offset_hours=ctx.catalog.policy.utc_offset_hours,
    )


def _csv(session: Session, lines: Iterator[str], name: str) -> StreamingResponse:
    # The stream reads in short sessions of its own; end this one first (on SQLite it holds the lock).
    session.close()
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8", headers=headers)


@router.get("/scans", response_model=None)
def scans(request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep) -> Any:
    q = _query(request, ctx, audit.SCAN_FILTERS)
    if q.csv:  # its own short sessions per page: the request's session closes before the stream ends
        return _csv(session, audit.scans_csv(request.app.state.engine, ctx.cccd_key, q), "scans")
    return audit.scans_page(session, ctx.cccd_key, q)


@router.get("/trips", response_model=None)
def trips(request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep) -> Any:
    q = _query(request, ctx, audit.TRIP_FILTERS)
    if q.csv:
        return _csv(session, audit.trips_csv(request.app.state.engine, ctx.cccd_key, q), "trips")
    return audit.trips_page(session, ctx.cccd_key, q)


@router.get("/reports/{kind}", response_model=None)
def report(kind: str, request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep) -> Any:
    allowed = audit.REPORT_FILTERS.get(kind, frozenset({"from", "to", "format"}))
    q = _query(request, ctx, allowed, require_range=True)
    rows = audit.report(session, kind, q)
    if q.csv:
        return _csv(session, audit.rows_csv(rows, list(rows[0]) if rows else []), kind)
    return {"report": kind, "from": audit.iso(q.since), "to": audit.iso(q.until), "rows": rows}


@router.get("/anomalies", response_model=None)
def anomalies(request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep) -> Any:
    q = _query(request, ctx, audit.ANOMALY_FILTERS, require_range=True)
    found = audit.anomalies(session, ctx.catalog, q)
    if q.csv:
        return _csv(session, audit.rows_csv(audit.anomaly_rows(found), audit.ANOMALY_COLUMNS), "anomalies")
    return {"from": audit.iso(q.since), "to": audit.iso(q.until), "anomalies": found}
