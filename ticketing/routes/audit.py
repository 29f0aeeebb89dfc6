"""Auditors' reads (Bearer auditor or admin token): scans, trips, reports and anomalies, as JSON pages or CSV.

Unknown query parameters are refused (a misspelt filter must not silently widen the result). Each answer's
JSON shape is its model in ticketing.audit.models; `format=csv` streams the same fields as CSV instead."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from ticketing.audit import reports
from ticketing.audit.anomalies import anomalies_csv, find_anomalies
from ticketing.audit.chain import CHAIN_FILTERS, JOURNAL_FILTERS, journal_page, verify_chain
from ticketing.audit.gate_health import GATE_HEALTH_FILTERS, GateHealthAnswer, gate_health, gate_health_csv
from ticketing.audit.models import AnomaliesAnswer, ChainAnswer, JournalPage, Report, ScansPage, TripsPage
from ticketing.audit.query import (
    ANOMALY_FILTERS,
    CCCD_HEADER,
    REPORT_FILTERS,
    SCAN_FILTERS,
    TRIP_FILTERS,
    Query,
    parse_query,
)
from ticketing.audit.scans import scans_csv, scans_page
from ticketing.audit.trips import trips_csv, trips_page
from ticketing.context import ServiceContext
from ticketing.deps import AuditorDep, ContextDep, NowDep, SessionDep

__all__ = ["router"]

router = APIRouter(prefix="/v1/audit", tags=["audit"])

# `format=csv`: the same answer as a CSV download (text/csv), described next to the JSON model.
_OR_CSV: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


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


@router.get("/scans", response_model=ScansPage, responses=_OR_CSV)
def scans(
    request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep
) -> ScansPage | StreamingResponse:
    q = _query(request, ctx, SCAN_FILTERS)
    if q.csv:  # its own short sessions per page: the request's session closes before the stream ends
        return _csv(session, scans_csv(request.app.state.engine, ctx.cccd_key, q), "scans")
    return scans_page(session, ctx.cccd_key, q)


@router.get("/trips", response_model=TripsPage, responses=_OR_CSV)
def trips(
    request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep
) -> TripsPage | StreamingResponse:
    q = _query(request, ctx, TRIP_FILTERS)
    if q.csv:
        return _csv(session, trips_csv(request.app.state.engine, ctx.cccd_key, q), "trips")
    return trips_page(session, ctx.cccd_key, q)


@router.get("/reports/{kind}", response_model=Report, responses=_OR_CSV)
def report(
    kind: str, request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep
) -> Report | StreamingResponse:
    """Report `kind`: ridership, od, revenue or denials (`report` in the answer says which)."""
    allowed = REPORT_FILTERS.get(kind, frozenset({"from", "to", "format"}))
    q = _query(request, ctx, allowed, require_range=True)
    answer = reports.report(session, kind, q)
    if q.csv:
        return _csv(session, reports.report_csv(answer, q), kind)
    return answer


@router.get("/anomalies", response_model=AnomaliesAnswer, responses=_OR_CSV)
def anomalies(
    request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep
) -> AnomaliesAnswer | StreamingResponse:
    q = _query(request, ctx, ANOMALY_FILTERS, require_range=True)
    answer = find_anomalies(session, ctx.catalog, q)
    if q.csv:
        return _csv(session, anomalies_csv(answer), "anomalies")
    return answer


@router.get("/gates", response_model=GateHealthAnswer, responses=_OR_CSV)
def gates(
    request: Request, session: SessionDep, ctx: ContextDep, now: NowDep, _who: AuditorDep
) -> GateHealthAnswer | StreamingResponse:
    """Every gate's last upload, journal head and holes, clock offset and list staleness: those that need a
    visit first (`needs_visit` says why)."""
    q = _query(request, ctx, GATE_HEALTH_FILTERS)
    answer = gate_health(session, q, ctx.catalog, now)
    if q.csv:
        return _csv(session, gate_health_csv(answer), "gates")
    return answer


@router.get("/journal", response_model=JournalPage)
def journal(request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep) -> JournalPage:
    """A gate's stored events in seq order, as it chained them, and the signed uploads that carried them:
    what an auditor needs to re-check the chain and the signatures with their own tools."""
    return journal_page(session, _query(request, ctx, JOURNAL_FILTERS))


@router.get("/chain", response_model=ChainAnswer)
def chain(request: Request, session: SessionDep, ctx: ContextDep, _who: AuditorDep) -> ChainAnswer:
    """Every gate's journal (or one gate's) re-checked: hashes, links and upload signatures."""
    return verify_chain(session, _query(request, ctx, CHAIN_FILTERS))
