"""Confirming a payment and issuing the order's tickets: all of them in one transaction, at most once.

Double issuing is prevented by a compare-and-set on the order's status: `UPDATE … WHERE status =
'awaiting_payment'`. On PostgreSQL a second concurrent confirmation blocks on the row lock, then re-checks the
WHERE and updates nothing; on SQLite the write lock (BEGIN IMMEDIATE) serialises them outright.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, col, select

from fare_rules.products import HOLDER_PRODUCTS, Product
from ticketing.context import ServiceContext
from ticketing.errors import AmountMismatch, Conflict, NotFound, OrderExpired, OrderNotPayable
from ticketing.models import Order, OrderItem, OrderStatus, Pass, PassStatus, Ticket, TicketStatus
from ticketing.payments.webhook import PaymentNotification
from ticketing.services.common import new_id, next_seq
from ticketing.services.orders import authorised_order
from validator.codec import TicketBody, encode

__all__ = ["confirm_notification", "confirm_payment", "confirm_sandbox_payment"]


def confirm_sandbox_payment(
    session: Session, ctx: ServiceContext, order_id: str, access_token: str | None, now: datetime
) -> Order:
    """What the sandbox 'bank' does: confirm the full amount for an order the caller holds the token of."""
    order = authorised_order(session, order_id, access_token)
    return confirm_payment(
        session, ctx, order.id, order.amount_vnd, transaction_id=f"sandbox-{order.id}", now=now
    )


def confirm_notification(
    session: Session, ctx: ServiceContext, notification: PaymentNotification, now: datetime
) -> Order:
    """A verified bank notification: it must name an order and that order's own payment reference."""
    order = session.get(Order, notification.order_id) if len(notification.order_id) <= 32 else None
    if order is None or order.payment_reference != notification.reference:
        raise NotFound("no order with this id and reference", code="order_not_found")
    return confirm_payment(
        session,
        ctx,
        order.id,
        notification.amount_vnd,
        transaction_id=notification.bank_transaction_id,
        now=now,
    )


def confirm_payment(
    session: Session,
    ctx: ServiceContext,
    order_id: str,
    amount_vnd: int,
    *,
    transaction_id: str,
    now: datetime,
) -> Order:
    """Record that `amount_vnd` arrived for the order and issue its tickets. Commits. Idempotent per
    transaction: a repeated confirmation answers with the paid order and issues nothing."""
    order = session.get(Order, order_id) if len(order_id) <= 32 else None
    if order is None:
        raise NotFound("no such order", code="order_not_found")
    if order.status == OrderStatus.PAID:
        return _already_paid(order, transaction_id)
    _check_payable(session, order, amount_vnd, now)
    won = session.exec(
        sa.update(Order)
        .where(col(Order.id) == order.id, col(Order.status) == OrderStatus.AWAITING_PAYMENT)
        .values(status=OrderStatus.PAID, paid_at=now, payment_transaction_id=transaction_id)
    )
    if won.rowcount != 1:  # another confirmation got there first
        session.rollback()
        session.refresh(order)
        return _already_paid(order, transaction_id)
    _issue(session, ctx, order, now)
    session.commit()
    # No refresh: the ORM UPDATE above already set status, paid_at and the transaction on `order`.
    return order


def _already_paid(order: Order, transaction_id: str) -> Order:
    if order.status == OrderStatus.PAID and order.payment_transaction_id == transaction_id:
        return order
    if order.status == OrderStatus.PAID:
        # Paid twice: the tickets stand; returning the second transfer is the operator's job.
        raise Conflict("this order was already paid by another transaction", code="order_already_paid")
    raise OrderNotPayable(f"order is {order.status}")


def _check_payable(session: Session, order: Order, amount_vnd: int, now: datetime) -> None:
    if order.status == OrderStatus.AWAITING_PAYMENT and now >= order.expires_at:
        order.status = OrderStatus.EXPIRED
        session.add(order)
        session.commit()
    if order.status == OrderStatus.EXPIRED:
        raise OrderExpired("the order expired before it was paid: create a new one")
    if order.status != OrderStatus.AWAITING_PAYMENT:
        raise OrderNotPayable(f"order is {order.status}")
    if amount_vnd != order.amount_vnd:
        raise AmountMismatch(f"paid {amount_vnd} VND, the order is {order.amount_vnd} VND")


def _issue(session: Session, ctx: ServiceContext, order: Order, now: datetime) -> None:
    kid, private_key = ctx.keyring.signing_key(session)
    issued_at = now.replace(microsecond=0)  # the ticket carries whole seconds; keep the row equal to it
    items = session.exec(
        select(OrderItem).where(OrderItem.order_id == order.id).order_by(col(OrderItem.position))
    )
    for item in items.all():
        for _ in range(item.quantity):
            ticket = _ticket(ctx, item, kid, issued_at)
            ticket.qr_payload = encode(_body(ctx, item, ticket), private_key)
            session.add(ticket)
            if item.product in HOLDER_PRODUCTS:
                session.flush()  # the ticket row before the pass that references it
                session.add(_pass(session, item, ticket, now))


def _ticket(ctx: ServiceContext, item: OrderItem, kid: int, issued_at: datetime) -> Ticket:
    policy = ctx.catalog.policy
    if item.product == Product.SINGLE:
        valid_from, valid_until = issued_at, issued_at + timedelta(days=policy.single_validity_days)
    elif item.product in HOLDER_PRODUCTS and item.start_date is not None:
        # A monthly pass runs from the start of its first service day (04:00 local) for monthly_days days.
        local_start = datetime.combine(item.start_date, policy.service_day_start, tzinfo=policy.local_tz)
        valid_from = local_start.astimezone(issued_at.tzinfo)
        valid_until = valid_from + timedelta(days=policy.monthly_days)
    else:  # day and 3-day passes: the window in which to activate them with a first entry
        valid_from, valid_until = issued_at, issued_at + timedelta(days=policy.pass_activation_days)
    return Ticket(
        id=new_id(),
        serial=secrets.randbits(63),  # random: no coordination between workers, no sales volume leaked
        order_id=item.order_id,
        order_item_id=item.id if item.id is not None else 0,
        product=item.product,
        origin=item.origin,
        destination=item.destination,
        fare_vnd=item.unit_price_vnd,
        key_id=kid,
        qr_payload="",
        status=TicketStatus.ISSUED,
        issued_at=issued_at,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def _body(ctx: ServiceContext, item: OrderItem, ticket: Ticket) -> TicketBody:
    network = ctx.catalog.network
    return TicketBody(
        key_id=ticket.key_id,
        serial=ticket.serial,
        product=Product(ticket.product),
        origin=network.station(item.origin).number if item.origin else 0,
        destination=network.station(item.destination).number if item.destination else 0,
        issued_at=ticket.issued_at,
        valid_from=ticket.valid_from,
        valid_until=ticket.valid_until,
        fare_vnd=ticket.fare_vnd,
        holder_hash=bytes.fromhex(item.holder_hash) if item.holder_hash else None,
    )


def _pass(session: Session, item: OrderItem, ticket: Ticket, now: datetime) -> Pass:
    status = PassStatus.PENDING_VERIFICATION if item.product == Product.MONTHLY_STUDENT else PassStatus.ACTIVE
    if not (item.holder_hash and item.holder_masked and item.holder_initials and item.holder_birth_year):
        raise RuntimeError(f"order item {item.id} of a holder product has no holder")
    return Pass(
        id=new_id(),
        ticket_id=ticket.id,
        product=item.product,
        holder_hash=item.holder_hash,
        holder_masked=item.holder_masked,
        holder_initials=item.holder_initials,
        holder_birth_year=item.holder_birth_year,
        status=status,
        valid_from=ticket.valid_from,
        valid_until=ticket.valid_until,
        seq=next_seq(session, "passes"),
        updated_at=now,
    )
