"""Regenerate tests/vectors/ticket_v1.json, the test vectors of ticket format v1 (docs/ticket-format.md).

Run from the repository root: `.venv/bin/python -m tests.vectors.make_ticket_v1`. Ed25519 is deterministic, so
the output only changes when the format or these inputs do; tests/unit/test_codec_vectors.py checks the codec
against the committed file in both directions. The negative vectors are built by editing bytes at their
offsets, not through the codec, so they stay what they claim to be.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import base45

from fare_rules.products import Product
from validator.codec import (
    PRODUCT_CODES,
    SCHEME,
    SIGNING_CONTEXT,
    KeyEntry,
    TicketBody,
    derive_key_id,
    encode,
    keyset_to_json,
    private_key_from_bytes,
    public_key_to_bytes,
)

__all__ = ["build", "main"]

OUT = Path(__file__).with_name("ticket_v1.json")
ICT = timedelta(hours=7)  # Asia/Ho_Chi_Minh, for readable inputs; the wire is UTC seconds

# Fabricated keys: never use these seeds for anything real.
SEEDS = {
    "issuer": bytes(range(32)),
    "revoked": bytes(range(32, 64)),
    "unpublished": bytes(range(64, 96)),
}
HOLDER_HASH = bytes.fromhex("9f86d081884c7d659a2feaa0c55ad015")  # opaque: any 16 bytes from the issuer


def _kid(name: str) -> int:
    return derive_key_id(private_key_from_bytes(SEEDS[name]).public_key())


def _single() -> TicketBody:
    bought = datetime(2025, 1, 21, 8, 0, tzinfo=UTC) - ICT
    return TicketBody(
        key_id=_kid("issuer"),
        serial=20250121000010,  # chosen so the payload text holds a space (Base45 digit 36) inside it
        product=Product.SINGLE,
        origin=101,  # L1-01 Bến Thành: wire numbers are fare_rules/data/hcmc-line1.json's `number`
        destination=105,  # L1-05 Tân Cảng
        issued_at=bought,
        valid_from=bought,
        valid_until=bought + timedelta(days=30),
        fare_vnd=9000,
    )


def _monthly() -> TicketBody:
    start = datetime(2025, 2, 1, tzinfo=UTC) - ICT
    return TicketBody(
        key_id=_kid("issuer"),
        serial=20250125000007,
        product=Product.MONTHLY,
        origin=0,
        destination=0,
        issued_at=datetime(2025, 1, 25, 10, 30, tzinfo=UTC) - ICT,
        valid_from=start,
        valid_until=start + timedelta(days=30),
        fare_vnd=300000,
        holder_hash=HOLDER_HASH,
    )


def _fields(body: TicketBody) -> dict[str, Any]:
    return {
        "key_id": body.key_id,
        "serial": body.serial,
        "product": body.product.value,
        "product_code": PRODUCT_CODES[body.product],
        "origin": body.origin,
        "destination": body.destination,
        "issued_at": body.issued_at.isoformat(),
        "valid_from": body.valid_from.isoformat(),
        "valid_until": body.valid_until.isoformat(),
        "fare_vnd": body.fare_vnd,
        "holder_hash_hex": None if body.holder_hash is None else body.holder_hash.hex(),
    }


def _valid(name: str, body: TicketBody) -> dict[str, Any]:
    payload = encode(body, private_key_from_bytes(SEEDS["issuer"]))
    raw = bytes(base45.b45decode(payload[len(SCHEME) :]))
    return {
        "name": name,
        "signer": "issuer",
        "fields": _fields(body),
        "body_hex": raw[:-64].hex(),
        "signature_hex": raw[-64:].hex(),
        "payload": payload,
    }


def _signed(body: bytes, signer: str = "issuer") -> str:
    signature = private_key_from_bytes(SEEDS[signer]).sign(SIGNING_CONTEXT + body)
    digits: bytes = base45.b45encode(body + signature)
    return SCHEME + digits.decode("ascii")


def _raw(payload: str) -> bytes:
    return bytes(base45.b45decode(payload[len(SCHEME) :]))


def _with(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


def _invalid(single: str, monthly: str) -> list[dict[str, str]]:
    raw = _raw(single)
    body, signature = raw[:32], raw[32:]
    flipped = signature[:-1] + bytes([signature[-1] ^ 0x01])
    swapped = body[:20] + body[24:28] + body[20:24] + body[28:]  # valid_from is at 20, valid_until at 24
    # (name, payload, reason, why)
    cases = [
        ("empty text", "", "not_our_code", "no prefix at all"),
        (
            "another scheme",
            "HC1:6BFOXN*TS0BI$ZD4N9:9S6RCVN5+O30K3/XIV0W23NTDE",
            "not_our_code",
            "EU DCC prefix",
        ),
        ("a web address", "https://example.com/t/42", "not_our_code", "QR of a URL"),
        ("prefix only", SCHEME, "malformed", "no bytes after the prefix"),
        ("not Base45", SCHEME + "ABC!", "malformed", "'!' is not a Base45 digit"),
        ("dangling Base45 digit", SCHEME + "ABCD", "malformed", "length 3n+1 cannot be Base45"),
        ("Base45 group overflow", SCHEME + ":::", "malformed", "':::' is 91124, above 65535"),
        ("non-ASCII after prefix", SCHEME + "ÄBC", "malformed", "not a Base45 digit"),
        ("truncated signature", single[:-3], "truncated", "last two bytes missing"),
        ("truncated header", _b45(raw[:10]), "truncated", "10 bytes: the header alone is 32"),
        ("trailing byte", _b45(raw + b"\x00"), "malformed", "97 bytes for a single"),
        ("unknown product code", _signed(_with(body, 11, b"\x07")), "malformed", "code 7, validly signed"),
        ("holder hash on a single", _signed(body + HOLDER_HASH), "malformed", "48-byte body, validly signed"),
        (
            "monthly without holder hash",
            _signed(_raw(monthly)[:32]),
            "truncated",
            "32-byte body, validly signed",
        ),
        (
            "validity inverted",
            _signed(swapped),
            "malformed",
            "valid_from and valid_until swapped, validly signed",
        ),
        ("format version 2", _signed(_with(body, 0, b"\x02")), "unsupported_version", "version byte 2"),
        ("format version 0", _b45(b"\x00" + raw[1:]), "unsupported_version", "version byte 0"),
        (
            "unpublished key",
            _signed(_with(body, 1, _kid("unpublished").to_bytes(2, "big")), "unpublished"),
            "unknown_key",
            "signed by a key the gate does not hold",
        ),
        (
            "revoked key",
            _signed(_with(body, 1, _kid("revoked").to_bytes(2, "big")), "revoked"),
            "key_revoked",
            "validly signed by a revoked key",
        ),
        ("signature bit flipped", _b45(body + flipped), "bad_signature", "last signature bit flipped"),
        (
            "fare altered",
            _b45(_with(body, 28, (20000).to_bytes(4, "big")) + signature),
            "bad_signature",
            "fare 9000 -> 20000, old signature",
        ),
        (
            "signed by another key",
            _signed(body, "unpublished"),
            "bad_signature",
            "issuer's key id, wrong key",
        ),
        (
            "signed without context",
            _b45(body + _sign_bare(body)),
            "bad_signature",
            "Ed25519 over the body alone",
        ),
    ]
    return [{"name": n, "payload": p, "reason": r, "why": w} for n, p, r, w in cases]


def _b45(raw: bytes) -> str:
    digits: bytes = base45.b45encode(raw)
    return SCHEME + digits.decode("ascii")


def _sign_bare(body: bytes) -> bytes:
    return private_key_from_bytes(SEEDS["issuer"]).sign(body)


def _tolerated(single: str) -> list[dict[str, str]]:
    variants = [
        ("keyboard wedge Enter", single + "\r\n"),
        ("surrounding whitespace", " \t" + single + " \n"),
        ("lowercase (Caps Lock inverted)", single.lower()),
        ("lowercase prefix", single.replace(SCHEME, SCHEME.lower(), 1)),
    ]
    return [{"name": n, "payload": p, "same_as": "single ticket"} for n, p in variants]


def _keys() -> list[dict[str, Any]]:
    keys = []
    for name, seed in SEEDS.items():
        public = private_key_from_bytes(seed).public_key()
        keys.append(
            {
                "name": name,
                "kid": _kid(name),
                "seed_hex": seed.hex(),
                "public_key_hex": public_key_to_bytes(public).hex(),
            }
        )
    return keys


def _keyset() -> dict[str, list[dict[str, Any]]]:
    """What the gate holds: the issuer's key and a revoked one; the unpublished key is not in it."""
    entries = {
        _kid(name): KeyEntry(_kid(name), private_key_from_bytes(SEEDS[name]).public_key(), name == "revoked")
        for name in ("issuer", "revoked")
    }
    return keyset_to_json(entries)


def build() -> dict[str, Any]:
    """The whole vector file as a JSON-ready object."""
    valid = [_valid("single ticket", _single()), _valid("monthly pass", _monthly())]
    return {
        "format": "metro-qr ticket v1, see docs/ticket-format.md",
        "scheme": SCHEME,
        "signing_context_hex": SIGNING_CONTEXT.hex(),
        "keys": _keys(),
        "keyset": _keyset(),
        "valid": valid,
        "tolerated": _tolerated(valid[0]["payload"]),
        "invalid": _invalid(valid[0]["payload"], valid[1]["payload"]),
    }


def main() -> int:
    OUT.write_text(json.dumps(build(), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
