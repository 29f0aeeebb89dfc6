"""The codec against the committed test vectors of format v1, in both directions.

tests/vectors/ticket_v1.json is read-only repository data (regenerate it with
`.venv/bin/python -m tests.vectors.make_ticket_v1`); any other implementation can check itself against it.
"""

from __future__ import annotations

import json
import re
import struct
from datetime import datetime
from pathlib import Path
from typing import Any

import base45
import pytest

from fare_rules.network import load_network
from fare_rules.products import Product
from fare_rules.reasons import Reason
from validator.codec import (
    CODEC_REASONS,
    PRODUCT_CODES,
    SCHEME,
    SIGNING_CONTEXT,
    DecodeFailure,
    TicketBody,
    decode,
    derive_key_id,
    encode,
    load_keyset,
    peek,
    private_key_from_bytes,
    public_key_from_bytes,
    public_key_to_bytes,
)

ROOT = Path(__file__).resolve().parents[2]
VECTORS: dict[str, Any] = json.loads(
    (ROOT / "tests" / "vectors" / "ticket_v1.json").read_text(encoding="utf-8")
)
SPEC = (ROOT / "docs" / "ticket-format.md").read_text(encoding="utf-8")
NETWORK = load_network((ROOT / "fare_rules" / "data" / "hcmc-line1.json").read_text(encoding="utf-8"))
KEYS = {key["name"]: key for key in VECTORS["keys"]}
KEYSET = load_keyset(VECTORS["keyset"])
VALID = {vector["name"]: vector for vector in VECTORS["valid"]}


def body_from(fields: dict[str, Any]) -> TicketBody:
    holder = fields["holder_hash_hex"]
    return TicketBody(
        key_id=fields["key_id"],
        serial=fields["serial"],
        product=Product(fields["product"]),
        origin=fields["origin"],
        destination=fields["destination"],
        issued_at=datetime.fromisoformat(fields["issued_at"]),
        valid_from=datetime.fromisoformat(fields["valid_from"]),
        valid_until=datetime.fromisoformat(fields["valid_until"]),
        fare_vnd=fields["fare_vnd"],
        holder_hash=None if holder is None else bytes.fromhex(holder),
    )


def layout(fields: dict[str, Any]) -> bytes:
    """The body packed straight from docs/ticket-format.md, independently of the codec."""
    times = [int(datetime.fromisoformat(fields[name]).timestamp()) for name in ("issued_at", "valid_from")]
    times.append(int(datetime.fromisoformat(fields["valid_until"]).timestamp()))
    header = struct.pack(
        ">BHQBHHIIII",
        1,
        fields["key_id"],
        fields["serial"],
        fields["product_code"],
        fields["origin"],
        fields["destination"],
        *times,
        fields["fare_vnd"],
    )
    return header + bytes.fromhex(fields["holder_hash_hex"] or "")


def signing_key(vector: dict[str, Any]) -> Any:
    return private_key_from_bytes(bytes.fromhex(KEYS[vector["signer"]]["seed_hex"]))


def test_the_vectors_cover_a_single_ticket_and_a_monthly_pass() -> None:
    assert {v["fields"]["product"] for v in VALID.values()} >= {"single", "monthly"}


def test_the_vector_single_ticket_names_real_stations_from_l1_01_to_l1_05() -> None:
    fields = VALID["single ticket"]["fields"]

    assert NETWORK.by_number(fields["origin"]).code == "L1-01"
    assert NETWORK.by_number(fields["destination"]).code == "L1-05"


def test_the_station_table_in_the_spec_is_the_networks() -> None:
    section = SPEC.split("### Station numbers", 1)[1].split("\n#", 1)[0]
    rows = re.findall(
        r"^\| `(L\d+-\d+)` \| (\d+) \| `([0-9a-f]{4})` \| ([^|]+) \| ([^|]+) \|$", section, re.M
    )
    table = [
        (code, int(number), int(hex_, 16), vi.strip(), en.strip()) for code, number, hex_, vi, en in rows
    ]

    assert table == [(s.code, s.number, s.number, s.name_vi, s.name_en) for s in NETWORK.stations]


@pytest.mark.parametrize("vector", VALID.values(), ids=VALID.keys())
def test_the_spec_shows_each_valid_vectors_payload(vector: dict[str, Any]) -> None:
    assert f"\n{vector['payload']}\n" in SPEC


def test_the_single_ticket_vector_holds_a_space_inside_its_text() -> None:
    """The spec points at it: readers must keep a space (Base45 digit 36) that is not at either end."""
    assert " " in VALID["single ticket"]["payload"].strip()


def test_the_vector_context_and_scheme_are_the_codecs() -> None:
    assert bytes.fromhex(VECTORS["signing_context_hex"]) == SIGNING_CONTEXT
    assert VECTORS["scheme"] == SCHEME


@pytest.mark.parametrize("key", VECTORS["keys"], ids=lambda k: k["name"])
def test_each_vector_key_has_the_listed_public_key_and_key_id(key: dict[str, Any]) -> None:
    public = private_key_from_bytes(bytes.fromhex(key["seed_hex"])).public_key()

    assert public_key_to_bytes(public).hex() == key["public_key_hex"]
    assert derive_key_id(public_key_from_bytes(bytes.fromhex(key["public_key_hex"]))) == key["kid"]


def test_the_vector_keyset_holds_the_issuer_key_and_a_revoked_one_but_not_the_unpublished() -> None:
    assert not KEYSET[KEYS["issuer"]["kid"]].revoked
    assert KEYSET[KEYS["revoked"]["kid"]].revoked
    assert KEYS["unpublished"]["kid"] not in KEYSET


@pytest.mark.parametrize("vector", VALID.values(), ids=VALID.keys())
def test_encoding_the_vector_fields_gives_the_vector_payload(vector: dict[str, Any]) -> None:
    assert encode(body_from(vector["fields"]), signing_key(vector)) == vector["payload"]


@pytest.mark.parametrize("vector", VALID.values(), ids=VALID.keys())
def test_decoding_the_vector_payload_gives_the_vector_fields(vector: dict[str, Any]) -> None:
    assert decode(vector["payload"], KEYSET) == body_from(vector["fields"])
    assert peek(vector["payload"]) == body_from(vector["fields"])


@pytest.mark.parametrize("vector", VALID.values(), ids=VALID.keys())
def test_the_vector_body_follows_the_documented_layout_and_product_code(vector: dict[str, Any]) -> None:
    fields = vector["fields"]

    assert layout(fields).hex() == vector["body_hex"]
    assert PRODUCT_CODES[Product(fields["product"])] == fields["product_code"]


@pytest.mark.parametrize("vector", VALID.values(), ids=VALID.keys())
def test_the_vector_payload_is_the_prefix_and_base45_of_body_and_signature(vector: dict[str, Any]) -> None:
    body, signature = bytes.fromhex(vector["body_hex"]), bytes.fromhex(vector["signature_hex"])
    digits: bytes = base45.b45encode(body + signature)

    assert vector["payload"] == SCHEME + digits.decode("ascii")
    signing_key(vector).public_key().verify(signature, SIGNING_CONTEXT + body)  # raises if it does not verify


@pytest.mark.parametrize("vector", VECTORS["tolerated"], ids=lambda v: v["name"])
def test_a_tolerated_variant_decodes_to_the_same_fields(vector: dict[str, Any]) -> None:
    assert decode(vector["payload"], KEYSET) == body_from(VALID[vector["same_as"]]["fields"])


@pytest.mark.parametrize("vector", VECTORS["invalid"], ids=lambda v: v["name"])
def test_a_negative_vector_is_refused_with_its_listed_reason(vector: dict[str, Any]) -> None:
    result = decode(vector["payload"], KEYSET)

    assert isinstance(result, DecodeFailure)
    assert result.reason == Reason(vector["reason"])


def test_every_kind_of_decode_failure_has_a_negative_vector() -> None:
    listed = {Reason(v["reason"]) for v in VECTORS["invalid"]}

    assert listed == CODEC_REASONS
