"""Riders' orders: create one, read it with its access token, and the VietQR image a banking app scans."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from ticketing import qr_images
from ticketing.deps import BearerDep, ContextDep, NowDep, SessionDep
from ticketing.errors import NotFound
from ticketing.models import OrderPublic
from ticketing.responses import json_text
from ticketing.schemas import OrderCreate, OrderRecover
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


@router.post("/recover")
def recover_order(body: OrderRecover, session: SessionDep, ctx: ContextDep, now: NowDep) -> OrderPublic:
    """A paid order found again from its bank transfer (reference, amount, date), with a new access token;
    the old link stops working. Every mismatch is the same 404 `no_matching_order`; rate-limited."""
    return orders.recover_order(session, ctx, body, now)


@router.get("/{order_id}")
def read_order(
    order_id: str, session: SessionDep, ctx: ContextDep, now: NowDep, token: BearerDep
) -> OrderPublic:
    return orders.read_order(session, ctx, order_id, token, now)


_PNG: dict[int | str, dict[str, object]] = {200: {"content": {"image/png": {}}}}
_SVG: dict[int | str, dict[str, object]] = {200: {"content": {"image/svg+xml": {}}}}


def _vietqr(session: SessionDep, ctx: ContextDep, order_id: str, token: str | None) -> str:
    payload: str | None = orders.payment_instructions(session, ctx, order_id, token).vietqr_payload
    if payload is None:
        raise NotFound("this order is not paid by VietQR", code="no_vietqr")
    return payload


@router.get("/{order_id}/payment/qr.svg", response_class=Response, responses=_SVG)
def payment_svg(order_id: str, session: SessionDep, ctx: ContextDep, token: BearerDep) -> Response:
    """The order's VietQR (EMVCo payload) as an SVG a banking app scans: drawn here, no outside service."""
    svg = qr_images.render_svg(_vietqr(session, ctx, order_id, token))
    return Response(svg, media_type="image/svg+xml")


@router.get("/{order_id}/payment/qr.png", response_class=Response, responses=_PNG)
def payment_png(order_id: str, session: SessionDep, ctx: ContextDep, token: BearerDep) -> Response:
    png = qr_images.render_png(_vietqr(session, ctx, order_id, token))
    return Response(png, media_type="image/png")
