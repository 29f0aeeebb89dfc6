"""The gate sync protocol (Bearer gate token; every answer signed with `X-Signature`): enrolment, the lists
by cursor, other gates' uses, journal upload. Contract: validator/sync.py and validator/testing.FakeServer.
A list page is answered through ListAnswerDep, which notes the gate's fetch for gate health."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from sqlalchemy.engine import Engine

from ticketing.deps import ContextDep, GateDep, ListAnswerDep, NowDep, SessionDep, SignerDep
from ticketing.ingest.pipeline import ingest_batch
from ticketing.ingest.rules import DoubleUseRule
from ticketing.schemas import GateEnroll
from ticketing.services import gates

__all__ = ["router"]

router = APIRouter(prefix="/v1/gate", tags=["gate"])
# Cursors are BIGINT sequence numbers: a larger one is a client error (422), not a database overflow (500).
After = Annotated[int, Query(ge=0, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=gates.MAX_PAGE)]


@router.post("/enroll", response_class=Response)
def enroll(body: GateEnroll, session: SessionDep, ctx: ContextDep, now: NowDep, sign: SignerDep) -> Response:
    return sign(gates.enroll_gate(session, ctx, body.code, body.device_public_key, now))


@router.get("/revocations", response_class=Response)
def revocations(
    _gate: GateDep,
    session: SessionDep,
    answer: ListAnswerDep,
    after: After = 0,
    limit: Limit = gates.DEFAULT_PAGE,
) -> Response:
    return answer("revocations", gates.revocations_page(session, after, limit), after=after)


@router.get("/passes", response_class=Response)
def passes(
    _gate: GateDep,
    session: SessionDep,
    answer: ListAnswerDep,
    after: After = 0,
    limit: Limit = gates.DEFAULT_PAGE,
) -> Response:
    return answer("passes", gates.passes_page(session, after, limit), after=after)


@router.get("/events", response_class=Response)
def events(
    gate: GateDep,
    *,
    session: SessionDep,
    now: NowDep,
    answer: ListAnswerDep,
    after: After = 0,
    limit: Limit = gates.DEFAULT_PAGE,
) -> Response:
    return answer("events", gates.events_page(session, gate, after, limit, now), after=after)


@router.post("/journal", response_class=Response)
def upload_journal(
    batch: Annotated[dict[str, Any], Body()],
    request: Request,
    gate: GateDep,
    *,
    session: SessionDep,
    ctx: ContextDep,
    now: NowDep,
    sign: SignerDep,
) -> Response:
    engine: Engine = request.app.state.engine  # partition DDL runs on its own connection, not in the ingest's
    rule = DoubleUseRule.of(ctx.catalog.network, ctx.catalog.policy)
    results = ingest_batch(session, gate, batch, now, engine=engine, rule=rule)
    return sign({"results": [{"seq": r.seq, "status": r.status} for r in results]})
