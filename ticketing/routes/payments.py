"""Payment confirmations: the bank's signed webhook, and the sandbox stand-in for it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request

from ticketing.deps import BearerDep, ContextDep, NowDep, SessionDep
from ticketing.errors import BadSignature, InvalidRequest
from ticketing.models import OrderPublic
from ticketing.payments.webhook import InvalidNotification, parse_notification, verify_notification
from ticketing.schemas import PaymentAccepted
from ticketing.services import orders, payments
from ticketing.services.idempotency import request_hash, run_once

__all__ = ["router", "sandbox_router"]

router = APIRouter(prefix="/v1/payments", tags=["payments"])
sandbox_router = APIRouter(prefix="/v1/sandbox", tags=["sandbox"])


async def raw_body(request: Request) -> bytes:
    """The exact bytes the bank signed (parsed JSON would not do: the MAC covers the bytes)."""
    return await request.body()


@router.post("/notify")
def notify(
    body: Annotated[bytes, Depends(raw_body)],
    *,
    session: SessionDep,
    ctx: ContextDep,
    now: NowDep,
    x_signature: Annotated[str, Header()] = "",
    idempotency_key: Annotated[str | None, Header()] = None,
) -> PaymentAccepted:
    # The app's clock (not time.time()), so the 300 s replay window is tested with a fixed `now`.
    if not verify_notification(body, x_signature, ctx.webhook_secret, int(now.timestamp())):
        raise BadSignature("the notification's X-Signature does not verify")
    try:
        notification = parse_notification(body)
    except InvalidNotification as error:
        raise InvalidRequest(str(error), code="invalid_notification") from None

    def confirm() -> dict[str, Any]:
        order = payments.confirm_notification(session, ctx, notification, now)
        return PaymentAccepted(order_id=order.id, status=order.status).model_dump()

    return PaymentAccepted(
        **run_once(session, "notify", idempotency_key, request_hash(body), confirm, now=now)
    )


@sandbox_router.post("/orders/{order_id}/pay")
def sandbox_pay(
    order_id: str,
    *,
    session: SessionDep,
    ctx: ContextDep,
    now: NowDep,
    token: BearerDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> OrderPublic:
    orders.authorised_order(session, order_id, token)  # before any replay: a key alone opens nothing

    def pay() -> dict[str, Any]:
        order = payments.confirm_sandbox_payment(session, ctx, order_id, token, now)
        return orders.order_view(session, ctx, order, now).model_dump(mode="json", by_alias=True)

    return OrderPublic.model_validate(
        run_once(session, "sandbox-pay", idempotency_key, request_hash(order_id), pay, now=now)
    )
