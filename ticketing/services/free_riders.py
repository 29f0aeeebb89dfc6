"""The free-rider registry: staff enter the people with disabilities and with revolutionary merit after a
document check, list them, end an entry; gates sync the list by cursor (keyed hash, category, validity).

An entry is the issuance of a 0 VND `free_priority` entitlement: the product is never sold, an order for it
is refused (`product_not_sold`). Seniors need no entry: gates read their age from the card
(fare_rules.free). Every change bumps the entry's `seq`, the cursor gates sync by, so an ended entry is
refused at every gate after its next sync.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from fare_rules import cccd
from fare_rules.free import registry_window
from fare_rules.policy import Policy
from ticketing.context import ServiceContext
from ticketing.errors import Conflict, InvalidRequest, NotFound
from ticketing.models import FreeRider, FreeRiderEnd, FreeRiderPublic, FreeRiderStatus
from ticketing.schemas import FreeRiderCreate
from ticketing.services.common import next_seq
from ticketing.services.orders import check_holder
from validator.items import free_rider_to_json
from validator.records import FreeRiderRecord

__all__ = [
    "LIST_LIMIT",
    "FreeRiderOverlaps",
    "add_free_rider",
    "end_free_rider",
    "free_rider_records",
    "free_riders_page",
    "list_free_riders",
]

LIST_LIMIT = 500
# Staff enter what a document says; ten years is as far as any certificate here runs before its review.
_MAX_DAYS = 10 * 366
# Dates a document can carry; beyond them a date is a typo, and date arithmetic near year 9999 overflows.
_YEARS = range(2000, 2200)


class FreeRiderOverlaps(Conflict):
    code = "free_rider_overlaps"


def _public(entry: FreeRider) -> FreeRiderPublic:
    return FreeRiderPublic.model_validate(entry)


def add_free_rider(
    session: Session, ctx: ServiceContext, body: FreeRiderCreate, entered_by: str, now: datetime
) -> FreeRiderPublic:
    """Enter a free rider after a document check. Commits. Refused: a number that does not validate against
    the birth date (cccd_*), dates out of order or already past (invalid_dates), an active entry of the same
    holder over any of these days (409 free_rider_overlaps)."""
    holder = check_holder(ctx, body.holder)  # the same checks and refusals as a pass holder's
    number = cccd.validate_number(body.holder.cccd.strip(), body.holder.birth_date)
    digest = cccd.holder_hash(number, ctx.cccd_key).hex()
    valid_from, valid_until = _window(body, ctx.catalog.policy, now)
    _check_no_overlap(session, digest, valid_from, valid_until)
    entry = FreeRider(
        id="fr_" + secrets.token_hex(8),
        category=body.category.value,
        holder_masked=holder.cccd_masked,
        holder_initials=holder.initials,
        holder_birth_year=holder.birth_year,
        document_ref=body.document_ref,
        staff_id=body.staff_id,
        status=FreeRiderStatus.ACTIVE,
        holder_hash=digest,
        valid_from=valid_from,
        valid_until=valid_until,
        seq=next_seq(session, "free_riders"),
        entered_by=entered_by,
        created_at=now,
        updated_at=now,
    )
    session.add(entry)
    session.commit()
    session.refresh(entry)
    return _public(entry)


def _window(body: FreeRiderCreate, policy: Policy, now: datetime) -> tuple[datetime, datetime]:
    first, last = body.first_day, body.last_day
    if first.year not in _YEARS or last.year not in _YEARS:
        raise InvalidRequest("first_day and last_day must be dates of 2000 to 2199", code="invalid_dates")
    if last < first or (last - first).days > _MAX_DAYS:
        raise InvalidRequest(
            "last_day must be on or after first_day, at most ten years later", code="invalid_dates"
        )
    valid_from, valid_until = registry_window(first, last, policy)
    if valid_until <= now:
        raise InvalidRequest("last_day has already passed", code="invalid_dates")
    return valid_from, valid_until


def _check_no_overlap(session: Session, digest: str, valid_from: datetime, valid_until: datetime) -> None:
    held = session.exec(
        select(FreeRider).where(
            FreeRider.holder_hash == digest,
            FreeRider.status == FreeRiderStatus.ACTIVE,
            col(FreeRider.valid_from) < valid_until,
            col(FreeRider.valid_until) > valid_from,
        )
    ).first()
    if held is not None:
        raise FreeRiderOverlaps(
            f"this holder is already registered ({held.id}, {held.category}) over some of these days:"
            " end that entry first or start after it"
        )


def list_free_riders(
    session: Session, status: FreeRiderStatus | None, limit: int = LIST_LIMIT
) -> list[FreeRiderPublic]:
    """Entries oldest first, of one status or all: what staff compare with the card (never the number)."""
    query = select(FreeRider).order_by(col(FreeRider.created_at), col(FreeRider.seq)).limit(limit)
    if status is not None:
        query = query.where(FreeRider.status == status)
    return [_public(e) for e in session.exec(query).all()]


def end_free_rider(session: Session, entry_id: str, reason: FreeRiderEnd, now: datetime) -> FreeRiderPublic:
    """End an entry before its last day (entered in error, no longer eligible, a replaced card, fraud):
    every gate refuses it (free_rider_ended) after its next sync. Commits. Ending it twice is refused."""
    entry = session.get(FreeRider, entry_id, with_for_update=True) if len(entry_id) <= 32 else None
    if entry is None:
        raise NotFound("no such free-rider entry", code="free_rider_not_found")
    if entry.status == FreeRiderStatus.ENDED:
        raise Conflict(f"the entry is already ended ({entry.ended_reason})", code="free_rider_ended")
    entry.status = FreeRiderStatus.ENDED
    entry.ended_at = now
    entry.ended_reason = reason.value
    entry.updated_at = now
    entry.seq = next_seq(session, "free_riders")
    session.add(entry)
    session.commit()
    session.refresh(entry)
    return _public(entry)


def _record(row: FreeRider) -> FreeRiderRecord:
    return FreeRiderRecord(
        seq=row.seq,
        entry_id=row.id,
        holder_hash=bytes.fromhex(row.holder_hash),
        category=row.category,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=str(row.status),
    )


def free_riders_page(session: Session, after: int, limit: int) -> dict[str, Any]:
    """The gates' list after the cursor, oldest change first: keyed hash, category and validity only."""
    rows = session.exec(
        select(FreeRider).where(FreeRider.seq > after).order_by(col(FreeRider.seq)).limit(limit)
    ).all()
    return {"items": [free_rider_to_json(_record(r)) for r in rows], "next": rows[-1].seq if rows else after}


def free_rider_records(session: Session) -> list[FreeRiderRecord]:
    """Every entry as a gate holds it, for an offline bundle."""
    return [_record(r) for r in session.exec(select(FreeRider).order_by(col(FreeRider.seq))).all()]
