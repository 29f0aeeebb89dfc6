"""Small helpers the services share: ids, token hashing, sync sequence numbers."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.models import ChangeCounter, table_of
from validator.wire import b64url_encode

__all__ = ["hash_token", "new_id", "next_seq", "next_seqs", "order_access_token", "tokens_match"]


def new_id() -> str:
    return uuid.uuid4().hex


def hash_token(token: str) -> str:
    """Tokens are long random strings, so one fast hash suffices (no password-style KDF needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def tokens_match(presented: str | None, stored_hash: str) -> bool:
    if not presented:
        return False
    return hmac.compare_digest(hash_token(presented), stored_hash)


def order_access_token(secret: bytes, order_id: str, version: int = 0) -> str:
    """The rider's token for one order, derived (not stored): an idempotent replay can hand it out again
    while the database holds only its hash. A recovered order is at a later `version`, so its old token no
    longer matches."""
    message = b"metro-qr/order-access/v1\x00" + order_id.encode()
    if version:
        message += b"\x00" + str(version).encode()
    mac = hmac.new(secret, message, hashlib.sha256).digest()
    return "mqo_" + b64url_encode(mac)


def next_seq(session: Session, name: str) -> int:
    """The next number of a sync list. The UPDATE locks the counter row until commit: see models.py."""
    return next_seqs(session, name, 1)[0]


def next_seqs(session: Session, name: str, count: int) -> range:
    """`count` consecutive numbers of a sync list, reserved in one UPDATE (locked until commit)."""
    table = table_of(ChangeCounter)
    session.exec(sa.update(table).where(table.c.name == name).values(value=table.c.value + count))
    counter = session.get(ChangeCounter, name, populate_existing=True)
    if counter is None:
        raise RuntimeError(f"change counter {name!r} is missing: run the migrations")
    return range(counter.value - count + 1, counter.value + 1)
