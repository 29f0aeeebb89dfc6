"""The leak guard's scanner: what it flags in a line, and that it shows the line masked."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from support.leak_guard import Needles, scan

NEEDLES = Needles(secrets={"webhook_secret": "test-webhook-secret-0123456789abcdef"})


def _kinds(text: str, needles: Needles = NEEDLES, *, tokens: bool = True) -> list[str]:
    return [f.what for f in scan("here", text, needles, tokens=tokens)]


def test_a_valid_cccd_number_is_flagged_and_masked() -> None:
    findings = scan("here", "pass for holder 079303001234 created", NEEDLES)

    assert [f.what for f in findings] == ["CCCD number"]
    assert "079303001234" not in findings[0].line


def test_twelve_digits_no_cccd_can_be_and_the_masked_form_pass() -> None:
    assert _kinds("amount 999999999999 at 202503030200; holder 0793******34") == []


def test_a_cccd_shaped_run_inside_a_hex_id_is_not_a_cccd_number() -> None:
    # 079303001234 is a valid number, but here it is part of a random order id, not a number anyone wrote
    assert _kinds("POST /v1/sandbox/orders/a4ed079303001234f9b052/pay") == []


def test_a_cccd_number_between_punctuation_is_still_flagged() -> None:
    assert _kinds("cccd=079303001234&name=x") == ["CCCD number"]


def test_pem_private_keys_and_raw_key_bytes_in_hex_or_base64_are_flagged() -> None:
    key = Ed25519PrivateKey.generate()
    needles = Needles()
    needles.add_private_key(key)
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )

    assert _kinds(pem.decode(), needles) == ["PEM private key"]
    assert _kinds(f"key={raw.hex()}", needles) == ["raw private key"]
    assert _kinds(f"key {base64.urlsafe_b64encode(raw).decode().rstrip('=')}.", needles) == [
        "raw private key"
    ]
    assert _kinds(f"key {base64.b64encode(raw).decode()}", needles) == ["raw private key"]


def test_a_64_digit_hash_that_is_no_known_key_passes() -> None:
    assert _kinds("chain head " + "ab" * 32) == []


def test_tokens_and_secrets_are_flagged_and_tokens_can_be_allowed_in_cli_output() -> None:
    line = "Authorization: Bearer mqo_" + "A" * 43 + " with test-webhook-secret-0123456789abcdef"

    assert sorted(_kinds(line)) == ["secret webhook_secret", "token"]
    assert _kinds(line, tokens=False) == ["secret webhook_secret"]
    assert "test-webhook-secret" not in scan("here", line, NEEDLES)[0].line
