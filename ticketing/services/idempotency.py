"""`Idempotency-Key` for payments: the first answer is stored and replayed; the same key with another request
is refused. Order creation keeps its key on the order row instead (see services.orders).

The stored answer is committed in the same transaction as the work that produced it, so a confirmation and
its record become visible together (one commit per request, not two).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ticketing.errors import IdempotencyKeyReused, InvalidRequest
from ticketing.models import IdempotencyRecord

__all__ = [
    "MAX_KEY_LENGTH",
    "NOT_LOADED",
    "StoredAnswer",
    "check_key",
    "record_key",
    "request_hash",
    "run_once",
    "stored_answer",
]

MAX_KEY_LENGTH = 128
_RECORDS: Final[sa.Table] = IdempotencyRecord.__table__  # type: ignore[attr-defined]
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


def check_key(key: str) -> None:
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters")


def record_key(scope: str, key: str | None) -> str | None:
    return None if key is None else f"{scope}:{key}"


def stored_answer(session: Session, scope: str, key: str) -> StoredAnswer | None:
    row = session.connection().execute(_SELECT, {"key": record_key(scope, key)}).first()
    return None if row is None else StoredAnswer(row.request_hash, row.response_body)


def run_once(
    session: Session,
    scope: str,
    key: str | None,
    fingerprint: str,
    action: Callable[[], str],
    *,
    now: datetime,
    found: StoredAnswer | _NotLoaded | None = NOT_LOADED,
) -> str:
    """Run `action` unless `key` was seen, then replay the stored answer. `action` returns its answer as JSON
    text and leaves its work uncommitted: run_once commits it together with the stored answer. `found`: the
    record, when the caller read it already (in the same transaction, with the rows the action needs)."""
    if key is None:
        answer = action()
        session.commit()
        return answer
    check_key(key)
    if isinstance(found, _NotLoaded):
        found = stored_answer(session, scope, key)
    if found is not None:
        return _replay(found, fingerprint)
    answer = action()
    values = {
        "key": record_key(scope, key),
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
        stored = stored_answer(session, scope, key)
        if stored is None:
            raise
        return _replay(stored, fingerprint)
    return answer


def _replay(record: StoredAnswer, fingerprint: str) -> str:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
    return record.response_body
