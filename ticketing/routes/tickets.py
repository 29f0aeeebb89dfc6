"""Riders' tickets: the JSON with its QR payload, the QR as PNG or SVG, and refunds."""

from __future__ import annotations

from fastapi import APIRouter, Response

from ticketing import qr_images
from ticketing.deps import BearerDep, ContextDep, NowDep, SessionDep
from ticketing.models import TicketPublic
from ticketing.services import tariffs, tickets

__all__ = ["router"]

router = APIRouter(prefix="/v1/tickets", tags=["tickets"])
_PNG: dict[int | str, dict[str, object]] = {200: {"content": {"image/png": {}}}}
_SVG: dict[int | str, dict[str, object]] = {200: {"content": {"image/svg+xml": {}}}}
_PRIVATE = {"cache-control": "private, max-age=86400"}  # the image never changes; it is the rider's alone


@router.get("/{ticket_id}")
def read_ticket(
    ticket_id: str, session: SessionDep, ctx: ContextDep, now: NowDep, token: BearerDep
) -> TicketPublic:
    return tickets.read_ticket(session, ticket_id, token, now, ctx.catalog.policy)


@router.get("/{ticket_id}/qr.png", response_class=Response, responses=_PNG)
def ticket_png(ticket_id: str, session: SessionDep, token: BearerDep) -> Response:
    ticket = tickets.authorised_ticket(session, ticket_id, token)
    return Response(qr_images.render_png(ticket.qr_payload), media_type="image/png", headers=_PRIVATE)


@router.get("/{ticket_id}/qr.svg", response_class=Response, responses=_SVG)
def ticket_svg(ticket_id: str, session: SessionDep, token: BearerDep) -> Response:
    ticket = tickets.authorised_ticket(session, ticket_id, token)
    return Response(qr_images.render_svg(ticket.qr_payload), media_type="image/svg+xml", headers=_PRIVATE)


@router.post("/{ticket_id}/refund")
def refund(
    ticket_id: str, session: SessionDep, ctx: ContextDep, now: NowDep, token: BearerDep
) -> TicketPublic:
    policy = tariffs.catalog_at(session, ctx, now).policy  # the refund rules in force now
    return tickets.refund_ticket(session, ticket_id, token, policy, now)
