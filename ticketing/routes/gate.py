"""The gate sync protocol (Bearer gate token; every answer signed with `X-Signature`): enrolment, the lists
by cursor, other gates' uses, journal upload. Contract: validator/sync.py and validator/testing.FakeServer.

Each list page a gate reads to the end is noted for gate health (ticketing.services.gate_lists), after it is
signed: a page that could not be signed (503) was never served."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ticketing.deps import ContextDep, GateDep, NowDep, SessionDep, SignerDep
from ticketing.ingest.pipeline import ingest_batch
from ticketing.ingest.rules import DoubleUseRule
from ticketing.models import Gate
from ticketing.responses import Signer
from ticketing.schemas import GateEnroll
from ticketing.services import gate_lists, gates

__all__ = ["router", "signed_list"]

router = APIRouter(prefix="/v1/gate", tags=["gate"])
# Cursors are BIGINT sequence numbers: a larger one is a client error (422), not a database overflow (500).
After = Annotated[int, Query(ge=0, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=gates.MAX_PAGE)]


def signed_list(
    name: str, page: dict[str, Any], *, after: int, gate: Gate, session: Session, now: datetime, sign: Signer
) -> Response:
    """The signed page of list `name`, its fetch noted when the gate reaches the list's end with it."""
    answer = sign(page)
    gate_lists.record_fetch(session, gate.gate_id, name, page=page, after=after, now=now)
    return answer


@router.post("/enroll", response_class=Response)
def enroll(body: GateEnroll, session: SessionDep, ctx: ContextDep, now: NowDep, sign: SignerDep) -> Response:
    return sign(gates.enroll_gate(session, ctx, body.code, body.device_public_key, now))


@router.get("/revocations", response_class=Response)
def revocations(
    gate: GateDep,
    *,
    session: SessionDep,
    now: NowDep,
    sign: SignerDep,
    after: After = 0,
    limit: Limit = gates.DEFAULT_PAGE,
) -> Response:
    page = gates.revocations_page(session, after, limit)
    return signed_list("revocations", page, after=after, gate=gate, session=session, now=now, sign=sign)


@router.get("/passes", response_class=Response)
def passes(
    gate: GateDep,
    *,
    session: SessionDep,
    now: NowDep,
    sign: SignerDep,
    after: After = 0,
    limit: Limit = gates.DEFAULT_PAGE,
) -> Response:
    page = gates.passes_page(session, after, limit)
    return signed_list("passes", page, after=after, gate=gate, session=session, now=now, sign=sign)


@router.get("/events", response_class=Response)
def events(
    gate: GateDep,
    *,
    session: SessionDep,
    now: NowDep,
    sign: SignerDep,
    after: After = 0,
    limit: Limit = gates.DEFAULT_PAGE,
) -> Response:
    page = gates.events_page(session, gate, after, limit, now)
    return signed_list("events", page, after=after, gate=gate, session=session, now=now, sign=sign)


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
