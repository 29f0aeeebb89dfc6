"""Administrator actions (Bearer admin token): verify student passes, rotate and revoke signing keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from ticketing import keys
from ticketing.deps import AdminDep, ContextDep, NowDep, SessionDep
from ticketing.models import PassPublic
from ticketing.services.passes import verify_pass

__all__ = ["router"]

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/passes/{pass_id}/verify")
def verify(pass_id: str, session: SessionDep, now: NowDep, _admin: AdminDep) -> PassPublic:
    return verify_pass(session, pass_id, now)


@router.post("/keys/rotate")
def rotate(session: SessionDep, ctx: ContextDep, now: NowDep, _admin: AdminDep) -> dict[str, Any]:
    keys.rotate_keys(session, ctx.key_passphrase, ctx.catalog.longest_validity, now)
    return keys.published_keyset(session, now)


@router.post("/keys/{kid}/revoke")
def revoke(kid: int, session: SessionDep, now: NowDep, _admin: AdminDep) -> dict[str, Any]:
    keys.revoke_key(session, kid, now)
    return keys.published_keyset(session, now)
