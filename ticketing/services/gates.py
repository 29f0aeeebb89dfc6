"""Gates: enrolment by one-time code, device keys and tokens, revocation, the lists they sync, bundles.

A gate id is unique on the whole network and never reused: journal events, the uses gates exchange and
the (gate, seq) idempotency of uploads all name a gate by its id alone.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fare_rules.errors import FareRulesError
from fare_rules.products import Product
from ticketing.context import ServiceContext
from ticketing.errors import BadEnrolmentCode, GateExists, InvalidRequest, NotFound, Unauthorized
from ticketing.keys import published_keyset
from ticketing.models import Gate, GateCreated, GatePublic, GateStatus, Pass, Revocation, ScanEvent
from ticketing.services import tariffs
from ticketing.services.common import hash_token
from ticketing.services.free_riders import free_rider_records
from validator.bundle import build_bundle, key_fingerprint
from validator.codec import KeyEntry, public_key_from_bytes
from validator.items import pass_to_json, revocation_to_json
from validator.records import PassRecord, RevocationRecord
from validator.wire import b64url_decode, b64url_encode, iso

__all__ = [
    "DEFAULT_PAGE",
    "ENROLMENT_CODE_TTL",
    "EVENTS_LOOKBACK",
    "MAX_PAGE",
    "authenticate_gate",
    "create_gate",
    "enroll_gate",
    "events_page",
    "export_bundle",
    "list_gates",
    "passes_page",
    "revocations_page",
    "revoke_gate",
]

ENROLMENT_CODE_TTL = timedelta(hours=24)
# A gate syncing its first page of events starts here, not at the network's first day: exits, trip time
# and anti-passback need hours of history; a single ticket used longer ago is the gap reported to the gate
# side (a "used" revocation would close it).
EVENTS_LOOKBACK = timedelta(days=1)
DEFAULT_PAGE = 2000
MAX_PAGE = 10_000
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: staff type the code at the gate
_CODE_GROUPS = 4


def _normalised_code(code: str) -> str:
    return "".join(c for c in code.upper() if c.isalnum())


def _new_code() -> str:
    """16 characters of a 32-letter alphabet, 80 bits: typed once, expires, works once."""
    raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(4 * _CODE_GROUPS))
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _public(gate: Gate) -> GatePublic:
    return GatePublic.model_validate(gate)


def create_gate(
    session: Session, ctx: ServiceContext, station: str, gate_id: str, now: datetime
) -> GateCreated:
    """Create a gate (or a fresh code for one that never enrolled). Commits. The code is shown only here."""
    _check_station(ctx, station)
    code = _new_code()
    gate = session.get(Gate, gate_id, with_for_update=True)
    if gate is not None and (gate.status != GateStatus.PENDING or gate.station != station):
        raise GateExists(
            f"a gate with this id exists ({gate.status} at {gate.station}); ids are never reused"
        )
    gate = gate or Gate(gate_id=gate_id, station=station, status=GateStatus.PENDING, created_at=now)
    gate.code_hash = hash_token(_normalised_code(code))
    gate.code_expires_at = now + ENROLMENT_CODE_TTL
    session.add(gate)
    try:
        session.commit()
    except IntegrityError:  # a concurrent create of the same id won
        session.rollback()
        raise GateExists("a gate with this id exists") from None
    return GateCreated.model_validate(gate, update={"code": code})


def _check_station(ctx: ServiceContext, station: str) -> None:
    # Errors name the field, not the value sent (which may be anything, a CCCD number included).
    try:
        ctx.catalog.network.station(station)
    except FareRulesError:
        raise InvalidRequest("station: not a station of this network", code="unknown_station") from None


def _device_key(text: str) -> str:
    """The key as stored: base64url without padding, however the gate padded it."""
    try:
        raw = b64url_decode(text)
        public_key_from_bytes(raw)
    except ValueError:
        raise InvalidRequest("device_public_key must be a base64url raw Ed25519 public key") from None
    return b64url_encode(raw)


def enroll_gate(
    session: Session, ctx: ServiceContext, code: str, device_public_key: str, now: datetime
) -> dict[str, Any]:
    """Register the gate's device key against a one-time code; returns what validator.sync.enroll reads.
    Commits. A code works once: the compare-and-set below lets exactly one of two racing requests in."""
    key = _device_key(device_public_key)
    code_hash = hash_token(_normalised_code(code))
    gate = session.exec(select(Gate).where(Gate.code_hash == code_hash)).first()
    if gate is None or gate.status != GateStatus.PENDING:
        raise BadEnrolmentCode("unknown or used enrolment code")
    if gate.code_expires_at is None or now >= gate.code_expires_at:
        raise BadEnrolmentCode("the enrolment code has expired: ask for a new one", code="code_expired")
    token = "mqg_" + secrets.token_urlsafe(32)
    try:
        # The unique device key fails the UPDATE itself (not the commit) when another gate holds it.
        claimed = session.exec(
            sa.update(Gate)
            .where(col(Gate.gate_id) == gate.gate_id, col(Gate.code_hash) == code_hash)
            .values(
                status=GateStatus.ACTIVE,
                code_hash=None,
                device_public_key=key,
                token_hash=hash_token(token),
                enrolled_at=now,
            )
        )
        if claimed.rowcount != 1:
            session.rollback()
            raise BadEnrolmentCode("unknown or used enrolment code")
        session.commit()
    except IntegrityError:  # the device key already belongs to another gate
        session.rollback()
        raise InvalidRequest("this device key is already enrolled", code="device_key_in_use") from None
    return {
        "gate_id": gate.gate_id,
        "station": gate.station,
        "network_id": ctx.catalog.network.id,
        "token": token,
        "cccd_hash_key": ctx.cccd_key.hex(),
    }


def revoke_gate(session: Session, gate_id: str, now: datetime) -> GatePublic:
    """Revoke a gate: its token stops working with the next request. Commits. Revoking twice is a no-op."""
    gate = session.get(Gate, gate_id, with_for_update=True) if len(gate_id) <= 32 else None
    if gate is None:
        raise NotFound("no gate with this id", code="gate_not_found")
    if gate.status != GateStatus.REVOKED:
        gate.status = GateStatus.REVOKED
        gate.revoked_at = now
        gate.code_hash = None
        session.add(gate)
        session.commit()
    return _public(gate)


def list_gates(session: Session) -> list[GatePublic]:
    rows = session.exec(select(Gate).order_by(col(Gate.station), col(Gate.gate_id))).all()
    return [_public(gate) for gate in rows]


def authenticate_gate(session: Session, token: str | None) -> Gate:
    """The gate this Bearer token belongs to, if it is active. Read on every request, so a revocation
    takes effect at once (no cache)."""
    if not token:
        raise Unauthorized("a gate token is required")
    gate = session.exec(select(Gate).where(Gate.token_hash == hash_token(token))).first()
    if gate is None or gate.status != GateStatus.ACTIVE:
        raise Unauthorized("unknown or revoked gate token")
    return gate


# --- the lists gates sync, by cursor, oldest first ---------------------------------------------------------


def _revocation_record(row: Revocation) -> RevocationRecord:
    return RevocationRecord(row.seq, row.ticket_serial, row.reason)


def _pass_record(row: Pass) -> PassRecord:
    return PassRecord(
        seq=row.seq,
        pass_id=row.id,
        holder_hash=bytes.fromhex(row.holder_hash),
        product=Product(row.product),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        status=str(row.status),
        initials=row.holder_initials,
        birth_year=row.holder_birth_year,
    )


def revocations_page(session: Session, after: int, limit: int) -> dict[str, Any]:
    rows = session.exec(
        select(Revocation).where(Revocation.seq > after).order_by(col(Revocation.seq)).limit(limit)
    ).all()
    items = [revocation_to_json(_revocation_record(r)) for r in rows]
    return {"items": items, "next": rows[-1].seq if rows else after}


def passes_page(session: Session, after: int, limit: int) -> dict[str, Any]:
    rows = session.exec(select(Pass).where(Pass.seq > after).order_by(col(Pass.seq)).limit(limit)).all()
    return {"items": [pass_to_json(_pass_record(p)) for p in rows], "next": rows[-1].seq if rows else after}


def _events_floor(session: Session, now: datetime) -> int:
    """The cursor just before the first use within EVENTS_LOOKBACK (or after the last one)."""
    feed = col(ScanEvent.feed_seq)
    recent = session.exec(select(sa.func.min(feed)).where(col(ScanEvent.at) >= now - EVENTS_LOOKBACK)).one()
    if recent is not None:
        return int(recent) - 1
    last = session.exec(select(sa.func.max(feed))).one()
    return int(last) if last is not None else 0


def events_page(session: Session, gate: Gate, after: int, limit: int, now: datetime) -> dict[str, Any]:
    """Other gates' accepted uses after the cursor. `next` moves past the caller's own uses too, which it
    already knows, so they are scanned once and never sent."""
    if after == 0:
        after = _events_floor(session, now)
    rows = session.exec(
        select(ScanEvent)
        .where(col(ScanEvent.feed_seq) > after)
        .order_by(col(ScanEvent.feed_seq))
        .limit(limit)
    ).all()
    items = [
        {
            "seq": r.feed_seq,
            "gate": r.gate_id,
            "gate_seq": r.seq,
            "credential": r.credential,
            "station": r.station,
            "direction": r.direction,
            "at": iso(r.at) if r.at else None,
        }
        for r in rows
        if r.gate_id != gate.gate_id
    ]
    return {"items": items, "next": rows[-1].feed_seq if rows else after}


# --- offline provisioning ----------------------------------------------------------------------------------


def export_bundle(
    session: Session, ctx: ServiceContext, station: str, gate_id: str | None, now: datetime
) -> tuple[str, str]:
    """(bundle text, signer fingerprint): keyset, every revocation, pass and free rider, the CCCD hash key,
    signed by the active issuer key. The fingerprint is what the operator reads out to pin the issuer at the
    gate."""
    _check_station(ctx, station)
    kid, key = ctx.keyring.signing_key(session, now)
    revocations = session.exec(select(Revocation).order_by(col(Revocation.seq))).all()
    passes = session.exec(select(Pass).order_by(col(Pass.seq))).all()
    keyset = published_keyset(session, now)
    text = build_bundle(
        network_id=ctx.catalog.network.id,
        station=station,
        gate=gate_id,
        keyset_json=keyset,
        revocations=[_revocation_record(r) for r in revocations],
        passes=[_pass_record(p) for p in passes],
        free_riders=free_rider_records(session),
        cccd_hash_key=ctx.cccd_key,
        server_time=now,
        signer_kid=kid,
        signer_key=key,
        events_cursor=0,  # the events feed starts a fresh cursor at EVENTS_LOOKBACK, not at the beginning
        versions=tariffs.bundle_versions(session, ctx),
    )
    return text, key_fingerprint(KeyEntry(kid, key.public_key()))
