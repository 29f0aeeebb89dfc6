"""Turn rows into the `…Public` shapes the API returns (the only shapes it returns)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from fare_rules.policy import Policy
from fare_rules.products import Product
from fare_rules.rules import rides_until
from ticketing.issuing import lifecycle
from ticketing.models import (
    Order,
    OrderItem,
    OrderPublic,
    OrderStatus,
    Pass,
    PassPublic,
    RefundPublic,
    Ticket,
    TicketPublic,
    TicketState,
    TicketStatus,
    Trip,
    table_of,
)
from ticketing.payments import PaymentInstructions

__all__ = [
    "effective_status",
    "exits_seen",
    "item_public_values",
    "new_order_public",
    "order_public",
    "paid_order_public",
    "refund_public",
    "ticket_public",
    "ticket_state",
]


def effective_status(order: Order, now: datetime) -> OrderStatus:
    """The order's status as a rider reads it now (ticketing.issuing: expiry)."""
    return lifecycle.effective_status(order.status, order.expires_at, now)


def _value(source: Any, name: str) -> Any:
    """A field of a row or an ORM object (by attribute) or of the values just inserted (a mapping)."""
    return source.get(name) if isinstance(source, Mapping) else getattr(source, name)


def item_public_values(item: Any) -> dict[str, Any]:
    """`OrderItemPublic`'s fields of an order item (row, ORM object or mapping), as data for the answer."""
    masked, initials, year = (
        _value(item, n) for n in ("holder_masked", "holder_initials", "holder_birth_year")
    )
    holder = (
        {"cccd_masked": masked, "initials": initials, "birth_year": year}
        if masked and initials and year
        else None
    )
    fields = ("product", "origin", "destination", "quantity", "unit_price_vnd", "start_date")
    return {**{name: _value(item, name) for name in fields}, "holder": holder}


def _answer(
    order: Any,
    items: Sequence[Any],
    tickets: Sequence[Any],
    instructions: PaymentInstructions,
    *,
    status: OrderStatus,
    paid_at: datetime | None,
    access_token: str | None,
) -> OrderPublic:
    """The one place an order's answer is built, from a row, an ORM object or the values just inserted."""
    return OrderPublic.model_validate(
        {
            "id": _value(order, "id"),
            "status": status,
            "amount_vnd": _value(order, "amount_vnd"),
            "created_at": _value(order, "created_at"),
            "expires_at": _value(order, "expires_at"),
            "paid_at": paid_at,
            "items": [item_public_values(item) for item in items],
            "payment": _payment_values(instructions),
            "tickets": list(tickets),
            "access_token": access_token,
        }
    )


def _payment_values(instructions: PaymentInstructions) -> dict[str, Any]:
    return {
        "provider": instructions.provider,
        "reference": instructions.reference,
        "amount_vnd": instructions.amount_vnd,
        "vietqr_payload": instructions.vietqr_payload,
        "bank_bin": instructions.bank_bin,
        "account": instructions.account,
        "account_name": instructions.account_name,
        "sandbox": instructions.sandbox,
    }


def new_order_public(
    order: Mapping[str, Any],
    items: Sequence[Mapping[str, Any]],
    instructions: PaymentInstructions,
    access_token: str,
    now: datetime,
) -> OrderPublic:
    """The answer to a new order, from the values just inserted (`order_public` without reading them back)."""
    status = lifecycle.effective_status(order["status"], order["expires_at"], now)
    return _answer(order, items, [], instructions, status=status, paid_at=None, access_token=access_token)


def paid_order_public(
    order: Any,
    items: Sequence[Any],
    issued: Sequence[Any],
    instructions: PaymentInstructions,
    *,
    paid_at: datetime,
) -> OrderPublic:
    """The answer to a payment that has just issued: `order_public` of the paid order, from the rows just
    written instead of reading them back. `order`: the order's row as it was before; `items`: objects with
    OrderItem's attributes, in position order; `issued`: services.payments.IssuedTicket."""
    entries = sorted(
        issued, key=lambda e: (e.ticket["order_item_id"], e.ticket["issued_at"], e.ticket["id"])
    )  # the order order_public reads them in
    tickets = []
    for entry in entries:
        data = {**entry.ticket, "serial": str(entry.ticket["serial"])}
        data["pass"] = None if entry.holder_pass is None else entry.holder_pass
        tickets.append(data)
    return _answer(
        order, items, tickets, instructions, status=OrderStatus.PAID, paid_at=paid_at, access_token=None
    )


def ticket_public(ticket: Ticket, holder_pass: Pass | None, state: TicketState) -> TicketPublic:
    # Attributes, not model_dump(): rows loaded from the database hold plain str where enums are declared.
    data = {name: getattr(ticket, name) for name in Ticket.model_fields}
    data["serial"] = str(ticket.serial)
    data["pass"] = None if holder_pass is None else PassPublic.model_validate(holder_pass)
    data["refund"] = refund_public(ticket)
    data["state"] = state
    return TicketPublic.model_validate(data)


def ticket_state(ticket: Ticket, now: datetime, exited: bool | None, policy: Policy) -> TicketState:
    """What the rider's app shows. `exited`: whether a trip of this ticket has its exit (None: no trip seen).
    A single ticket is spent by its first use, and is in use from its entry until its exit is seen; a pass
    is in use from its first ride until it ends (a day or 3-day pass: its activation's service days)."""
    if ticket.status == TicketStatus.REFUNDED:
        return TicketState.REFUNDED
    if ticket.status == TicketStatus.REVOKED:
        return TicketState.REVOKED
    if ticket.product == Product.SINGLE:
        if ticket.first_used_at is None:
            return TicketState.EXPIRED if now >= ticket.valid_until else TicketState.UNUSED
        return TicketState.IN_USE if exited is False else TicketState.USED
    if now >= rides_until(Product(ticket.product), ticket.valid_until, ticket.first_used_at, policy):
        return TicketState.EXPIRED
    return TicketState.UNUSED if ticket.first_used_at is None else TicketState.IN_USE


def exits_seen(session: Session, serials: Sequence[int]) -> dict[int, bool]:
    """For each of these tickets with a trip: whether its latest trip has an exit (one query)."""
    if not serials:
        return {}
    t = table_of(Trip)
    rows = session.connection().execute(
        sa.select(t.c.ticket_serial, t.c.exit_at)
        .where(t.c.ticket_serial.in_(sorted(set(serials))))
        .order_by(t.c.ticket_serial, t.c.started_at)
    )
    return {int(serial): exit_at is not None for serial, exit_at in rows}  # the latest trip last


def refund_public(ticket: Ticket) -> RefundPublic | None:
    if ticket.refunded_at is None or ticket.refund_final_at is None:
        return None
    fee = ticket.refund_fee_vnd or 0
    return RefundPublic(
        amount_vnd=ticket.fare_vnd - fee,
        fee_vnd=fee,
        refunded_at=ticket.refunded_at,
        final_at=ticket.refund_final_at,
        withdrawn_at=ticket.refund_withdrawn_at,
    )


def order_public(  # noqa: PLR0917 - the parts of the answer
    session: Session,
    order: Order,
    instructions: PaymentInstructions,
    now: datetime,
    policy: Policy,
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
        exited = exits_seen(session, [ticket.serial for ticket, _ in rows])
        tickets = [
            ticket_public(ticket, holder_pass, ticket_state(ticket, now, exited.get(ticket.serial), policy))
            for ticket, holder_pass in rows
        ]
    status = effective_status(order, now)
    return _answer(
        order, items, tickets, instructions, status=status, paid_at=order.paid_at, access_token=access_token
    )
