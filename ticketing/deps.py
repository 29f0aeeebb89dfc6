"""Dependencies: the one place that opens database sessions, plus the clock, context and credentials."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

from ticketing.context import ServiceContext
from ticketing.models import ApiToken, Gate, Role
from ticketing.responses import Signer
from ticketing.services import gate_lists
from ticketing.services.api_tokens import authenticate
from ticketing.services.gates import authenticate_gate

__all__ = [
    "AdminDep",
    "AuditorDep",
    "BearerDep",
    "ContextDep",
    "GateDep",
    "ListAnswer",
    "ListAnswerDep",
    "NowDep",
    "SessionDep",
    "SignerDep",
    "bearer_token",
    "get_session",
]

_log = logging.getLogger(__name__)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """`async def`, although the session is used in the endpoint's thread: making a session does no I/O, and
    closing one that holds no connection (a request that committed) does none either. Only a session still
    in a transaction (an error, a replay that wrote nothing) is closed in the thread pool, where its
    rollback may wait on the database. A sync generator here cost two thread-pool hops per request."""
    engine: Engine = request.app.state.engine
    # expire_on_commit=False: services return rows after committing, and routes read them.
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):  # a client gone away must not leak the connection
                await run_in_threadpool(_close_quietly, session)
        else:
            session.close()


def _close_quietly(session: Session) -> None:
    # The answer (often a 503 for this very outage) has gone out; a rollback on a connection the database
    # dropped can only fail, and SQLAlchemy has already invalidated that connection. Not a traceback.
    try:
        session.close()
    except DBAPIError as exc:
        _log.warning("session closed on a lost database connection: %s", type(exc.orig).__name__)


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


def require_auditor(session: Annotated[Session, Depends(get_session)], request: Request) -> ApiToken:
    return authenticate(session, bearer_token(request), Role.AUDITOR)  # admins may read audits too


def require_gate(session: Annotated[Session, Depends(get_session)], request: Request) -> Gate:
    return authenticate_gate(session, bearer_token(request))


def get_signer(
    request: Request,
    session: Annotated[Session, Depends(get_session)],
    context: Annotated[ServiceContext, Depends(get_context)],
    now: Annotated[datetime, Depends(get_now)],
) -> Signer:
    return Signer(request, session, context.keyring, now)


class ListAnswer:
    """How a gate's list page is answered: signed, and its fetch noted for gate health when the gate reaches
    the list's end with it (ticketing.services.gate_lists), after signing: a page that could not be signed
    (503) was never served."""

    def __init__(self, gate: Gate, session: Session, now: datetime, sign: Signer) -> None:
        self._gate, self._session, self._now, self._sign = gate, session, now, sign

    def __call__(self, name: str, page: dict[str, Any], *, after: int) -> Response:
        answer = self._sign(page)
        gate_lists.record_fetch(
            self._session, self._gate.gate_id, name, page=page, after=after, now=self._now
        )
        return answer


def get_list_answer(
    gate: Annotated[Gate, Depends(require_gate)],
    session: Annotated[Session, Depends(get_session)],
    now: Annotated[datetime, Depends(get_now)],
    sign: Annotated[Signer, Depends(get_signer)],
) -> ListAnswer:
    return ListAnswer(gate, session, now, sign)


SessionDep = Annotated[Session, Depends(get_session)]
ContextDep = Annotated[ServiceContext, Depends(get_context)]
NowDep = Annotated[datetime, Depends(get_now)]
BearerDep = Annotated[str | None, Depends(_bearer)]
AdminDep = Annotated[ApiToken, Depends(require_admin)]
AuditorDep = Annotated[ApiToken, Depends(require_auditor)]
GateDep = Annotated[Gate, Depends(require_gate)]
SignerDep = Annotated[Signer, Depends(get_signer)]
ListAnswerDep = Annotated[ListAnswer, Depends(get_list_answer)]
