"""`Idempotency-Key` for payments: the first answer is stored and replayed; the same key with another request
is refused. Order creation keeps its key on the order row instead (see services.orders)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from ticketing.errors import IdempotencyKeyReused, InvalidRequest
from ticketing.models import IdempotencyRecord

__all__ = ["MAX_KEY_LENGTH", "check_key", "request_hash", "run_once"]

MAX_KEY_LENGTH = 128


def request_hash(*parts: str | bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big") + data)
    return digest.hexdigest()


def check_key(key: str) -> None:
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidRequest(f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters")


def run_once(
    session: Session,
    scope: str,
    key: str | None,
    fingerprint: str,
    action: Callable[[], dict[str, Any]],
    *,
    now: datetime,
) -> dict[str, Any]:
    """Run `action` (which commits its own work) unless `key` was seen; then replay the stored answer."""
    if key is None:
        return action()
    check_key(key)
    record_key = f"{scope}:{key}"
    found = session.get(IdempotencyRecord, record_key)
    if found is not None:
        return _replay(found, fingerprint)
    result = action()
    session.add(
        IdempotencyRecord(
            key=record_key,
            request_hash=fingerprint,
            status_code=200,
            response_body=json.dumps(result),
            created_at=now,
        )
    )
    try:
        session.commit()
    except IntegrityError:
        # A concurrent request with the same key won the insert; its action was a no-op replay of ours
        # (confirming payment is itself idempotent), so answer with the stored record.
        session.rollback()
        found = session.get(IdempotencyRecord, record_key)
        if found is None:
            raise
        return _replay(found, fingerprint)
    return result


def _replay(record: IdempotencyRecord, fingerprint: str) -> dict[str, Any]:
    if record.request_hash != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request")
    loaded: dict[str, Any] = json.loads(record.response_body)
    return loaded
