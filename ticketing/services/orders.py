"""Creating and reading orders. An order is priced and validated in full before anything is written."""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fare_rules import cccd
from fare_rules.cccd import CccdError
from fare_rules.errors import FareRulesError
from fare_rules.policy import service_date
from fare_rules.products import HOLDER_PRODUCTS, Product
from fare_rules.tariff import quote
from ticketing.catalog import MAX_START_AHEAD_DAYS
from ticketing.context import ServiceContext
from ticketing.errors import (
    HolderRequired,
    IdempotencyKeyReused,
    InvalidRequest,
    InvalidStartDate,
    NotFound,
    ProductNotSold,
    TicketingError,
)
from ticketing.models import HolderPublic, Order, OrderItem, OrderPublic, OrderStatus, table_of
from ticketing.payments import PaymentInstructions
from ticketing.schemas import HolderCreate, OrderCreate, OrderItemCreate, OrderRecover
from ticketing.services import passes, tariffs
from ticketing.services.common import hash_token, new_id, order_access_token, tokens_match
from ticketing.services.idempotency import check_key, record_key, request_hash
from ticketing.services.views import new_order_public, order_public

__all__ = [
    "NOT_FOR_SALE",
    "authorised_order",
    "check_holder",
    "create_order",
    "order_view",
    "payment_instructions",
    "read_order",
    "recover_order",
]

# A free_priority entitlement is issued as a free-rider registry entry (services.free_riders), not sold.
NOT_FOR_SALE = frozenset({Product.FREE_PRIORITY})
_REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: people retype references
# 22 of 32 symbols, 110 bits: the reference (with amount and date) recovers a lost order, so it must be no
# easier to guess than an access token's worth of a rate-limited search; MQR + 22 fills EMV's 25 characters.
_REFERENCE_CHARS = 22
_INSERT_ORDER: Final = sa.insert(table_of(Order))
_INSERT_ITEMS: Final = sa.insert(table_of(OrderItem))


@dataclass(frozen=True, slots=True)
class _Holder:
    hash_hex: str
    masked: str
    initials: str
    birth_year: int


def create_order(
    session: Session, ctx: ServiceContext, request: OrderCreate, idempotency_key: str | None, now: datetime
) -> OrderPublic:
    """Price, validate and store an order awaiting payment. Commits. A repeated key replays the first.

    The key is not looked up first: the order is inserted, and the unique key refuses a second one, which is
    then answered with the first (a replay is rare; one fewer statement for every order is not)."""
    ctx = tariffs.context_at(session, ctx, now)  # the tariff and policy in force at the sale
    fingerprint = request_hash(json.dumps(request.model_dump(mode="json"), sort_keys=True))
    check_key(idempotency_key)
    key = record_key(ctx.token_secret, "order", idempotency_key)  # the raw key is never stored
    order_id = new_id()
    try:
        items = [
            _priced_item(ctx, order_id, position, item, now) for position, item in enumerate(request.items)
        ]
        passes.check_no_overlap(session, ctx.catalog.policy, items, now)
    except (TicketingError, FareRulesError, CccdError):
        # A replay answers with the first order even if the same request would not be accepted now (a start
        # date that has passed), and a key reused for another request is refused as such: the key first.
        replay = _replay(session, ctx, key, fingerprint, now) if key else None
        if replay is None:
            raise
        return replay
    amount = sum(item["unit_price_vnd"] * item["quantity"] for item in items)
    order = _order_row(ctx, order_id, amount, now, key, fingerprint)
    try:
        # The order before its items: PostgreSQL checks foreign keys per statement.
        session.connection().execute(_INSERT_ORDER, order)
        session.connection().execute(_INSERT_ITEMS, items)
        session.commit()
    except IntegrityError:
        # The key was used before, or two requests with one Idempotency-Key raced: the unique key let one
        # order in. Answer with it.
        session.rollback()
        replay = _replay(session, ctx, key, fingerprint, now) if key else None
        if replay is None:
            raise
        return replay
    instructions = ctx.provider.instructions(order["payment_reference"], amount)
    return new_order_public(order, items, instructions, order_access_token(ctx.token_secret, order_id), now)


def _order_row(  # noqa: PLR0917 - the order's own values
    ctx: ServiceContext, order_id: str, amount: int, now: datetime, key: str | None, fingerprint: str
) -> dict[str, Any]:
    """The orders row of a new order awaiting payment: its expiry, token hash and payment reference."""
    return {
        "id": order_id,
        "status": OrderStatus.AWAITING_PAYMENT.value,
        "amount_vnd": amount,
        "created_at": now,
        "expires_at": now + timedelta(minutes=ctx.catalog.policy.order_expiry_minutes),
        "access_token_hash": hash_token(order_access_token(ctx.token_secret, order_id)),
        "payment_provider": ctx.provider.name,
        "payment_reference": "MQR"
        + "".join(secrets.choice(_REFERENCE_ALPHABET) for _ in range(_REFERENCE_CHARS)),
        "idempotency_key": key,
        "request_hash": fingerprint,
    }


def authorised_order(session: Session, order_id: str, access_token: str | None) -> Order:
    """The order, if the token is its own; otherwise NotFound, the same answer as for an order that does not
    exist, so ids cannot be probed."""
    order = session.get(Order, order_id) if len(order_id) <= 32 else None
    if order is None or not tokens_match(access_token, order.access_token_hash):
        raise NotFound("no such order", code="order_not_found")
    return order


def read_order(
    session: Session, ctx: ServiceContext, order_id: str, access_token: str | None, now: datetime
) -> OrderPublic:
    return order_view(session, ctx, authorised_order(session, order_id, access_token), now)


def order_view(
    session: Session,
    ctx: ServiceContext,
    order: Order,
    now: datetime,
    *,
    with_token: bool = False,
    items: Sequence[OrderItem] | None = None,
) -> OrderPublic:
    instructions = ctx.provider.instructions(order.payment_reference, order.amount_vnd)
    token = order_access_token(ctx.token_secret, order.id, order.access_token_version) if with_token else None
    return order_public(session, order, instructions, now, ctx.catalog.policy, token, items=items)


def _replay(
    session: Session, ctx: ServiceContext, key: str, fingerprint: str, now: datetime
) -> OrderPublic | None:
    """The order stored under `key` (a record_key), answered with its token; refused for another request."""
    order = session.exec(select(Order).where(Order.idempotency_key == key)).first()
    if order is None:
        return None
    if order.request_hash != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different order")
    return order_view(session, ctx, order, now, with_token=True)


def _priced_item(
    ctx: ServiceContext, order_id: str, position: int, item: OrderItemCreate, now: datetime
) -> dict[str, Any]:
    """The order_items row of `item`, priced; refused (raises) if it cannot be sold as asked."""
    if item.product in NOT_FOR_SALE:
        raise ProductNotSold(
            f"{item.product.value} is not sold: staff enter free riders in the registry after a document"
            " check (POST /v1/admin/free-riders), and riders aged 60 or more ride with their card"
        )
    holder: _Holder | None = None
    if item.product in HOLDER_PRODUCTS:
        holder = _checked_holder(ctx, item)
        _check_start_date(ctx, item.start_date, now)
    elif item.holder is not None or item.start_date is not None:
        raise InvalidRequest(
            f"{item.product.value} is not linked to a holder: leave out holder and start_date"
        )
    if item.product != Product.SINGLE and (item.origin or item.destination):
        raise InvalidRequest(
            f"{item.product.value} is valid on the whole line: leave out origin and destination"
        )
    priced = quote(ctx.catalog.tariff, item.product, item.origin, item.destination)
    return {
        "order_id": order_id,
        "position": position,
        "product": item.product.value,
        "origin": item.origin,
        "destination": item.destination,
        "quantity": item.quantity,
        "unit_price_vnd": priced.amount_vnd,
        "start_date": item.start_date,
        "holder_hash": holder.hash_hex if holder else None,
        "holder_masked": holder.masked if holder else None,
        "holder_initials": holder.initials if holder else None,
        "holder_birth_year": holder.birth_year if holder else None,
    }


def _checked_holder(ctx: ServiceContext, item: OrderItemCreate) -> _Holder:
    if item.holder is None:
        raise HolderRequired(
            f"{item.product.value} needs the holder's CCCD number, full name and date of birth"
        )
    if item.quantity != 1:
        raise InvalidRequest(
            "a CCCD-linked pass is sold one per holder: quantity must be 1", code="quantity_out_of_range"
        )
    return _holder(ctx, item.holder)


def _holder(ctx: ServiceContext, holder: HolderCreate) -> _Holder:
    number = cccd.validate_number(holder.cccd.strip(), holder.birth_date)
    initials = "".join(word[0] for word in holder.full_name.split() if word).upper()
    return _Holder(
        hash_hex=cccd.holder_hash(number, ctx.cccd_key).hex(),
        masked=cccd.mask(number),
        initials=initials[:16],
        birth_year=holder.birth_date.year,
    )


def check_holder(ctx: ServiceContext, holder: HolderCreate) -> HolderPublic:
    """A pass holder's details checked as an order checks them (the same refusals and messages), without
    ordering: what a rider's app calls before it asks for the money. Answers what staff will see."""
    checked = _holder(ctx, holder)
    return HolderPublic(cccd_masked=checked.masked, initials=checked.initials, birth_year=checked.birth_year)


def _check_start_date(ctx: ServiceContext, start: date | None, now: datetime) -> None:
    if start is None:
        raise InvalidStartDate("a monthly pass needs a start_date")
    # The service day's date, not the calendar's: from 00:00 to 04:00 it is still the previous day's service.
    today = service_date(now, ctx.catalog.policy)
    if not today <= start <= today + timedelta(days=MAX_START_AHEAD_DAYS):
        raise InvalidStartDate(f"start_date must be between {today} and {MAX_START_AHEAD_DAYS} days after it")


def payment_instructions(
    session: Session, ctx: ServiceContext, order_id: str, access_token: str | None
) -> PaymentInstructions:
    """How to pay this order (the rider's own): what its VietQR image is drawn from."""
    order = authorised_order(session, order_id, access_token)
    return ctx.provider.instructions(order.payment_reference, order.amount_vnd)


def recover_order(session: Session, ctx: ServiceContext, found: OrderRecover, now: datetime) -> OrderPublic:
    """The paid order the bank transfer `found` describes (its reference, amount and date in Ho Chi Minh
    City), with a new access token: the old one, and every link carrying it, stops working. Any mismatch is
    the same 404, so an answer never says which part was wrong. Commits."""
    order = session.exec(
        select(Order).where(Order.payment_reference == found.reference.strip().upper())
    ).first()
    paid_on = (
        order.paid_at.astimezone(ctx.catalog.policy.local_tz).date() if order and order.paid_at else None
    )
    # The bank dates the transfer, the service its confirmation: around midnight they differ by a day.
    near = paid_on is not None and abs((paid_on - found.paid_on).days) <= 1
    if order is None or order.amount_vnd != found.amount_vnd or not near:
        raise NotFound("no paid order matches this reference, amount and date", code="no_matching_order")
    version = order.access_token_version + 1
    token = order_access_token(ctx.token_secret, order.id, version)
    changed = session.exec(
        sa.update(Order)
        .where(col(Order.id) == order.id, col(Order.access_token_version) == order.access_token_version)
        .values(access_token_version=version, access_token_hash=hash_token(token))
    )
    if changed.rowcount != 1:  # recovered twice at once: the other one won
        session.rollback()
        raise NotFound("no paid order matches this reference, amount and date", code="no_matching_order")
    session.commit()
    session.refresh(order)
    return order_view(session, ctx, order, now, with_token=True)
