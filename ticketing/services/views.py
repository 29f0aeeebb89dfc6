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
    HolderPublic,
    Order,
    OrderItem,
    OrderItemPublic,
    OrderPublic,
    OrderStatus,
    Pass,
    PassPublic,
    PaymentPublic,
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


def _item_public(item: OrderItem) -> OrderItemPublic:
    holder = None
    if item.holder_masked and item.holder_initials and item.holder_birth_year:
        holder = HolderPublic(
            cccd_masked=item.holder_masked, initials=item.holder_initials, birth_year=item.holder_birth_year
        )
    return OrderItemPublic.model_validate(item, update={"holder": holder})


def item_public_values(item: Any) -> dict[str, Any]:
    """`OrderItemPublic`'s fields of any object with OrderItem's attributes (a row, an ORM object), as data
    for a model_validate of the whole answer."""
    holder = None
    if item.holder_masked and item.holder_initials and item.holder_birth_year:
        holder = {
            "cccd_masked": item.holder_masked,
            "initials": item.holder_initials,
            "birth_year": item.holder_birth_year,
        }
    return {
        "product": item.product,
        "origin": item.origin,
        "destination": item.destination,
        "quantity": item.quantity,
        "unit_price_vnd": item.unit_price_vnd,
        "start_date": item.start_date,
        "holder": holder,
    }


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
    return OrderPublic.model_validate(
        {
            "id": order["id"],
            "status": lifecycle.effective_status(order["status"], order["expires_at"], now),
            "amount_vnd": order["amount_vnd"],
            "created_at": order["created_at"],
            "expires_at": order["expires_at"],
            "paid_at": None,
            "items": [item_public_values(_Attributes(item)) for item in items],
            "payment": _payment_values(instructions),
            "tickets": [],
            "access_token": access_token,
        }
    )


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
    return OrderPublic.model_validate(
        {
            "id": order.id,
            "status": OrderStatus.PAID,
            "amount_vnd": order.amount_vnd,
            "created_at": order.created_at,
            "expires_at": order.expires_at,
            "paid_at": paid_at,
            "items": [item_public_values(item) for item in items],
            "payment": _payment_values(instructions),
            "tickets": tickets,
            "access_token": None,
        }
    )


class _Attributes:
    """A mapping read through attributes (item_public_values reads rows and objects that way)."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = values

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None


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
    return OrderPublic(
        id=order.id,
        status=effective_status(order, now),
        amount_vnd=order.amount_vnd,
        created_at=order.created_at,
        expires_at=order.expires_at,
        paid_at=order.paid_at,
        items=[_item_public(item) for item in items],
        payment=PaymentPublic.model_validate(_payment_values(instructions)),
        tickets=tickets,
        access_token=access_token,
    )
