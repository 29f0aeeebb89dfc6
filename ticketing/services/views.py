"""Turn rows into the `…Public` shapes the API returns (the only shapes it returns)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session, col, select

from ticketing.models import (
    HolderPublic,
    Order,
    OrderItem,
    OrderItemPublic,
    OrderPublic,
    OrderStatus,
    Pass,
    PassPublic,
    PaymentPublic,
    Ticket,
    TicketPublic,
)
from ticketing.payments import PaymentInstructions

__all__ = ["effective_status", "order_public", "ticket_public"]


def effective_status(order: Order, now: datetime) -> OrderStatus:
    """An unpaid order past its expiry reads as expired even before anything writes that down."""
    if order.status == OrderStatus.AWAITING_PAYMENT and now >= order.expires_at:
        return OrderStatus.EXPIRED
    return OrderStatus(order.status)


def _item_public(item: OrderItem) -> OrderItemPublic:
    holder = None
    if item.holder_masked and item.holder_initials and item.holder_birth_year:
        holder = HolderPublic(
            cccd_masked=item.holder_masked, initials=item.holder_initials, birth_year=item.holder_birth_year
        )
    return OrderItemPublic.model_validate(item, update={"holder": holder})


def ticket_public(ticket: Ticket, holder_pass: Pass | None) -> TicketPublic:
    # Attributes, not model_dump(): rows loaded from the database hold plain str where enums are declared.
    data = {name: getattr(ticket, name) for name in Ticket.model_fields}
    data["serial"] = str(ticket.serial)
    data["pass"] = None if holder_pass is None else PassPublic.model_validate(holder_pass)
    return TicketPublic.model_validate(data)


def order_public(
    session: Session,
    order: Order,
    instructions: PaymentInstructions,
    now: datetime,
    access_token: str | None = None,
    *,
    items: Sequence[OrderItem] | None = None,
) -> OrderPublic:
    """`items`: the order's items in position order, when the caller holds them already (saves a query)."""
    if items is None:
        items = session.exec(
            select(OrderItem).where(OrderItem.order_id == order.id).order_by(col(OrderItem.position))
        ).all()
    tickets: list[TicketPublic] = []
    if order.status == OrderStatus.PAID:
        rows = session.exec(
            select(Ticket, Pass)
            .join(Pass, col(Pass.ticket_id) == col(Ticket.id), isouter=True)
            .where(Ticket.order_id == order.id)
            .order_by(col(Ticket.order_item_id), col(Ticket.issued_at), col(Ticket.id))
        ).all()
        tickets = [ticket_public(ticket, holder_pass) for ticket, holder_pass in rows]
    return OrderPublic(
        id=order.id,
        status=effective_status(order, now),
        amount_vnd=order.amount_vnd,
        created_at=order.created_at,
        expires_at=order.expires_at,
        paid_at=order.paid_at,
        items=[_item_public(item) for item in items],
        payment=PaymentPublic(
            provider=instructions.provider,
            reference=instructions.reference,
            amount_vnd=instructions.amount_vnd,
            vietqr_payload=instructions.vietqr_payload,
        ),
        tickets=tickets,
        access_token=access_token,
    )
