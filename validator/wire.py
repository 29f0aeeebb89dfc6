"""The wire encodings the gate and the service share, each written once: times as ISO 8601 UTC text,
base64url (RFC 4648 section 5) without padding, and canonical JSON (the bytes hashes and signatures cover)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson

__all__ = ["b64url_decode", "b64url_encode", "canonical_json", "iso", "parse_iso"]

_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def iso(at: datetime) -> str:
    """`2025-01-21T05:00:00.000000Z`: fixed width, so the texts also sort as times."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """Parse an ISO 8601 time with an offset (or Z); ValueError if it has none or does not parse."""
    if not isinstance(text, str):
        raise ValueError("time must be an ISO 8601 string")
    at = datetime.fromisoformat(text)
    if at.tzinfo is None:
        raise ValueError(f"time without offset: {text!r}")
    return at.astimezone(UTC)


def b64url_encode(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: object) -> bytes:
    """base64url with or without padding; ValueError on anything else (a character outside the alphabet
    too: the standard decoder would skip it, and a signature or a key must be exactly what was sent)."""
    if not isinstance(text, str) or not _B64URL.fullmatch(text):
        raise ValueError("not base64url text")
    bare = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(bare + "=" * (-len(bare) % 4))
    except binascii.Error as error:
        raise ValueError(f"not base64url: {error}") from None


# The fallback, and the definition orjson is held to for everything a gate writes (tests/unit/
# test_journal_properties.py): json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8: the one byte form that hashes and signatures cover.

    orjson gives json.dumps's bytes for every value without floats (journal events, bundles and batches hold
    none) ten times faster: encoding was the largest cost of journal ingest. Floats differ in form only
    (1e-05 is written 0.00001, NaN null) and are encoded the same way on the gate and the server. What orjson
    refuses (integers beyond 64 bits, lone surrogates) goes through json."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _CANONICAL.encode(value).encode("utf-8")
