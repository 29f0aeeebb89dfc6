"""Issuer signatures over what a gate receives: sync responses (`X-Signature`) and provisioning bundles.

Pure, so the issuing service imports the same functions to sign. A response signature covers the request
target, so a signed page of passes can never be replayed as a page of revocations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from validator.codec import Keyset
from validator.wire import b64url_decode, b64url_encode

__all__ = [
    "RESPONSE_DOMAIN",
    "SIGNATURE_HEADER",
    "SignatureError",
    "response_message",
    "sign_response",
    "verify_response",
    "verify_with_keyset",
]

SIGNATURE_HEADER = "X-Signature"
RESPONSE_DOMAIN = b"metro-qr gate response v1\x00"
_HEADER = re.compile(r"kid=(\d{1,5});\s*sig=([A-Za-z0-9_-]+={0,2})")


class SignatureError(ValueError):
    """A signature that is missing, malformed, by an unknown or revoked key, or wrong."""


def response_message(target: str, body: bytes) -> bytes:
    """What a response signature covers: domain || request target (path?query as sent) || LF || body."""
    return RESPONSE_DOMAIN + target.encode("utf-8") + b"\n" + body


def sign_response(target: str, body: bytes, kid: int, key: Ed25519PrivateKey) -> str:
    """The `X-Signature` header value for a response body: `kid=<kid>;sig=<base64url>`."""
    return f"kid={kid};sig={b64url_encode(key.sign(response_message(target, body)))}"


def verify_with_keyset(message: bytes, kid: int, signature: bytes, keyset: Keyset) -> None:
    """Check an Ed25519 signature by key `kid` of `keyset`; SignatureError unless valid and not revoked."""
    entry = keyset.get(kid)
    if entry is None:
        raise SignatureError(f"signed by key {kid}, which this gate does not know")
    if entry.revoked:
        raise SignatureError(f"signed by revoked key {kid}")
    try:
        entry.public_key.verify(signature, message)
    except InvalidSignature as exc:
        raise SignatureError("signature does not verify") from exc


def verify_response(target: str, body: bytes, headers: Mapping[str, str], keyset: Keyset) -> int:
    """Verify a sync response's `X-Signature`; returns the kid of the first signature that verifies.

    The header may carry several comma-separated signatures (`kid=1;sig=..., kid=2;sig=...`): during a key
    rotation the service signs with every active key, so a gate that knows only the old one still verifies.
    SignatureError unless at least one is by a known, unrevoked key and verifies.
    """
    header = headers.get(SIGNATURE_HEADER) or headers.get(SIGNATURE_HEADER.lower())
    if not header:
        raise SignatureError("response is not signed (no X-Signature header)")
    message = response_message(target, body)
    errors: list[str] = []
    for part in header.split(","):
        match = _HEADER.fullmatch(part.strip())
        if match is None:
            errors.append("malformed X-Signature entry")
            continue
        kid = int(match.group(1))
        try:
            verify_with_keyset(message, kid, b64url_decode(match.group(2)), keyset)
        except SignatureError as exc:
            errors.append(str(exc))
            continue
        return kid
    raise SignatureError("; ".join(errors))
