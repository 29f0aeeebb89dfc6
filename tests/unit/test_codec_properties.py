"""Property tests: decode never raises and never accepts what the issuer did not sign."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import base45
from hypothesis import given, settings
from hypothesis import strategies as st

from fare_rules.products import HOLDER_PRODUCTS, Product
from fare_rules.reasons import Reason
from validator.codec import (
    CODEC_REASONS,
    SCHEME,
    DecodeFailure,
    KeyEntry,
    Keyset,
    TicketBody,
    decode,
    derive_key_id,
    encode,
    peek,
    private_key_from_bytes,
)

KEY = private_key_from_bytes(bytes(range(32)))
KID = derive_key_id(KEY.public_key())
KEYSET = {KID: KeyEntry(KID, KEY.public_key())}
# What comes after our prefix is ours, if broken: never refused as another scheme's code.
OURS_BUT_BROKEN = CODEC_REASONS - {Reason.NOT_OUR_CODE}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
START = datetime(2025, 1, 21, 1, 0, tzinfo=UTC)
SINGLE_PAYLOAD = encode(
    TicketBody(KID, 42, Product.SINGLE, 1, 5, START, START, START + timedelta(days=30), 9000), KEY
)
ZONES = [UTC, timezone(timedelta(hours=7)), timezone(timedelta(hours=-9, minutes=-30))]


def instants(low: int = 0) -> st.SearchStrategy[datetime]:
    seconds = st.integers(min_value=low, max_value=2**32 - 1)
    return st.builds(
        lambda s, tz: (EPOCH + timedelta(seconds=s)).astimezone(tz), seconds, st.sampled_from(ZONES)
    )


@st.composite
def tickets(draw: st.DrawFn) -> TicketBody:
    product = draw(st.sampled_from(list(Product)))
    valid_from = draw(instants())
    uint16 = st.integers(min_value=0, max_value=2**16 - 1)
    return TicketBody(
        key_id=KID,
        serial=draw(st.integers(min_value=0, max_value=2**64 - 1)),
        product=product,
        origin=draw(uint16),
        destination=draw(uint16),
        issued_at=draw(instants()),
        valid_from=valid_from,
        valid_until=draw(instants(low=int((valid_from - EPOCH).total_seconds()))),
        fare_vnd=draw(st.integers(min_value=0, max_value=2**32 - 1)),
        holder_hash=draw(st.binary(min_size=16, max_size=16)) if product in HOLDER_PRODUCTS else None,
    )


def bytes_payload(raw: bytes) -> str:
    digits: bytes = base45.b45encode(raw)
    return SCHEME + digits.decode("ascii")


def every_bit_flip(payload: str) -> list[str]:
    raw = bytes(base45.b45decode(payload[len(SCHEME) :]))
    flips = []
    for index in range(len(raw)):
        for bit in range(8):
            flipped = bytearray(raw)
            flipped[index] ^= 1 << bit
            flips.append(bytes_payload(bytes(flipped)))
    return flips


def refused(text: str, keyset: Keyset = KEYSET) -> Reason | None:
    result = decode(text, keyset)
    return result.reason if isinstance(result, DecodeFailure) else None


@given(st.text())
def test_arbitrary_text_is_refused_with_a_reason_never_an_exception(text: str) -> None:
    assert refused(text) is not None
    assert isinstance(peek(text), DecodeFailure)


@given(st.text())
def test_arbitrary_text_after_the_prefix_is_refused_as_ours_but_broken(text: str) -> None:
    assert refused(SCHEME + text) in OURS_BUT_BROKEN


@given(st.binary(max_size=200))
def test_arbitrary_bytes_in_base45_after_the_prefix_are_refused_with_a_reason(raw: bytes) -> None:
    assert refused(bytes_payload(raw)) in OURS_BUT_BROKEN


@given(st.binary(min_size=1, max_size=200).map(lambda raw: b"\x01" + raw))
def test_arbitrary_version_1_bytes_are_refused_as_malformed_or_by_the_key_checks(raw: bytes) -> None:
    assert refused(bytes_payload(raw)) in OURS_BUT_BROKEN - {Reason.UNSUPPORTED_VERSION}


@given(tickets())
def test_any_valid_ticket_survives_encode_and_decode_unchanged(ticket: TicketBody) -> None:
    payload = encode(ticket, KEY)

    assert decode(payload, KEYSET) == ticket
    assert len(payload) == (172 if ticket.product in HOLDER_PRODUCTS else 148)


@settings(max_examples=40, deadline=None)  # each example decodes 768 or 896 flipped payloads
@given(tickets())
def test_every_single_bit_flip_of_a_valid_payload_is_refused_with_a_reason(ticket: TicketBody) -> None:
    reasons = {refused(flipped) for flipped in every_bit_flip(encode(ticket, KEY))}

    assert reasons <= OURS_BUT_BROKEN


def test_a_bit_flip_in_the_version_byte_is_an_unsupported_version() -> None:
    flips = every_bit_flip(SINGLE_PAYLOAD)[:8]

    assert {refused(flipped) for flipped in flips} == {Reason.UNSUPPORTED_VERSION}


def test_a_bit_flip_in_the_signature_is_a_bad_signature() -> None:
    flips = every_bit_flip(SINGLE_PAYLOAD)[32 * 8 :]

    assert {refused(flipped) for flipped in flips} == {Reason.BAD_SIGNATURE}


def test_a_bit_flip_in_the_key_id_is_an_unknown_key() -> None:
    flips = every_bit_flip(SINGLE_PAYLOAD)[8 : 3 * 8]

    assert {refused(flipped) for flipped in flips} == {Reason.UNKNOWN_KEY}
