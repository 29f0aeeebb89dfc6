"""Confirming a payment and issuing the order's tickets: all of them in one transaction, at most once.

Double issuing is prevented by a compare-and-set on the order's status: `UPDATE … WHERE status =
'awaiting_payment'`. On PostgreSQL a second concurrent confirmation blocks on the row lock, then re-checks the
WHERE and updates nothing; on SQLite the write lock (BEGIN IMMEDIATE) serialises them outright.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from fare_rules.products import HOLDER_PRODUCTS, Product
from fare_rules.rules import validity_window
from ticketing.context import ServiceContext
from ticketing.errors import (
    AmountMismatch,
    Conflict,
    NoSigningKey,
    NotFound,
    OrderExpired,
    OrderNotPayable,
)
from ticketing.issuing import Payability, payability
from ticketing.keys import active_kid_column
from ticketing.models import (
    IdempotencyRecord,
    Order,
    OrderItem,
    OrderPublic,
    OrderStatus,
    Pass,
    PassStatus,
    Ticket,
    TicketStatus,
    table_of,
)
from ticketing.payments.webhook import PaymentNotification
from ticketing.services import tariffs
from ticketing.services.common import new_id, next_seqs, tokens_match
from ticketing.services.idempotency import StoredAnswer, check_key, record_key, request_hash, run_once
from ticketing.services.orders import order_view
from ticketing.services.views import paid_order_public
from validator.codec import TicketBody, encode

__all__ = [
    "IssuedTicket",
    "PaymentTarget",
    "confirm_notification",
    "confirm_payment",
    "load_payment_target",
    "pay_in_sandbox",
]

_ORDERS: Final[sa.Table] = table_of(Order)
_ITEMS: Final[sa.Table] = table_of(OrderItem)
_TICKETS: Final[sa.Table] = table_of(Ticket)
_PASSES: Final[sa.Table] = table_of(Pass)
_RECORDS: Final[sa.Table] = table_of(IdempotencyRecord)
_log = logging.getLogger(__name__)

# One statement for everything a confirmation reads: the order, its items in position order, the stored
# answer to this Idempotency-Key (if any) and the id of the key that signs now.
_LOAD: Final = (
    sa.select(
        *_ORDERS.c,
        *(column.label(f"item_{column.name}") for column in _ITEMS.c),
        _RECORDS.c.request_hash.label("record_request_hash"),
        _RECORDS.c.response_body.label("record_response_body"),
        active_kid_column().label("active_kid"),
    )
    .select_from(
        _ORDERS.outerjoin(_ITEMS, _ITEMS.c.order_id == _ORDERS.c.id).outerjoin(
            _RECORDS, _RECORDS.c.key == sa.bindparam("record_key")
        )
    )
    .where(_ORDERS.c.id == sa.bindparam("order_id"))
    .order_by(_ITEMS.c.position)
)
# The compare-and-set that makes issuing happen once (see the module's docstring).
_PAY: Final = (
    sa.update(_ORDERS)
    .where(_ORDERS.c.id == sa.bindparam("order_id"), _ORDERS.c.status == OrderStatus.AWAITING_PAYMENT.value)
    .values(
        status=OrderStatus.PAID.value,
        paid_at=sa.bindparam("paid_at"),
        payment_transaction_id=sa.bindparam("transaction_id"),
    )
)
_INSERT_TICKETS: Final = sa.insert(_TICKETS)
_INSERT_PASSES: Final = sa.insert(_PASSES)


@dataclass(frozen=True, slots=True)
class _Item:
    """An order item as issuing reads it (from a joined row or an ORM object alike)."""

    id: int
    order_id: str
    product: str
    origin: str | None
    destination: str | None
    quantity: int
    unit_price_vnd: int
    start_date: date | None
    holder_hash: str | None
    holder_masked: str | None
    holder_initials: str | None
    holder_birth_year: int | None

    @classmethod
    def of(cls, item: object, prefix: str = "") -> _Item:
        """From an OrderItem, or from a joined row whose item columns are labelled `prefix` + name."""
        return cls(**{name: getattr(item, prefix + name) for name in cls.__slots__})


@dataclass(frozen=True, slots=True)
class IssuedTicket:
    """A ticket row as inserted, and its pass row (holder products)."""

    ticket: dict[str, Any]
    holder_pass: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class PaymentTarget:
    """What `load_payment_target`'s one statement read."""

    order: Any  # the orders row (a Row of _LOAD: the columns of orders, then the rest)
    items: list[_Item]
    record: StoredAnswer | None  # the stored answer to the Idempotency-Key asked about
    active_kid: int | None


def load_payment_target(
    session: Session, order_id: str, record_key: str | None, now: datetime
) -> PaymentTarget | None:
    """The order with its items, the stored answer under `record_key` and the id of the key in force at
    `now`; None when there is no such order."""
    if len(order_id) > 32:
        return None
    values = {"order_id": order_id, "record_key": record_key, "signing_at": now}
    rows = session.connection().execute(_LOAD, values).all()
    if not rows:
        return None
    first = rows[0]
    items = [_Item.of(row, prefix="item_") for row in rows if row.item_id is not None]
    record = None
    if first.record_request_hash is not None:
        record = StoredAnswer(first.record_request_hash, first.record_response_body)
    return PaymentTarget(first, items, record, first.active_kid)


def pay_in_sandbox(
    session: Session,
    ctx: ServiceContext,
    order_id: str,
    access_token: str | None,
    *,
    idempotency_key: str | None,
    now: datetime,
) -> str:
    """What the sandbox 'bank' does: confirm the full amount for an order the caller holds the token of.
    Returns the paid order as JSON text (the first answer again for a repeated Idempotency-Key). Commits."""
    check_key(idempotency_key)
    key = record_key(ctx.token_secret, "sandbox-pay", idempotency_key)
    target = load_payment_target(session, order_id, key, now)
    # Authorised before any replay: a key alone opens nothing. Any failure is the 404 of a missing order.
    if target is None or not tokens_match(access_token, target.order.access_token_hash):
        raise NotFound("no such order", code="order_not_found")

    def pay() -> str:
        order = target.order
        view = confirm_target(
            session, ctx, target, order.amount_vnd, transaction_id=f"sandbox-{order.id}", now=now
        )
        return view.model_dump_json(by_alias=True)

    fingerprint = request_hash(order_id)
    return run_once(session, key, fingerprint, pay, now=now, found=target.record)


def confirm_target(
    session: Session,
    ctx: ServiceContext,
    target: PaymentTarget,
    amount_vnd: int,
    *,
    transaction_id: str,
    now: datetime,
) -> OrderPublic:
    """`confirm_payment` for an order read by `load_payment_target`, answered with the paid order. Not
    committed. The usual case (an unpaid order, in time, the full amount, no concurrent confirmation) is
    written without reading anything again; every other case goes through confirm_payment."""
    order = target.order
    payable = (
        payability(order.status, order.expires_at, order.amount_vnd, amount_vnd, now) is Payability.PAYABLE
    )
    # Not payable, or another confirmation got there first (_claim rolled back): confirm_payment answers.
    if payable and _claim(session, order.id, transaction_id, now):
        if target.active_kid is None:
            raise NoSigningKey("no active signing key: run `python -m ticketing keys rotate`")
        private_key = ctx.keyring.private_key(session, target.active_kid)
        issued = _issue(session, ctx, target.items, (target.active_kid, private_key), now)
        instructions = ctx.provider.instructions(order.payment_reference, order.amount_vnd)
        return paid_order_public(order, target.items, issued, instructions, paid_at=now)
    paid = confirm_payment(session, ctx, order.id, amount_vnd, transaction_id=transaction_id, now=now)
    return order_view(session, ctx, paid, now)


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
    """Record that `amount_vnd` arrived for the order and issue its tickets, uncommitted: the caller commits
    (with the stored answer to its Idempotency-Key, services.idempotency.run_once). Idempotent per
    transaction: a repeated confirmation answers with the paid order and issues nothing. An order past its
    expiry is refused (order_expired); nothing is written."""
    order = session.get(Order, order_id) if len(order_id) <= 32 else None
    if order is None:
        raise NotFound("no such order", code="order_not_found")
    if order.status == OrderStatus.PAID:
        return _already_paid(order, transaction_id)
    _check_payable(order, amount_vnd, now)
    if not _claim(session, order.id, transaction_id, now):  # another confirmation got there first
        session.refresh(order)
        return _already_paid(order, transaction_id)
    # What the compare-and-set wrote, on the loaded object too (without marking it for another UPDATE).
    set_committed_value(order, "status", OrderStatus.PAID)
    set_committed_value(order, "paid_at", now)
    set_committed_value(order, "payment_transaction_id", transaction_id)
    signing = ctx.keyring.signing_key(session, now)
    items = session.exec(
        select(OrderItem).where(OrderItem.order_id == order.id).order_by(col(OrderItem.position))
    ).all()
    _issue(session, ctx, [_Item.of(item) for item in items], signing, now)
    return order


def _claim(session: Session, order_id: str, transaction_id: str, now: datetime) -> bool:
    """The compare-and-set that makes issuing happen once, for every way a payment is confirmed: whether this
    confirmation moved the order from awaiting payment to paid (rolled back if not). A transaction id that
    already paid another order trips the unique index: 409 transaction_already_used."""
    values = {"order_id": order_id, "paid_at": now, "transaction_id": transaction_id}
    try:
        won = session.connection().execute(_PAY, values)
    except sa.exc.IntegrityError:
        session.rollback()
        raise _transaction_used(order_id, transaction_id) from None
    if won.rowcount != 1:
        session.rollback()
        return False
    return True


def _transaction_used(order_id: str, transaction_id: str) -> Conflict:
    # For reconciliation: the bank sent one transfer for two orders. A hash, not the id, in the log.
    digest = hashlib.sha256(transaction_id.encode()).hexdigest()[:16]
    _log.warning("transaction_already_used order=%s transaction_sha256=%s", order_id, digest)
    return Conflict("this bank transaction already paid another order", code="transaction_already_used")


def _already_paid(order: Order, transaction_id: str) -> Order:
    if order.status == OrderStatus.PAID and order.payment_transaction_id == transaction_id:
        return order
    if order.status == OrderStatus.PAID:
        # Paid twice: the tickets stand; returning the second transfer is the operator's job.
        raise Conflict("this order was already paid by another transaction", code="order_already_paid")
    raise OrderNotPayable(f"order is {order.status}")


def _check_payable(order: Order, amount_vnd: int, now: datetime) -> None:
    # Nothing is written here: the caller owns the transaction, and an order past its expiry reads as
    # expired wherever it is shown (ticketing.issuing.effective_status).
    verdict = payability(order.status, order.expires_at, order.amount_vnd, amount_vnd, now)
    if verdict is Payability.EXPIRED:
        raise OrderExpired("the order expired before it was paid: create a new one")
    if verdict is Payability.AMOUNT_MISMATCH:
        raise AmountMismatch(f"paid {amount_vnd} VND, the order is {order.amount_vnd} VND")
    if verdict is not Payability.PAYABLE:
        raise OrderNotPayable(f"order is {order.status}")


def _issue(
    session: Session,
    ctx: ServiceContext,
    items: Sequence[_Item],
    signing: tuple[int, Ed25519PrivateKey],
    now: datetime,
) -> list[IssuedTicket]:
    """Sign and insert the tickets of `items` (and the passes of holder products): one INSERT per table."""
    ctx = tariffs.context_at(session, ctx, now)  # validity by the policy in force when the tickets are issued
    kid, private_key = signing
    issued_at = now.replace(microsecond=0)  # the ticket carries whole seconds; keep the row equal to it
    issued: list[IssuedTicket] = []
    holders = sum(item.quantity for item in items if item.product in HOLDER_PRODUCTS)
    seqs = iter(next_seqs(session, "passes", holders)) if holders else iter(())
    for item in items:
        for _ in range(item.quantity):
            ticket = _ticket(ctx, item, kid, issued_at)
            ticket["qr_payload"] = encode(_body(ctx, item, ticket), private_key)
            holder_pass = _pass(item, ticket, next(seqs), now) if item.product in HOLDER_PRODUCTS else None
            issued.append(IssuedTicket(ticket, holder_pass))
    if issued:
        session.connection().execute(_INSERT_TICKETS, [entry.ticket for entry in issued])
    passes = [entry.holder_pass for entry in issued if entry.holder_pass is not None]
    if passes:  # after the tickets they reference
        session.connection().execute(_INSERT_PASSES, passes)
    return issued


def _ticket(ctx: ServiceContext, item: _Item, kid: int, issued_at: datetime) -> dict[str, Any]:
    # The same rule gates read (fare_rules.rules): a monthly pass from 04:00 local of its start date.
    product = Product(item.product)
    valid_from, valid_until = validity_window(product, issued_at, ctx.catalog.policy, item.start_date)
    return {
        "id": new_id(),
        "serial": secrets.randbits(63),  # random: no coordination between workers, no sales volume leaked
        "order_id": item.order_id,
        "order_item_id": item.id,
        "product": product.value,
        "origin": item.origin,
        "destination": item.destination,
        "fare_vnd": item.unit_price_vnd,
        "key_id": kid,
        "qr_payload": "",
        "status": TicketStatus.ISSUED.value,
        # As the database gives them back (UTC), so the answer built from these equals a later read.
        "issued_at": issued_at.astimezone(UTC),
        "valid_from": valid_from.astimezone(UTC),
        "valid_until": valid_until.astimezone(UTC),
    }


def _body(ctx: ServiceContext, item: _Item, ticket: dict[str, Any]) -> TicketBody:
    network = ctx.catalog.network
    return TicketBody(
        key_id=ticket["key_id"],
        serial=ticket["serial"],
        product=Product(ticket["product"]),
        origin=network.station(item.origin).number if item.origin else 0,
        destination=network.station(item.destination).number if item.destination else 0,
        issued_at=ticket["issued_at"],
        valid_from=ticket["valid_from"],
        valid_until=ticket["valid_until"],
        fare_vnd=ticket["fare_vnd"],
        holder_hash=bytes.fromhex(item.holder_hash) if item.holder_hash else None,
    )


def _pass(item: _Item, ticket: dict[str, Any], seq: int, now: datetime) -> dict[str, Any]:
    status = PassStatus.PENDING_VERIFICATION if item.product == Product.MONTHLY_STUDENT else PassStatus.ACTIVE
    if not (item.holder_hash and item.holder_masked and item.holder_initials and item.holder_birth_year):
        raise RuntimeError(f"order item {item.id} of a holder product has no holder")
    return {
        "id": new_id(),
        "ticket_id": ticket["id"],
        "product": ticket["product"],
        "holder_hash": item.holder_hash,
        "holder_masked": item.holder_masked,
        "holder_initials": item.holder_initials,
        "holder_birth_year": item.holder_birth_year,
        "status": status.value,
        "valid_from": ticket["valid_from"],
        "valid_until": ticket["valid_until"],
        "seq": seq,
        "updated_at": now,
    }
