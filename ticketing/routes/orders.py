"""Riders' orders: create one, read it with its access token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from ticketing.deps import BearerDep, ContextDep, NowDep, SessionDep
from ticketing.models import OrderPublic
from ticketing.responses import json_text
from ticketing.schemas import OrderCreate
from ticketing.services import orders

__all__ = ["router"]

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("", status_code=201, response_model=OrderPublic)
def create_order(
    body: OrderCreate,
    session: SessionDep,
    ctx: ContextDep,
    now: NowDep,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> Response:
    order = orders.create_order(session, ctx, body, idempotency_key, now)
    return json_text(order.model_dump_json(by_alias=True), status_code=201)


@router.get("/{order_id}")
def read_order(
    order_id: str, session: SessionDep, ctx: ContextDep, now: NowDep, token: BearerDep
) -> OrderPublic:
    return orders.read_order(session, ctx, order_id, token, now)
