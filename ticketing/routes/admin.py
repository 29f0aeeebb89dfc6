"""Administrator actions (Bearer admin token): list, verify, refuse and revoke passes, rotate and revoke
signing keys, enrol and revoke gates, list and revoke operator tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from ticketing.deps import AdminDep, ContextDep, NowDep, SessionDep
from ticketing.models import (
    ApiTokenPublic,
    GateCreated,
    GatePublic,
    KeyRevocationPublic,
    KeysetPublic,
    PassPublic,
    PassStatus,
)
from ticketing.schemas import GateCreate, PassRevoke
from ticketing.services import api_tokens, gates, passes, signing_keys

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])
# A key id is two bytes of the ticket format; a larger number overflowed the database's integer (a 500).
KeyId = Annotated[int, Path(ge=0, le=0xFFFF)]


@router.get("/passes")
def list_passes(
    session: SessionDep, _admin: AdminDep, status: Annotated[PassStatus | None, Query()] = None
) -> list[PassPublic]:
    """Passes oldest first, at most 500; `status=pending_verification`: the student cards to see."""
    return passes.list_passes(session, status)


@router.post("/passes/{pass_id}/verify")
def verify(pass_id: str, session: SessionDep, now: NowDep, _admin: AdminDep) -> PassPublic:
    return passes.verify_pass(session, pass_id, now)


@router.post("/passes/{pass_id}/refuse")
def refuse(pass_id: str, session: SessionDep, now: NowDep, _admin: AdminDep) -> PassPublic:
    """The student card does not qualify: the pending pass is revoked and its ticket refunded in full."""
    return passes.refuse_pass(session, pass_id, now)


@router.post("/passes/{pass_id}/revoke")
def revoke_pass(
    pass_id: str, body: PassRevoke, session: SessionDep, now: NowDep, _admin: AdminDep
) -> PassPublic:
    """A lost or replaced card, a refund or fraud: every gate refuses the pass, card and QR, once synced."""
    return passes.revoke_pass(session, pass_id, body.reason, now)


@router.post("/keys/rotate")
def rotate(session: SessionDep, ctx: ContextDep, now: NowDep, _admin: AdminDep) -> KeysetPublic:
    """Publish the next key at once; it signs from `not_before`, the policy's key_lead_hours from now (409
    key_waiting while one already waits)."""
    return signing_keys.rotate(session, ctx, now)[1]


@router.post("/keys/{kid}/revoke")
def revoke(
    kid: KeyId, session: SessionDep, ctx: ContextDep, now: NowDep, _admin: AdminDep
) -> KeyRevocationPublic:
    """Revoke a compromised key; its good tickets are signed again under the key in force (`reissued`)."""
    return signing_keys.revoke_and_reissue(session, ctx, kid, now)


@router.post("/gates", status_code=201)
def create_gate(
    body: GateCreate, session: SessionDep, ctx: ContextDep, now: NowDep, _admin: AdminDep
) -> GateCreated:
    return gates.create_gate(session, ctx, body.station, body.gate_id, now)


@router.get("/gates")
def list_gates(session: SessionDep, _admin: AdminDep) -> list[GatePublic]:
    return gates.list_gates(session)


@router.post("/gates/{gate_id}/revoke")
def revoke_gate(gate_id: str, session: SessionDep, now: NowDep, _admin: AdminDep) -> GatePublic:
    return gates.revoke_gate(session, gate_id, now)


@router.get("/tokens")
def list_tokens(session: SessionDep, _admin: AdminDep) -> list[ApiTokenPublic]:
    return api_tokens.list_tokens(session)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(token_id: str, session: SessionDep, _admin: AdminDep) -> ApiTokenPublic:
    return api_tokens.revoke_token(session, token_id)
