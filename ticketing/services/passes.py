"""Administering CCCD-linked passes: the staff's list, verification of student passes, revocation, and the
rule that one holder holds one pass at a time. Every change bumps the pass's `seq`, the cursor gates sync
by, so a revoked pass is refused at every gate after its next sync; its ticket goes on the revocation list
too, so the pass's QR is refused as well as the holder's card.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from fare_rules.policy import Policy
from fare_rules.products import HOLDER_PRODUCTS, Product
from fare_rules.rules import validity_window
from ticketing.errors import Conflict, NotFound
from ticketing.issuing.lifecycle import OrderStatus
from ticketing.models import (
    Order,
    OrderItem,
    Pass,
    PassPublic,
    PassRevocation,
    PassStatus,
    Ticket,
    TicketStatus,
    table_of,
)
from ticketing.services.common import next_seq
from ticketing.services.tickets import revoke_ticket

__all__ = ["PassOverlaps", "check_no_overlap", "list_passes", "refuse_pass", "revoke_pass", "verify_pass"]

LIST_LIMIT = 500
_PASSES: sa.Table = table_of(Pass)


class PassOverlaps(Conflict):
    code = "pass_overlaps"


def list_passes(session: Session, status: PassStatus | None, limit: int = LIST_LIMIT) -> list[PassPublic]:
    """Passes oldest first (the staff's queue), of one status or all: what staff compare with the card."""
    query = select(Pass).order_by(col(Pass.updated_at), col(Pass.seq)).limit(limit)
    if status is not None:
        query = query.where(Pass.status == status)
    return [PassPublic.model_validate(p) for p in session.exec(query).all()]


def _locked(session: Session, pass_id: str) -> Pass:
    holder_pass = session.get(Pass, pass_id, with_for_update=True) if len(pass_id) <= 32 else None
    if holder_pass is None:
        raise NotFound("no such pass", code="pass_not_found")
    return holder_pass


def _changed(session: Session, holder_pass: Pass, now: datetime) -> PassPublic:
    holder_pass.updated_at = now
    holder_pass.seq = next_seq(session, "passes")
    session.add(holder_pass)
    session.commit()
    session.refresh(holder_pass)
    return PassPublic.model_validate(holder_pass)


def verify_pass(session: Session, pass_id: str, now: datetime) -> PassPublic:
    """Staff saw the student card: the pass becomes active. Commits. Verifying an active pass is a no-op."""
    holder_pass = _locked(session, pass_id)
    if holder_pass.status == PassStatus.REVOKED:
        raise Conflict("the pass is revoked", code="pass_revoked")
    if holder_pass.status != PassStatus.PENDING_VERIFICATION:
        return PassPublic.model_validate(holder_pass)
    holder_pass.status = PassStatus.ACTIVE
    holder_pass.verified_at = now
    return _changed(session, holder_pass, now)


def refuse_pass(session: Session, pass_id: str, now: datetime) -> PassPublic:
    """Staff saw the student card and it does not qualify: the pending pass is revoked (`not_eligible`) and,
    since it could never ride, its ticket is refunded in full, final at once. Commits."""
    holder_pass = _locked(session, pass_id)
    if holder_pass.status != PassStatus.PENDING_VERIFICATION:
        refusal = f"only a pass waiting for verification can be refused; this one is {holder_pass.status}"
        raise Conflict(refusal, code="pass_not_pending")
    ticket = _ticket(session, holder_pass)
    full = {"refunded_at": now, "refund_fee_vnd": 0, "refund_final_at": now}
    revoke_ticket(session, ticket, TicketStatus.REFUNDED, PassRevocation.NOT_ELIGIBLE.value, now, full)
    return _revoked(session, holder_pass, PassRevocation.NOT_ELIGIBLE, now)


def revoke_pass(session: Session, pass_id: str, cause: PassRevocation, now: datetime) -> PassPublic:
    """Stop a pass for `cause` (a lost or replaced card, a refund made by the operator, fraud): refused at
    every gate after its next sync, card and QR alike. Commits. Revoking a revoked pass is refused."""
    holder_pass = _locked(session, pass_id)
    if holder_pass.status == PassStatus.REVOKED:
        raise Conflict(f"the pass is already revoked ({holder_pass.revoked_reason})", code="pass_revoked")
    ticket = _ticket(session, holder_pass)
    if ticket.status == TicketStatus.ISSUED:
        revoke_ticket(session, ticket, TicketStatus.REVOKED, cause.value, now)
    return _revoked(session, holder_pass, cause, now)


def _ticket(session: Session, holder_pass: Pass) -> Ticket:
    ticket = session.get(Ticket, holder_pass.ticket_id)
    if ticket is None:
        raise RuntimeError(f"pass {holder_pass.id} has no ticket")
    return ticket


def _revoked(session: Session, holder_pass: Pass, cause: PassRevocation, now: datetime) -> PassPublic:
    holder_pass.status = PassStatus.REVOKED
    holder_pass.revoked_at = now
    holder_pass.revoked_reason = cause.value
    return _changed(session, holder_pass, now)


def check_no_overlap(
    session: Session, policy: Policy, items: Sequence[Mapping[str, Any]], now: datetime
) -> None:
    """Refuse (409 pass_overlaps) a pass for a holder who already has one, or an order awaiting payment for
    one, over any day of the same period: one holder, one pass at a time. `items` are order_items rows."""
    wanted = [(i["holder_hash"], _window(i, now, policy)) for i in items if i["holder_hash"]]
    for n, (holder, (start, end)) in enumerate(wanted):
        if any(h == holder and _overlap(w, (start, end)) for h, w in wanted[:n]):
            raise PassOverlaps("the order holds two passes for one holder over the same days")
        held = _held_windows(session, holder, policy, now)
        if any(_overlap(w, (start, end)) for w in held):
            raise PassOverlaps(
                "this holder already has a pass (or an order for one awaiting payment) over some of these"
                " days: choose a start date after it ends"
            )


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    # A pass runs up to, not including, its end: one that starts as another ends does not overlap it.
    return a[0] < b[1] and b[0] < a[1]


def _window(item: Mapping[str, Any], now: datetime, policy: Policy) -> tuple[datetime, datetime]:
    return validity_window(Product(item["product"]), now, policy, item["start_date"])


def _held_windows(
    session: Session, holder: str, policy: Policy, now: datetime
) -> list[tuple[datetime, datetime]]:
    p = _PASSES.c
    passes = session.connection().execute(
        sa.select(p.valid_from, p.valid_until).where(
            p.holder_hash == holder, p.status != PassStatus.REVOKED.value, p.valid_until >= now
        )
    )
    held = [(start, end) for start, end in passes]
    open_items = session.exec(
        select(OrderItem)
        .join(Order, col(Order.id) == col(OrderItem.order_id))
        .where(
            OrderItem.holder_hash == holder,
            col(OrderItem.product).in_([p.value for p in HOLDER_PRODUCTS]),
            Order.status == OrderStatus.AWAITING_PAYMENT,
            col(Order.expires_at) > now,
        )
    ).all()
    held += [_window({"product": i.product, "start_date": i.start_date}, now, policy) for i in open_items]
    return held
