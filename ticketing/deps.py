"""Dependencies: the one place that opens database sessions, plus the clock, context and credentials."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.engine import Engine
from sqlmodel import Session

from ticketing.context import ServiceContext
from ticketing.models import ApiToken, Gate, Role
from ticketing.responses import Signer
from ticketing.services.api_tokens import authenticate
from ticketing.services.gates import authenticate_gate

__all__ = [
    "AdminDep",
    "BearerDep",
    "ContextDep",
    "GateDep",
    "NowDep",
    "SessionDep",
    "SignerDep",
    "bearer_token",
    "get_session",
]


def get_session(request: Request) -> Iterator[Session]:
    engine: Engine = request.app.state.engine
    # expire_on_commit=False: services return rows after committing, and routes read them.
    with Session(engine, expire_on_commit=False) as session:
        yield session


# The small dependencies are `async def` although they never await: FastAPI runs a plain `def` dependency in
# its thread pool, and the hop (for a context, a clock, a header) cost more than the rest of them together.


async def get_context(request: Request) -> ServiceContext:
    context: ServiceContext = request.app.state.context
    return context


async def get_now(request: Request) -> datetime:
    """The clock, overridable per app (tests move it to check expiry)."""
    clock = request.app.state.clock
    now: datetime = clock()
    return now


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


async def _bearer(request: Request) -> str | None:
    return bearer_token(request)


def require_admin(session: Annotated[Session, Depends(get_session)], request: Request) -> ApiToken:
    return authenticate(session, bearer_token(request), Role.ADMIN)


def require_gate(session: Annotated[Session, Depends(get_session)], request: Request) -> Gate:
    return authenticate_gate(session, bearer_token(request))


def get_signer(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    context: Annotated[ServiceContext, Depends(get_context)],
    now: Annotated[datetime, Depends(get_now)],
) -> Signer:
    return Signer(request, session, context.keyring, now)


SessionDep = Annotated[Session, Depends(get_session)]
ContextDep = Annotated[ServiceContext, Depends(get_context)]
NowDep = Annotated[datetime, Depends(get_now)]
BearerDep = Annotated[str | None, Depends(_bearer)]
AdminDep = Annotated[ApiToken, Depends(require_admin)]
GateDep = Annotated[Gate, Depends(require_gate)]
SignerDep = Annotated[Signer, Depends(get_signer)]
