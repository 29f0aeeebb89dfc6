"""Administering CCCD-linked passes. Every change bumps the pass's `seq`, the cursor gates sync by."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from ticketing.errors import Conflict, NotFound
from ticketing.models import Pass, PassPublic, PassStatus
from ticketing.services.common import next_seq

__all__ = ["verify_pass"]


def verify_pass(session: Session, pass_id: str, now: datetime) -> PassPublic:
    """Staff saw the student card: the pass becomes active. Commits. Verifying an active pass is a no-op."""
    holder_pass = session.get(Pass, pass_id, with_for_update=True) if len(pass_id) <= 32 else None
    if holder_pass is None:
        raise NotFound("no such pass", code="pass_not_found")
    if holder_pass.status == PassStatus.REVOKED:
        raise Conflict("the pass is revoked", code="pass_revoked")
    if holder_pass.status == PassStatus.PENDING_VERIFICATION:
        holder_pass.status = PassStatus.ACTIVE
        holder_pass.verified_at = now
        holder_pass.updated_at = now
        holder_pass.seq = next_seq(session, "passes")
        session.add(holder_pass)
        session.commit()
        session.refresh(holder_pass)
    return PassPublic.model_validate(holder_pass)
