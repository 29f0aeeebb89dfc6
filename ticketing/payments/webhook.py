"""The bank's payment confirmation: its signature header and its body. Pure: no clock, no I/O.

The sender signs `f"{timestamp}." + body` with HMAC-SHA256 under a shared secret and sends the header
`t=<unix seconds>,v1=<hex digest>`. Binding the timestamp into the MAC lets the receiver refuse old
deliveries; a replay inside the window is caught by the service, which confirms each order and bank
transaction once. docs/issuing.md states the scheme for the bank, with a worked example.

Errors: a body that is not a valid notification raises `InvalidNotification`, a `ValueError`. A bad
signature or a stale timestamp is not an error but a `Verification` from `verify_notification`. An empty
secret is a configuration bug: `ValueError`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import asdict, dataclass
from enum import StrEnum

__all__ = [
    "DEFAULT_MAX_AGE_SECONDS",
    "InvalidNotification",
    "PaymentNotification",
    "Verification",
    "parse_notification",
    "sign_notification",
    "verify_notification",
]

DEFAULT_MAX_AGE_SECONDS = 300
_SCHEME = "v1"
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_MAX_TEXT = 128
_MAX_TRANSACTION_ID = (
    64  # orders.payment_transaction_id holds 64: longer would fail the insert, not the parse
)


class Verification(StrEnum):
    """What `verify_notification` found. Except `VALID`, the values are the service's refusal codes."""

    VALID = "valid"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"


class InvalidNotification(ValueError):
    """A notification body that is not JSON, or lacks a field, or has one of the wrong type."""


@dataclass(frozen=True, slots=True)
class PaymentNotification:
    """What the bank confirms: `amount_vnd` arrived for `order_id`, under its own `bank_transaction_id`."""

    order_id: str
    reference: str
    amount_vnd: int
    bank_transaction_id: str

    def to_json(self) -> bytes:
        """The body as a bank (or the sandbox provider) sends it."""
        return json.dumps(asdict(self), separators=(",", ":")).encode()


def sign_notification(body: bytes, secret: bytes, timestamp: int) -> str:
    """The signature header for `body` sent at `timestamp` (unix seconds): `t=<timestamp>,v1=<hex>`."""
    if timestamp < 0:
        raise ValueError(f"timestamp must not be negative, got {timestamp}")
    return f"t={timestamp},{_SCHEME}={_digest(body, secret, timestamp)}"


def verify_notification(
    body: bytes,
    signature_header: str,
    secret: bytes,
    now: int,
    max_age_seconds: int = DEFAULT_MAX_AGE_SECONDS,
) -> Verification:
    """`VALID` when the header carries a valid signature of `body` made within `max_age_seconds` of `now`.

    A malformed header or no matching signature is `BAD_SIGNATURE`; a genuine signature whose timestamp is
    more than `max_age_seconds` before or after `now` is `STALE_TIMESTAMP`. Several `v1=` entries are
    allowed (a sender rotating its secret signs with both); one match suffices. Timestamps too far in the
    future are refused like old ones, so a skewed clock cannot widen the window.
    """
    if not secret:
        raise ValueError("webhook secret must not be empty")
    parsed = _parse_header(signature_header)
    if parsed is None:
        return Verification.BAD_SIGNATURE
    timestamp, candidates = parsed
    expected = _digest(body, secret, timestamp).encode()
    # Check every candidate, so the time taken does not reveal which one matched.
    matches = [hmac.compare_digest(expected, candidate.encode()) for candidate in candidates]
    if not any(matches):
        return Verification.BAD_SIGNATURE
    # The MAC is checked first, so only the holder of the secret learns that its clock is off; anyone
    # else is told bad_signature whatever the timestamp.
    if abs(now - timestamp) > max_age_seconds:
        return Verification.STALE_TIMESTAMP
    return Verification.VALID


def parse_notification(body: bytes) -> PaymentNotification:
    """Read a body: a JSON object with `order_id`, `reference`, `amount_vnd` and `bank_transaction_id`.

    Unknown fields are ignored: banks add their own.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidNotification(f"body is not JSON: {error}") from None
    if not isinstance(document, dict):
        raise InvalidNotification("body must be a JSON object")
    amount = document.get("amount_vnd")
    if type(amount) is not int or amount <= 0:
        raise InvalidNotification("amount_vnd must be a positive integer")
    return PaymentNotification(
        order_id=_text(document, "order_id"),
        reference=_text(document, "reference"),
        amount_vnd=amount,
        bank_transaction_id=_text(document, "bank_transaction_id", _MAX_TRANSACTION_ID),
    )


def _digest(body: bytes, secret: bytes, timestamp: int) -> str:
    if not secret:
        raise ValueError("webhook secret must not be empty")
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse_header(header: str) -> tuple[int, list[str]] | None:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, separator, value = part.strip().partition("=")
        if not separator:
            return None
        if key == "t":
            if timestamp is not None or _TIMESTAMP.fullmatch(value) is None:
                return None
            timestamp = int(value)
        elif key == _SCHEME:
            if _HEX_DIGEST.fullmatch(value) is None:
                return None
            candidates.append(value.lower())
        # Other schemes are skipped, so a sender can add a stronger one before we understand it.
    if timestamp is None or not candidates:
        return None
    return timestamp, candidates


def _text(document: dict[str, object], key: str, limit: int = _MAX_TEXT) -> str:
    value = document.get(key)
    # The value is not echoed: the message names the field. A NUL would reach a PostgreSQL text column.
    if not isinstance(value, str) or not 0 < len(value) <= limit or "\x00" in value:
        raise InvalidNotification(f"{key} must be a string of 1-{limit} characters, without NUL")
    return value
