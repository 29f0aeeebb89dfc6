"""Reading and refunding tickets. A rider reaches a ticket only through its order's access token."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Session, col, select

from fare_rules.policy import Policy
from fare_rules.products import Product
from ticketing.errors import NotFound, RefundsNotAllowed, TicketNotRefundable
from ticketing.models import Order, Pass, Revocation, Ticket, TicketPublic, TicketStatus, table_of
from ticketing.services.common import next_seq, tokens_match
from ticketing.services.views import exits_seen, ticket_public, ticket_state

__all__ = ["authorised_ticket", "read_ticket", "refund_ticket", "revoke_ticket", "withdraw_held_refunds"]

_TICKETS = table_of(Ticket)


def authorised_ticket(session: Session, ticket_id: str, access_token: str | None) -> Ticket:
    """The ticket, if the token opens its order. Any other case is the same 404, so ids cannot be probed."""
    row = None
    if len(ticket_id) <= 32:
        row = session.exec(
            select(Ticket, Order)
            .join(Order, col(Order.id) == col(Ticket.order_id))
            .where(Ticket.id == ticket_id)
        ).first()
    if row is None or not tokens_match(access_token, row[1].access_token_hash):
        raise NotFound("no such ticket", code="ticket_not_found")
    return row[0]


def read_ticket(
    session: Session, ticket_id: str, access_token: str | None, now: datetime, policy: Policy
) -> TicketPublic:
    ticket = authorised_ticket(session, ticket_id, access_token)
    holder_pass = session.exec(select(Pass).where(Pass.ticket_id == ticket.id)).first()
    state = ticket_state(ticket, now, exits_seen(session, [ticket.serial]).get(ticket.serial), policy)
    return ticket_public(ticket, holder_pass, state)


def refund_ticket(
    session: Session, ticket_id: str, access_token: str | None, policy: Policy, now: datetime
) -> TicketPublic:
    """Refund an unused single ticket if policy allows; it goes on the revocation list in the same commit."""
    ticket = authorised_ticket(session, ticket_id, access_token)
    if not policy.refunds_allowed:
        raise RefundsNotAllowed("tickets are non-refundable under the operator's policy")
    if ticket.product != Product.SINGLE:
        raise TicketNotRefundable("only single tickets are refundable")
    if ticket.status != TicketStatus.ISSUED or ticket.first_used_at is not None or now >= ticket.valid_until:
        raise TicketNotRefundable(f"the ticket is {ticket.status}, used or expired")
    refund = {
        "refunded_at": now,
        "refund_fee_vnd": min(policy.refund_fee_vnd, ticket.fare_vnd),
        "refund_final_at": now + timedelta(minutes=policy.refund_hold_minutes),
    }
    revoke_ticket(session, ticket, TicketStatus.REFUNDED, "refunded", now, refund)
    session.commit()
    return read_ticket(session, ticket_id, access_token, now, policy)


def revoke_ticket(  # noqa: PLR0917 - each is needed
    session: Session,
    ticket: Ticket,
    status: TicketStatus,
    reason: str,
    now: datetime,
    changes: Mapping[str, object] | None = None,
) -> None:
    """Change a ticket's status (and `changes` columns) and append it to the revocation list (not
    committed). Compare-and-set on the status, so two concurrent refunds add one revocation."""
    changed = session.exec(
        sa.update(Ticket)
        .where(col(Ticket.id) == ticket.id, col(Ticket.status) == TicketStatus.ISSUED)
        .values(status=status, **(changes or {}))
    )
    if changed.rowcount != 1:
        session.rollback()
        raise TicketNotRefundable("the ticket was refunded or revoked meanwhile")
    session.add(
        Revocation(
            seq=next_seq(session, "revocations"),
            ticket_serial=ticket.serial,
            ticket_id=ticket.id,
            reason=reason,
            at=now,
        )
    )
    session.refresh(ticket)


def withdraw_held_refunds(connection: Connection, serials: Collection[int], now: datetime) -> None:
    """Withdraw the refunds still within their hold of the tickets among `serials`, which an upload shows
    used (journal ingest, as it sets their first uses; PostgreSQL's pairing statement does the same in
    SQL): the ticket stays revoked, nothing goes back to the rider. A refund already final stays as it is
    (the used_after_refund anomaly shows it). The caller commits."""
    if not serials:
        return
    t = _TICKETS.c
    # The status written out, not bound: so the planner can read ix_tickets_refunded_serial (the refunded
    # tickets alone) whatever plan it caches.
    connection.execute(
        sa.update(_TICKETS)
        .where(
            t.serial.in_(sorted(serials)),
            t.status == sa.literal_column(f"'{TicketStatus.REFUNDED.value}'"),
            t.refund_final_at > now,
        )
        .values(status=TicketStatus.REVOKED.value, refund_withdrawn_at=now)
    )
