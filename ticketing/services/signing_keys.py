"""The operator's key changes: publishing the next issuer key ahead, and revoking a compromised one, whose
good tickets are signed again under the key in force. Both read the policy in force at the change.

A reissued ticket keeps its serial and every signed field but the key id: its history (an entry, a pass's
rides, anti-passback) stays one ticket's, and a gate that has not yet learnt the revocation still sees one
ticket, never two that could each ride. The QR signed before is refused as `key_revoked` wherever the
keyset is synced, so the serial stays off the revocation list (which would refuse the new QR as well).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from typing import Final

from sqlmodel import Session, col, select

from fare_rules.policy import Policy
from ticketing.context import ServiceContext
from ticketing.keys import published_keyset, revoke_key, rotate_keys
from ticketing.models import KeyRevocationPublic, KeysetPublic, SigningKey, Ticket, TicketState, TicketStatus
from ticketing.services import tariffs
from ticketing.services.views import exits_seen, ticket_state
from validator.codec import TicketBody, encode, peek

__all__ = ["reissue_tickets", "revoke_and_reissue", "rotate"]

# A ticket that can still ride: unused, or a pass (or a single inside the paid area) in use.
_GOOD: Final = frozenset({TicketState.UNUSED, TicketState.IN_USE})
# Only a bound for the query, so that it does not read a key's whole history (ticket_state decides): a day
# or 3-day pass first used just before its valid_until rides up to three service days past it.
_RIDES_PAST_VALIDITY: Final = timedelta(days=4)


def rotate(session: Session, ctx: ServiceContext, now: datetime) -> tuple[SigningKey, KeysetPublic]:
    """Publish the next key at once; it signs from the policy's key_lead_hours after `now` (409
    key_waiting while one already waits). Commits. The new key, and the keyset now published."""
    catalog = tariffs.catalog_at(session, ctx, now)
    lead = timedelta(hours=catalog.policy.key_lead_hours)
    key = rotate_keys(session, ctx.key_passphrase, lead, catalog.longest_validity, now)
    return key, KeysetPublic.model_validate(published_keyset(session, now))


def revoke_and_reissue(session: Session, ctx: ServiceContext, kid: int, now: datetime) -> KeyRevocationPublic:
    """Revoke key `kid` and reissue its good tickets under the key in force, in one commit. Running it again
    changes nothing and reissues nothing (the tickets already carry the new key)."""
    signing, new_key = revoke_key(session, ctx.key_passphrase, kid, now)
    policy = tariffs.catalog_at(session, ctx, now).policy
    reissued = reissue_tickets(session, ctx, kid, policy, now) if signing else 0
    session.commit()
    answer = {
        **published_keyset(session, now),
        "signing_kid": signing.kid if signing else None,
        "signing_key_new": new_key,
        "reissued": reissued,
    }
    return KeyRevocationPublic.model_validate(answer)


def reissue_tickets(
    session: Session, ctx: ServiceContext, revoked_kid: int, policy: Policy, now: datetime
) -> int:
    """Sign again, under the key in force at `now`, every ticket of `revoked_kid` that can still ride
    (issued, not refunded or revoked, not expired, not spent). Not committed. Returns how many."""
    kid, private_key = ctx.keyring.signing_key(session, now)
    query = select(Ticket).where(
        col(Ticket.key_id) == revoked_kid,
        col(Ticket.status) == TicketStatus.ISSUED,
        col(Ticket.valid_until) > now - _RIDES_PAST_VALIDITY,
    )
    tickets = session.exec(query).all()
    exited = exits_seen(session, [ticket.serial for ticket in tickets])
    reissued = 0
    for ticket in tickets:
        if ticket_state(ticket, now, exited.get(ticket.serial), policy) not in _GOOD:
            continue
        body = peek(ticket.qr_payload)  # the issuer's own payload, read from its database
        if not isinstance(body, TicketBody):
            raise RuntimeError(f"ticket {ticket.id} holds a payload that does not parse: {body.reason}")
        ticket.qr_payload = encode(dataclasses.replace(body, key_id=kid), private_key)
        ticket.key_id = kid
        ticket.reissued_at = now
        session.add(ticket)
        reissued += 1
    return reissued
