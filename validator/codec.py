"""Format v1 of the signed QR ticket: encode-and-sign on the issuer, decode-and-verify on the gate.

Payload text = SCHEME + Base45(body || signature), with signature = Ed25519(SIGNING_CONTEXT || body).
The byte layout is specified in docs/ticket-format.md; tests/vectors/ticket_v1.json pins it.

Errors: `encode` and the key helpers raise ValueError on a programming error (a field out of range, a naive
datetime, a malformed published keyset); `decode` and `peek` never raise, every refusal is a DecodeFailure.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any, NamedTuple

import base45
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from fare_rules.cccd import HOLDER_HASH_SIZE  # the wire field carries exactly what cccd.holder_hash makes
from fare_rules.products import HOLDER_PRODUCTS, Product
from fare_rules.reasons import Reason
from validator.wire import b64url_decode, b64url_encode

__all__ = [
    "ALGORITHM",
    "CODEC_REASONS",
    "FORMAT_VERSION",
    "HOLDER_HASH_SIZE",
    "PRODUCT_CODES",
    "SCHEME",
    "SIGNATURE_SIZE",
    "SIGNING_CONTEXT",
    "DecodeFailure",
    "KeyEntry",
    "Keyset",
    "TicketBody",
    "decode",
    "derive_key_id",
    "encode",
    "has_scheme",
    "keyset_to_json",
    "load_keyset",
    "peek",
    "private_key_from_bytes",
    "private_key_to_bytes",
    "public_key_from_bytes",
    "public_key_to_bytes",
]

SCHEME = "MQR:"  # QR alphanumeric-mode safe
FORMAT_VERSION = 1
# Domain separation: an issuer key that ever signs anything else can never have that mistaken for a ticket.
SIGNING_CONTEXT = b"metro-qr/ticket/v1\x00"
ALGORITHM = "Ed25519"
SIGNATURE_SIZE = 64

# Wire codes are a contract of their own: never derived from enum order, never reused. 0 is reserved.
PRODUCT_CODES: Mapping[Product, int] = MappingProxyType(
    {
        Product.SINGLE: 1,
        Product.DAY: 2,
        Product.THREE_DAY: 3,
        Product.MONTHLY: 4,
        Product.MONTHLY_STUDENT: 5,
        Product.FREE_PRIORITY: 6,
    }
)
_PRODUCTS_BY_CODE = {code: product for product, code in PRODUCT_CODES.items()}

# version, key id, serial, product, origin, destination, issued_at, valid_from, valid_until, fare_vnd
_HEADER = struct.Struct(">BHQBHHIIII")  # 32 bytes, no padding in big-endian standard mode
# Far above the longest valid payload (172 characters), so garbage is refused without decoding it all.
_MAX_BASE45_CHARS = 512
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_KEY_ID_CONTEXT = b"metro-qr/kid/v1\x00"


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
    """One issuer public key as a gate holds it, parsed once (decode never parses keys per call).

    `not_after` is the instant after which the issuer stops publishing the key (its last ticket has expired);
    `not_before` the one from which the issuer signs with it (it is published ahead, so gates hold it first).
    decode has no clock and consults neither: the ticket's own validity window is checked by the rules.
    """

    key_id: int
    public_key: Ed25519PublicKey
    revoked: bool = False
    not_after: datetime | None = None
    not_before: datetime | None = None


Keyset = Mapping[int, KeyEntry]
# Every reason decode and peek refuse with, and no other: each failure stays distinct (a wire contract).
CODEC_REASONS = frozenset(
    {
        Reason.NOT_OUR_CODE,
        Reason.MALFORMED,
        Reason.TRUNCATED,
        Reason.UNSUPPORTED_VERSION,
        Reason.UNKNOWN_KEY,
        Reason.KEY_REVOKED,
        Reason.BAD_SIGNATURE,
    }
)


@dataclass(frozen=True, slots=True)
class DecodeFailure:
    reason: Reason  # one of CODEC_REASONS
    detail: str


class _Parsed(NamedTuple):
    body: TicketBody
    signed: bytes  # the body bytes exactly as they came off the wire
    signature: bytes


# --- encode ------------------------------------------------------------------------------------------------


def encode(body: TicketBody, private_key: Ed25519PrivateKey) -> str:
    """Sign `body` and return the QR payload text (scheme prefix + Base45).

    Raises ValueError if a field does not fit the format: integers out of their unsigned range, naive or
    sub-second datetimes, valid_until before valid_from, a holder hash missing on a holder-linked pass (or
    present on any other product), or one that is not 16 bytes.
    """
    signed = _pack(body)
    signature = private_key.sign(SIGNING_CONTEXT + signed)
    digits: bytes = base45.b45encode(signed + signature)  # the base45 package is untyped
    return SCHEME + digits.decode("ascii")


def _pack(body: TicketBody) -> bytes:
    if not isinstance(body.product, Product) or body.product not in PRODUCT_CODES:
        raise ValueError(f"product must be a Product, not {body.product!r}")
    valid_from = _unix("valid_from", body.valid_from)
    valid_until = _unix("valid_until", body.valid_until)
    if valid_until < valid_from:
        raise ValueError("valid_until is before valid_from")
    header = _HEADER.pack(
        FORMAT_VERSION,
        _uint("key_id", body.key_id, 16),
        _uint("serial", body.serial, 64),
        PRODUCT_CODES[body.product],
        _uint("origin", body.origin, 16),
        _uint("destination", body.destination, 16),
        _unix("issued_at", body.issued_at),
        valid_from,
        valid_until,
        _uint("fare_vnd", body.fare_vnd, 32),
    )
    return header + _holder_bytes(body.product, body.holder_hash)


def _uint(name: str, value: object, bits: int) -> int:
    # bool is an int subclass; True as a serial is a bug, not a 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be an int, not {type(value).__name__}")
    if not 0 <= value < 1 << bits:
        raise ValueError(f"{name} {value} does not fit in an unsigned {bits}-bit field")
    return value


def _unix(name: str, value: object) -> int:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    since_epoch = value - _EPOCH
    # The wire holds whole seconds; silently dropping a fraction would sign something other than the record.
    if since_epoch % _SECOND:
        raise ValueError(f"{name} must be a whole second (use .replace(microsecond=0))")
    return _uint(name, since_epoch // _SECOND, 32)


def _holder_bytes(product: Product, holder_hash: object) -> bytes:
    if product not in HOLDER_PRODUCTS:
        if holder_hash is not None:
            raise ValueError(f"a {product} ticket carries no holder hash")
        return b""
    if not isinstance(holder_hash, bytes) or len(holder_hash) != HOLDER_HASH_SIZE:
        raise ValueError(f"a {product} pass needs a {HOLDER_HASH_SIZE}-byte holder hash")
    return holder_hash


# --- decode ------------------------------------------------------------------------------------------------


def decode(text: str, keyset: Keyset) -> TicketBody | DecodeFailure:
    """Parse and verify a payload. Never raises on any input: every failure is a DecodeFailure.

    Checks run in this order, the first failure wins: scheme prefix (NOT_OUR_CODE), Base45 (MALFORMED),
    version byte (UNSUPPORTED_VERSION), layout (TRUNCATED if short, else MALFORMED), key id (UNKNOWN_KEY,
    then KEY_REVOKED), signature (BAD_SIGNATURE). Datetimes in the result are UTC.
    """
    parsed = _parse(text)
    if isinstance(parsed, DecodeFailure):
        return parsed
    key_id = parsed.body.key_id
    entry = keyset.get(key_id)
    if entry is None:
        return DecodeFailure(Reason.UNKNOWN_KEY, f"key id {key_id} is not in the keyset")
    # A revoked key may be in an attacker's hands, so a valid signature from it proves nothing.
    if entry.revoked:
        return DecodeFailure(Reason.KEY_REVOKED, f"key id {key_id} is revoked")
    try:
        entry.public_key.verify(parsed.signature, SIGNING_CONTEXT + parsed.signed)
    except InvalidSignature:
        return DecodeFailure(Reason.BAD_SIGNATURE, f"signature does not verify under key id {key_id}")
    return parsed.body


def peek(text: str) -> TicketBody | DecodeFailure:
    """Parse without verifying the signature (for `inspect`): never raises.

    Only the prefix, Base45, version and layout checks run; the fields of a forged code come back as they
    are, so never act on a peeked body.
    """
    parsed = _parse(text)
    return parsed if isinstance(parsed, DecodeFailure) else parsed.body


def has_scheme(text: str) -> bool:
    """Whether `text` (already stripped) starts with our scheme prefix, in any case (see `_unwrap`)."""
    head = text[: len(SCHEME)]
    return head.isascii() and head.upper() == SCHEME


def _parse(text: object) -> _Parsed | DecodeFailure:
    raw = _unwrap(text)
    return raw if isinstance(raw, DecodeFailure) else _parse_bytes(raw)


def _unwrap(text: object) -> bytes | DecodeFailure:
    """Scheme prefix and Base45 → bytes.

    Surrounding whitespace is dropped (keyboard-wedge scanners append Enter or Tab). That is safe although a
    space is a Base45 digit: Base45 never ends in one (a final group's last digit is at most 32), and the
    prefix starts with a letter. Case is folded, because neither the prefix nor the Base45 alphabet has a
    lowercase letter, and wedge scanners with Caps Lock or Shift inverted type the payload in lowercase.
    """
    if not isinstance(text, str):
        return DecodeFailure(Reason.NOT_OUR_CODE, f"expected text, got {type(text).__name__}")
    text = text.strip()
    rest = text[len(SCHEME) :]
    if not has_scheme(text):
        return DecodeFailure(Reason.NOT_OUR_CODE, f"does not start with {SCHEME}")
    if len(rest) > _MAX_BASE45_CHARS:
        return DecodeFailure(Reason.MALFORMED, f"{len(rest)} characters is far too long for a ticket")
    if not rest.isascii():
        return DecodeFailure(Reason.MALFORMED, "non-ASCII character after the prefix")
    try:
        return bytes(base45.b45decode(rest.upper()))
    except ValueError:
        return DecodeFailure(Reason.MALFORMED, "not valid Base45")


def _parse_bytes(raw: bytes) -> _Parsed | DecodeFailure:
    if not raw:
        return DecodeFailure(Reason.MALFORMED, "empty payload")
    # The version comes first so that a newer format is named as such, whatever its length.
    if raw[0] != FORMAT_VERSION:
        return DecodeFailure(Reason.UNSUPPORTED_VERSION, f"format version {raw[0]}")
    if len(raw) < _HEADER.size:
        return DecodeFailure(Reason.TRUNCATED, f"{len(raw)} bytes, shorter than the header")
    fields = _HEADER.unpack_from(raw)
    product = _PRODUCTS_BY_CODE.get(fields[3])
    if product is None:
        return DecodeFailure(Reason.MALFORMED, f"unknown product code {fields[3]}")
    body_size = _body_size(product)
    if len(raw) != body_size + SIGNATURE_SIZE:
        # Short is what a scanner that stopped early produces ("scan again"); long is not ours to guess at.
        reason = Reason.TRUNCATED if len(raw) < body_size + SIGNATURE_SIZE else Reason.MALFORMED
        return DecodeFailure(reason, f"{len(raw)} bytes, a {product} ticket has {body_size + SIGNATURE_SIZE}")
    if fields[8] < fields[7]:
        return DecodeFailure(Reason.MALFORMED, "valid_until is before valid_from")
    holder_hash = raw[_HEADER.size : body_size] if product in HOLDER_PRODUCTS else None
    body = _body(fields, product, holder_hash)
    return _Parsed(body, raw[:body_size], raw[body_size:])


def _body_size(product: Product) -> int:
    return _HEADER.size + (HOLDER_HASH_SIZE if product in HOLDER_PRODUCTS else 0)


def _body(fields: tuple[int, ...], product: Product, holder_hash: bytes | None) -> TicketBody:
    _, key_id, serial, _, origin, destination, issued_at, valid_from, valid_until, fare_vnd = fields
    return TicketBody(
        key_id=key_id,
        serial=serial,
        product=product,
        origin=origin,
        destination=destination,
        issued_at=_instant(issued_at),
        valid_from=_instant(valid_from),
        valid_until=_instant(valid_until),
        fare_vnd=fare_vnd,
        holder_hash=holder_hash,
    )


def _instant(seconds: int) -> datetime:
    # Arithmetic rather than fromtimestamp: exact, and the same on every platform up to 2106.
    return _EPOCH + timedelta(seconds=seconds)


# --- keys --------------------------------------------------------------------------------------------------


def private_key_from_bytes(seed: bytes) -> Ed25519PrivateKey:
    """The Ed25519 private key for a raw 32-byte seed (RFC 8032). ValueError if it is not 32 bytes."""
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_key_to_bytes(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte seed of a private key (encrypt it before it touches a disk)."""
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


def public_key_from_bytes(raw: bytes) -> Ed25519PublicKey:
    """The Ed25519 public key for its raw 32-byte encoding. ValueError if it is not 32 bytes."""
    return Ed25519PublicKey.from_public_bytes(raw)


def public_key_to_bytes(key: Ed25519PublicKey) -> bytes:
    """The raw 32-byte encoding of a public key, as published in the keyset."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def derive_key_id(public_key: Ed25519PublicKey) -> int:
    """The recommended key id: the first two bytes of SHA-256(context || raw public key), big-endian.

    Anyone can recompute it from the published key. The issuer must still refuse a new key whose id is
    already in its keyset, revoked keys included, and draw another (odds about n in 65,536 for n keys).
    """
    digest = hashlib.sha256(_KEY_ID_CONTEXT + public_key_to_bytes(public_key)).digest()
    return int.from_bytes(digest[:2], "big")


def load_keyset(obj: object) -> dict[int, KeyEntry]:
    """Parse the (already JSON-decoded) object GET /v1/keys publishes. ValueError if it is malformed.

    Keys of another algorithm than Ed25519 are skipped, so the issuer can publish a future one alongside
    without breaking gates that know only this format. Two keys with one id are an error.
    """
    if not isinstance(obj, dict) or not isinstance(obj.get("keys"), list):
        raise ValueError('a keyset is an object with a "keys" list')
    keyset: dict[int, KeyEntry] = {}
    for item in obj["keys"]:
        entry = _load_key(item)
        if entry is None:
            continue
        if entry.key_id in keyset:
            raise ValueError(f"key id {entry.key_id} appears twice")
        keyset[entry.key_id] = entry
    return keyset


def keyset_to_json(keyset: Keyset) -> dict[str, list[dict[str, Any]]]:
    """The JSON object GET /v1/keys publishes, keys in id order; load_keyset reads it back.

    Raises ValueError on a key id out of range or a naive `not_before` or `not_after` (written as UTC ISO
    8601).
    """
    return {"keys": [_key_to_json(keyset[key_id]) for key_id in sorted(keyset)]}


def _load_key(item: object) -> KeyEntry | None:
    if not isinstance(item, dict):
        raise ValueError("a key is an object")
    alg = item.get("alg")
    if not isinstance(alg, str):
        raise ValueError('a key needs an "alg"')
    if alg != ALGORITHM:
        return None
    key_id = _uint("kid", item.get("kid"), 16)
    raw = _b64url_decode(item.get("public_key"))
    revoked = item.get("revoked", False)
    if not isinstance(revoked, bool):
        raise ValueError(f"key id {key_id}: revoked must be true or false")
    not_after = _iso_instant("not_after", item.get("not_after"))
    not_before = _iso_instant("not_before", item.get("not_before"))
    return KeyEntry(key_id, public_key_from_bytes(raw), revoked, not_after, not_before)


def _key_to_json(entry: KeyEntry) -> dict[str, Any]:
    raw = public_key_to_bytes(entry.public_key)
    return {
        "kid": _uint("kid", entry.key_id, 16),
        "alg": ALGORITHM,
        "public_key": b64url_encode(raw),
        "not_before": _iso_text(entry.key_id, "not_before", entry.not_before),
        "not_after": _iso_text(entry.key_id, "not_after", entry.not_after),
        "revoked": entry.revoked,
    }


def _iso_text(key_id: int, name: str, instant: datetime | None) -> str | None:
    if instant is None:
        return None
    # Refused here, at the issuer: a naive time would make every gate refuse the whole keyset.
    if instant.utcoffset() is None:
        raise ValueError(f"key id {key_id}: {name} must be an aware datetime")
    return instant.astimezone(UTC).isoformat()


def _b64url_decode(value: object) -> bytes:
    try:
        raw = b64url_decode(value)
    except ValueError as error:
        raise ValueError(f"public_key: {error}") from None
    if len(raw) != 32:
        raise ValueError(f"public_key is {len(raw)} bytes, an Ed25519 key is 32")
    return raw


def _iso_instant(name: str, value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO 8601 string or null")
    instant = datetime.fromisoformat(value)  # ValueError on bad text
    if instant.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset")
    return instant
