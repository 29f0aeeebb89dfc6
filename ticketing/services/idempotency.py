"""`Idempotency-Key` for payments: the first answer is stored and replayed; the same key with another request
is refused. Order creation keeps its key on the order row instead (see services.orders).

A rider's key is a secret, like an order's access token: replaying an order hands out that token, so whoever
knows the key holds the order. The rider's app makes it (a UUID, or 22-128 URL-safe characters: check_key),
and only a keyed hash of it is stored (record_key): a copy of the database gives no key to replay.

The stored answer is committed in the same transaction as the work that produced it, so a confirmation and
its record become visible together (one commit per request, not two).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ticketing.errors import IdempotencyKeyReused, InvalidRequest
from ticketing.models import IdempotencyRecord, table_of

__all__ = [
    "MAX_KEY_LENGTH",
    "NOT_LOADED",
    "StoredAnswer",
    "check_key",
    "check_printable_key",
    "record_key",
    "request_hash",
    "run_once",
    "stored_answer",
]

MAX_KEY_LENGTH = 128
# A canonical UUID is 36 of these characters; anything shorter than 22 (128 bits in base64url) is guessable.
_RIDER_KEY: Final = re.compile(r"[A-Za-z0-9_-]{22,128}")
_RECORDS: Final[sa.Table] = table_of(IdempotencyRecord)
_INSERT: Final = sa.insert(_RECORDS)
_SELECT: Final = sa.select(_RECORDS.c.request_hash, _RECORDS.c.response_body).where(
    _RECORDS.c.key == sa.bindparam("key")
)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    request_hash: str
    response_body: str  # JSON text, exactly what the first request answered


class _NotLoaded:
    """`run_once(found=NOT_LOADED)`: the caller has not looked the record up; run_once does."""


NOT_LOADED: Final = _NotLoaded()


def request_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def check_key(key: str | None) -> None:
    """A rider's key must be hard to guess (see the module's docstring); None (no key) passes."""
    if key is not None and _RIDER_KEY.fullmatch(key) is None:
        raise InvalidRequest(
            f"Idempotency-Key must be a UUID or 22-{MAX_KEY_LENGTH} characters of A-Z a-z 0-9 _ -",
            code="invalid_idempotency_key",
        )


def check_printable_key(key: str) -> None:
    """The bank's key (the webhook is HMAC-signed and its answer holds no secret): any sane text."""
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters", code="invalid_idempotency_key"
        )


def record_key(secret: bytes, scope: str, key: str | None) -> str | None:
    """What is stored for `key` in `scope`: the scope and an HMAC of both, never the key (check it first)."""
    if key is None:
        return None
    message = b"metro-qr/idempotency-key/v1\x00" + scope.encode() + b"\x00" + key.encode()
    return f"{scope}:{hmac.new(secret, message, hashlib.sha256).hexdigest()}"


def stored_answer(session: Session, key: str) -> StoredAnswer | None:
    """The answer stored under `key`, a record_key."""
    row = session.connection().execute(_SELECT, {"key": key}).first()
    return None if row is None else StoredAnswer(row.request_hash, row.response_body)


def run_once(
    session: Session,
    key: str | None,
    fingerprint: str,
    action: Callable[[], str],
    *,
    now: datetime,
    found: StoredAnswer | _NotLoaded | None = NOT_LOADED,
) -> str:
    """Run `action` unless `key` (a record_key) was seen, then replay the stored answer. `action` returns its
    answer as JSON text and leaves its work uncommitted: run_once commits it together with the stored answer.
    `found`: the record, when the caller read it already (in the same transaction, with the rows it needs)."""
    if key is None:
        answer = action()
        session.commit()
        return answer
    if isinstance(found, _NotLoaded):
        found = stored_answer(session, key)
    if found is not None:
        return _replay(found, fingerprint)
    answer = action()
    values = {
        "key": key,
        "request_hash": fingerprint,
        "status_code": 200,
        "response_body": answer,
        "created_at": now,
    }
    try:
        session.connection().execute(_INSERT, values)
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key stored its answer first. Our work is rolled back with our
        # record: it was a no-op replay of the winner's (confirming a payment is itself idempotent), or the
        # same key on another request, which is refused below. Answer with the stored record.
        session.rollback()
        stored = stored_answer(session, key)
        if stored is None:
            raise
        return _replay(stored, fingerprint)
    return answer


def _replay(record: StoredAnswer, fingerprint: str) -> str:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
    return record.response_body
