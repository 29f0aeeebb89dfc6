"""Payment confirmations: the bank's signed webhook, and the sandbox stand-in for it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response

from ticketing.deps import BearerDep, ContextDep, NowDep, SessionDep
from ticketing.errors import BadSignature, InvalidRequest, StaleTimestamp
from ticketing.models import OrderPublic
from ticketing.payments.webhook import (
    DEFAULT_MAX_AGE_SECONDS,
    InvalidNotification,
    Verification,
    parse_notification,
    verify_notification,
)
from ticketing.responses import json_text
from ticketing.schemas import PaymentAccepted
from ticketing.services import payments
from ticketing.services.idempotency import check_printable_key, record_key, request_hash, run_once

__all__ = ["router", "sandbox_router"]

router = APIRouter(prefix="/v1/payments", tags=["payments"])
sandbox_router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


async def raw_body(request: Request) -> bytes:
    """The exact bytes the bank signed (parsed JSON would not do: the MAC covers the bytes)."""
    return await request.body()


@router.post("/notify", response_model=PaymentAccepted)
def notify(
    body: Annotated[bytes, Depends(raw_body)],
    *,
    session: SessionDep,
    ctx: ContextDep,
    now: NowDep,
    x_signature: Annotated[str, Header()] = "",
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    # The app's clock (not time.time()), so the 300 s replay window is tested with a fixed `now`.
    verification = verify_notification(body, x_signature, ctx.webhook_secret, int(now.timestamp()))
    if verification is Verification.STALE_TIMESTAMP:
        raise StaleTimestamp(
            f"the X-Signature timestamp is more than {DEFAULT_MAX_AGE_SECONDS} s from the service's clock"
        )
    if verification is not Verification.VALID:
        raise BadSignature("the notification's X-Signature does not verify")
    try:
        notification = parse_notification(body)
    except InvalidNotification as error:
        raise InvalidRequest(str(error), code="invalid_notification") from None

    if idempotency_key is not None:
        check_printable_key(idempotency_key)
    key = record_key(ctx.token_secret, "notify", idempotency_key)

    def confirm() -> str:
        order = payments.confirm_notification(session, ctx, notification, now)
        return PaymentAccepted(order_id=order.id, status=order.status).model_dump_json()

    return json_text(run_once(session, key, request_hash(body), confirm, now=now))


@sandbox_router.post("/orders/{order_id}/pay", response_model=OrderPublic)
def sandbox_pay(
    order_id: str,
    *,
    session: SessionDep,
    ctx: ContextDep,
    now: NowDep,
    token: BearerDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    return json_text(
        payments.pay_in_sandbox(session, ctx, order_id, token, idempotency_key=idempotency_key, now=now)
    )
