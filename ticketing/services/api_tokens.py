"""Operator API tokens (admin, auditor): stored as hashes, shown once at creation."""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from ticketing.errors import Forbidden, NotFound, Unauthorized
from ticketing.models import ApiToken, ApiTokenPublic, Role
from ticketing.schemas import TokenCreated
from ticketing.services.common import hash_token, new_id

__all__ = ["authenticate", "create_token", "list_tokens", "revoke_token"]


def create_token(session: Session, role: Role, label: str, now: datetime) -> TokenCreated:
    """Make a token for `role`. Commits. The answer is the only place the token ever appears."""
    token = f"mqa_{role.value}_" + secrets.token_urlsafe(32)
    row = ApiToken(id=new_id(), role=role, token_hash=hash_token(token), label=label, created_at=now)
    session.add(row)
    session.commit()
    return TokenCreated(id=row.id, role=role.value, token=token)


def authenticate(session: Session, token: str | None, role: Role) -> ApiToken:
    """The token's row if it is live and has `role` (admins may do what auditors do)."""
    if not token:
        raise Unauthorized("an operator token is required")
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked:
        raise Unauthorized("unknown or revoked token")
    if row.role not in {role, Role.ADMIN}:
        raise Forbidden(f"this needs the {role.value} role")
    return row


def list_tokens(session: Session) -> list[ApiTokenPublic]:
    """Every operator token, oldest first, revoked ones too; never the token or its hash."""
    rows = session.exec(select(ApiToken).order_by(col(ApiToken.created_at), col(ApiToken.id))).all()
    return [ApiTokenPublic.model_validate(row) for row in rows]


def revoke_token(session: Session, token_id: str) -> ApiTokenPublic:
    """Revoke a token by its id. Commits; revoking twice is a no-op. `authenticate` reads the row on every
    request (no cache), so the token stops working with the next one."""
    row = session.get(ApiToken, token_id) if len(token_id) <= 32 else None
    if row is None:
        raise NotFound("no token with this id", code="token_not_found")
    if not row.revoked:
        row.revoked = True
        session.add(row)
        session.commit()
    return ApiTokenPublic.model_validate(row)
