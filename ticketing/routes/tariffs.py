"""Tariff and policy versions: operators announce them ahead (Bearer admin token), gates sync them (Bearer
gate token, the answer signed with `X-Signature` like every gate list)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ticketing.deps import AdminDep, ContextDep, GateDep, ListAnswerDep, NowDep, SessionDep
from ticketing.services import gates, tariffs
from ticketing.tariff_models import TariffVersionCreate, TariffVersionPublic

__all__ = ["admin_router", "gate_router"]

admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])
gate_router = APIRouter(prefix="/v1/gate", tags=["gate"])
After = Annotated[int, Query(ge=0, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=gates.MAX_PAGE)]


@admin_router.get("/tariffs")
def list_tariffs(
    session: SessionDep, ctx: ContextDep, now: NowDep, _admin: AdminDep
) -> list[TariffVersionPublic]:
    """Every tariff and policy version the service holds, with the one in force now and the next."""
    return tariffs.list_versions(session, ctx, now)


@admin_router.post("/tariffs", status_code=201)
def publish_tariff(
    body: TariffVersionCreate, session: SessionDep, ctx: ContextDep, now: NowDep, _admin: AdminDep
) -> TariffVersionPublic:
    """Announce a tariff or policy version ahead: gates learn it at their next sync, and it is in force, on
    the service and on every gate, from `effective_from`. 422 invalid_document or effective_from_past, 409
    version_exists."""
    return tariffs.publish_version(session, ctx, body, now)


@gate_router.get("/tariffs", response_class=Response)
def tariff_versions(
    _gate: GateDep,
    *,
    session: SessionDep,
    ctx: ContextDep,
    answer: ListAnswerDep,
    after: After = 0,
    limit: Limit = gates.DEFAULT_PAGE,
) -> Response:
    """Tariff and policy versions by cursor, oldest first: a gate decides each scan with the one in force."""
    return answer("tariffs", tariffs.versions_page(session, ctx, after, limit), after=after)
