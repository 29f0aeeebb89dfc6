"""The free-rider registry: staff enter, list and end entries (Bearer admin token); gates sync the list
(Bearer gate token, signed like every gate answer)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from ticketing.deps import AdminDep, ContextDep, GateDep, ListAnswerDep, NowDep, SessionDep
from ticketing.models import FreeRiderPublic, FreeRiderStatus
from ticketing.schemas import FreeRiderCreate, FreeRiderEndCreate
from ticketing.services import free_riders, gates

__all__ = ["admin_router", "gate_router"]

admin_router = APIRouter(prefix="/v1/admin/free-riders", tags=["admin"])
gate_router = APIRouter(prefix="/v1/gate", tags=["gate"])
After = Annotated[int, Query(ge=0, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=gates.MAX_PAGE)]


@admin_router.post("", status_code=201)
def add(
    body: FreeRiderCreate, session: SessionDep, ctx: ContextDep, now: NowDep, admin: AdminDep
) -> FreeRiderPublic:
    """Enter a free rider after checking their document: a 0 VND free_priority entitlement, card only."""
    return free_riders.add_free_rider(session, ctx, body, admin.id, now)


@admin_router.get("")
def list_entries(
    session: SessionDep, _admin: AdminDep, status: Annotated[FreeRiderStatus | None, Query()] = None
) -> list[FreeRiderPublic]:
    """Entries oldest first, at most 500: masked number, initials, birth year, category, dates."""
    return free_riders.list_free_riders(session, status)


@admin_router.post("/{entry_id}/end")
def end(
    entry_id: str, body: FreeRiderEndCreate, session: SessionDep, now: NowDep, _admin: AdminDep
) -> FreeRiderPublic:
    """End an entry before its last day: every gate refuses it (free_rider_ended) once synced."""
    return free_riders.end_free_rider(session, entry_id, body.reason, now)


@gate_router.get("/free_riders", response_class=Response)
def free_rider_list(
    _gate: GateDep,
    session: SessionDep,
    answer: ListAnswerDep,
    after: After = 0,
    limit: Limit = gates.DEFAULT_PAGE,
) -> Response:
    return answer("free_riders", free_riders.free_riders_page(session, after, limit), after=after)
