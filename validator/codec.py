"""Format v1 of the signed QR ticket: encode-and-sign on the issuer, decode-and-verify on the gate.

The byte layout is specified in docs/ticket-format.md; tests/vectors/ pins it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fare_rules.products import Product
from fare_rules.reasons import Reason

__all__ = ["SCHEME", "DecodeFailure", "KeyEntry", "Keyset", "TicketBody", "decode", "encode", "peek"]

SCHEME = "MQR:"  # QR alphanumeric-mode safe


@dataclass(frozen=True, slots=True)
class TicketBody:
    """The signed fields. Stations are wire numbers (fare_rules.Station.number); 0 means none."""

    key_id: int  # uint16
    serial: int  # uint64, unique per issuer
    product: Product
    origin: int
    destination: int
    issued_at: datetime  # aware; whole seconds on the wire
    valid_from: datetime
    valid_until: datetime
    fare_vnd: int
    holder_hash: bytes | None = None  # 16 bytes, holder-linked passes only


@dataclass(frozen=True, slots=True)
class KeyEntry:
    key_id: int
    public_key: Ed25519PublicKey
    revoked: bool = False


Keyset = Mapping[int, KeyEntry]


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    reason: Reason  # NOT_OUR_CODE, UNSUPPORTED_VERSION, MALFORMED, UNKNOWN_KEY, KEY_REVOKED, BAD_SIGNATURE
    detail: str


def encode(body: TicketBody, private_key: Ed25519PrivateKey) -> str:
    """Sign `body` and return the QR payload text (scheme prefix + Base45)."""
    raise NotImplementedError


def decode(text: str, keyset: Keyset) -> TicketBody | DecodeFailure:
    """Parse and verify a payload. Never raises on any input: every failure is a DecodeFailure."""
    raise NotImplementedError


def peek(text: str) -> TicketBody | DecodeFailure:
    """Parse without verifying the signature (for `inspect`): never raises."""
    raise NotImplementedError
