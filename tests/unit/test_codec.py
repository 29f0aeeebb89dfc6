"""Ticket format v1: round trips, each refusal kept apart, input validation, QR size and keyset JSON."""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import base45
import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_M
from qrcode.util import MODE_ALPHA_NUM, MODE_NUMBER

from fare_rules.products import HOLDER_PRODUCTS, Product
from fare_rules.reasons import Reason
from validator.codec import (
    PRODUCT_CODES,
    SCHEME,
    SIGNING_CONTEXT,
    DecodeFailure,
    KeyEntry,
    TicketBody,
    decode,
    derive_key_id,
    encode,
    keyset_to_json,
    load_keyset,
    peek,
    private_key_from_bytes,
    private_key_to_bytes,
    public_key_from_bytes,
    public_key_to_bytes,
)

ICT = timezone(timedelta(hours=7))
NOW = datetime(2025, 3, 1, 8, 15, tzinfo=ICT)
KEY = private_key_from_bytes(bytes(range(32)))
KID = derive_key_id(KEY.public_key())
OTHER_KEY = private_key_from_bytes(bytes(range(1, 33)))
REVOKED_KEY = private_key_from_bytes(bytes(range(2, 34)))
REVOKED_KID = derive_key_id(REVOKED_KEY.public_key())
KEYSET = {
    KID: KeyEntry(KID, KEY.public_key()),
    REVOKED_KID: KeyEntry(REVOKED_KID, REVOKED_KEY.public_key(), revoked=True),
}
HOLDER = bytes(range(16))


def make_single(**changes: Any) -> TicketBody:
    body = TicketBody(
        key_id=KID,
        serial=123456789,
        product=Product.SINGLE,
        origin=1,
        destination=9,
        issued_at=NOW,
        valid_from=NOW,
        valid_until=NOW + timedelta(days=30),
        fare_vnd=16000,
    )
    return dataclasses.replace(body, **changes)


def make_pass(**changes: Any) -> TicketBody:
    defaults: dict[str, Any] = {
        "product": Product.MONTHLY,
        "origin": 0,
        "destination": 0,
        "holder_hash": HOLDER,
    }
    return make_single(fare_vnd=300000, **{**defaults, **changes})


def raw_of(payload: str) -> bytes:
    return bytes(base45.b45decode(payload[len(SCHEME) :]))


def payload_of(raw: bytes) -> str:
    digits: bytes = base45.b45encode(raw)
    return SCHEME + digits.decode("ascii")


def signed(body: bytes, key: Any = KEY) -> str:
    return payload_of(body + key.sign(SIGNING_CONTEXT + body))


def reason_of(result: TicketBody | DecodeFailure) -> Reason | None:
    return result.reason if isinstance(result, DecodeFailure) else None


# --- round trips --------------------------------------------------------------------------------------------


def test_a_single_ticket_survives_encode_and_decode_unchanged() -> None:
    ticket = make_single()

    assert decode(encode(ticket, KEY), KEYSET) == ticket


def test_a_pass_keeps_its_holder_hash_through_encode_and_decode() -> None:
    monthly = make_pass()

    decoded = decode(encode(monthly, KEY), KEYSET)

    assert decoded == monthly
    assert isinstance(decoded, TicketBody)
    assert decoded.holder_hash == HOLDER


@pytest.mark.parametrize("product", list(Product))
def test_every_product_has_a_wire_code_and_round_trips(product: Product) -> None:
    holder = HOLDER if product in HOLDER_PRODUCTS else None
    ticket = make_single(product=product, holder_hash=holder)

    assert decode(encode(ticket, KEY), KEYSET) == ticket


def test_the_product_codes_are_the_published_ones() -> None:
    assert dict(PRODUCT_CODES) == {
        Product.SINGLE: 1,
        Product.DAY: 2,
        Product.THREE_DAY: 3,
        Product.MONTHLY: 4,
        Product.MONTHLY_STUDENT: 5,
        Product.FREE_PRIORITY: 6,
    }


def test_decoded_times_are_utc_and_the_same_instants_that_were_signed() -> None:
    decoded = decode(encode(make_single(), KEY), KEYSET)

    assert isinstance(decoded, TicketBody)
    assert decoded.issued_at.utcoffset() == timedelta(0)
    assert decoded.issued_at == NOW


def test_the_largest_values_each_field_holds_round_trip() -> None:
    end = datetime(2106, 2, 7, 6, 28, 15, tzinfo=UTC)  # 2**32 - 1 seconds
    ticket = make_single(
        serial=2**64 - 1, origin=65535, destination=65535, issued_at=end, valid_from=end, valid_until=end
    )
    ticket = dataclasses.replace(ticket, fare_vnd=2**32 - 1)

    assert decode(encode(ticket, KEY), KEYSET) == ticket


def test_encoding_is_deterministic() -> None:
    assert encode(make_pass(), KEY) == encode(make_pass(), KEY)


def test_a_payload_is_the_scheme_then_base45_of_a_96_byte_single_or_112_byte_pass() -> None:
    single, monthly = encode(make_single(), KEY), encode(make_pass(), KEY)

    assert single.startswith(SCHEME)
    assert (len(raw_of(single)), len(raw_of(monthly))) == (96, 112)
    assert (len(single), len(monthly)) == (148, 172)


# --- QR size ------------------------------------------------------------------------------------------------


def qr_for(text: str) -> qrcode.QRCode:
    qr = qrcode.QRCode(version=None, error_correction=ERROR_CORRECT_M)
    qr.add_data(text)
    qr.make(fit=True)
    return qr


@pytest.mark.parametrize(
    ("ticket", "max_version"),
    [(make_single(), 7), (make_pass(), 8), (make_pass(product=Product.FREE_PRIORITY), 8)],
    ids=["single", "monthly", "free_priority"],
)
def test_a_ticket_fits_its_qr_version_at_ecc_m_in_alphanumeric_mode(
    ticket: TicketBody, max_version: int
) -> None:
    qr = qr_for(encode(ticket, KEY))

    assert qr.version <= max_version
    assert {chunk.mode for chunk in qr.data_list} <= {MODE_ALPHA_NUM, MODE_NUMBER}, "fell back to byte mode"


# --- refusals -----------------------------------------------------------------------------------------------

SINGLE_RAW = raw_of(encode(make_single(), KEY))
BODY, SIGNATURE = SINGLE_RAW[:32], SINGLE_RAW[32:]


def _replace(raw: bytes, offset: int, value: bytes) -> bytes:
    return raw[:offset] + value + raw[offset + len(value) :]


REFUSALS: list[tuple[str, Callable[[], str], Reason]] = [
    ("empty", lambda: "", Reason.NOT_OUR_CODE),
    ("other scheme", lambda: "HC1:NCFOXN%TS3DH", Reason.NOT_OUR_CODE),
    ("web address", lambda: "https://example.com/ticket/1", Reason.NOT_OUR_CODE),
    ("prefix inside the text", lambda: "X" + encode(make_single(), KEY), Reason.NOT_OUR_CODE),
    ("non-ASCII prefix", lambda: "ＭQR:ABC", Reason.NOT_OUR_CODE),
    ("prefix only", lambda: SCHEME, Reason.MALFORMED),
    ("bad Base45 digit", lambda: SCHEME + "AB#", Reason.MALFORMED),
    ("Base45 overflow", lambda: SCHEME + ":::", Reason.MALFORMED),
    ("non-ASCII digit", lambda: SCHEME + "ÀBC", Reason.MALFORMED),
    ("far too long", lambda: SCHEME + "000" * 200, Reason.MALFORMED),
    ("truncated header", lambda: payload_of(SINGLE_RAW[:20]), Reason.TRUNCATED),
    ("truncated signature", lambda: payload_of(SINGLE_RAW[:-1]), Reason.TRUNCATED),
    ("trailing byte", lambda: payload_of(SINGLE_RAW + b"\x00"), Reason.MALFORMED),
    ("unknown product", lambda: signed(_replace(BODY, 11, b"\x00")), Reason.MALFORMED),
    ("holder hash on a single", lambda: signed(BODY + HOLDER), Reason.MALFORMED),
    ("pass without holder hash", lambda: signed(_replace(BODY, 11, b"\x04")), Reason.TRUNCATED),
    ("valid_until before valid_from", lambda: signed(_replace(BODY, 24, b"\x00" * 4)), Reason.MALFORMED),
    ("version 2", lambda: signed(_replace(BODY, 0, b"\x02")), Reason.UNSUPPORTED_VERSION),
    ("version 2 and short", lambda: payload_of(b"\x02\x00"), Reason.UNSUPPORTED_VERSION),
    ("unknown key", lambda: encode(make_single(key_id=KID ^ 1), OTHER_KEY), Reason.UNKNOWN_KEY),
    ("revoked key", lambda: encode(make_single(key_id=REVOKED_KID), REVOKED_KEY), Reason.KEY_REVOKED),
    ("signed by another key", lambda: encode(make_single(), OTHER_KEY), Reason.BAD_SIGNATURE),
    (
        "body altered",
        lambda: payload_of(_replace(BODY, 28, b"\x00\x01\x00\x00") + SIGNATURE),
        Reason.BAD_SIGNATURE,
    ),
    ("signature zeroed", lambda: payload_of(BODY + bytes(64)), Reason.BAD_SIGNATURE),
    ("no domain prefix", lambda: payload_of(BODY + KEY.sign(BODY)), Reason.BAD_SIGNATURE),
]


@pytest.mark.parametrize(("make_text", "reason"), [r[1:] for r in REFUSALS], ids=[r[0] for r in REFUSALS])
def test_each_kind_of_bad_code_is_refused_with_its_own_reason(
    make_text: Callable[[], str], reason: Reason
) -> None:
    assert reason_of(decode(make_text(), KEYSET)) == reason


def test_something_that_is_not_text_is_not_our_code() -> None:
    assert reason_of(decode(b"MQR:", KEYSET)) == Reason.NOT_OUR_CODE  # type: ignore[arg-type]


def test_a_malformed_body_is_reported_before_its_unknown_key() -> None:
    text = signed(_replace(_replace(BODY, 1, (KID ^ 1).to_bytes(2, "big")), 11, b"\x09"), OTHER_KEY)

    assert reason_of(decode(text, KEYSET)) == Reason.MALFORMED


def test_an_unknown_key_is_reported_before_the_signature_is_checked() -> None:
    text = payload_of(_replace(BODY, 1, (KID ^ 1).to_bytes(2, "big")) + bytes(64))

    assert reason_of(decode(text, KEYSET)) == Reason.UNKNOWN_KEY


def test_a_revoked_key_is_refused_even_with_a_valid_signature() -> None:
    text = encode(make_single(key_id=REVOKED_KID), REVOKED_KEY)

    assert reason_of(decode(text, KEYSET)) == Reason.KEY_REVOKED
    assert isinstance(
        decode(text, {REVOKED_KID: KeyEntry(REVOKED_KID, REVOKED_KEY.public_key())}), TicketBody
    )


def test_an_empty_keyset_knows_no_key() -> None:
    assert reason_of(decode(encode(make_single(), KEY), {})) == Reason.UNKNOWN_KEY


def test_a_failure_says_what_was_wrong_for_the_log() -> None:
    failure = decode(payload_of(SINGLE_RAW + b"\x00"), KEYSET)

    assert isinstance(failure, DecodeFailure)
    assert "97 bytes" in failure.detail


# --- what a scanner types -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "\n",
        lambda t: t + "\r\n",
        lambda t: "\t" + t + " \r\n",
        lambda t: t.lower(),
        lambda t: "mqr:" + t[4:],
    ],
    ids=["newline", "carriage return", "surrounding blanks", "lowercase", "lowercase prefix"],
)
def test_what_a_keyboard_wedge_scanner_adds_or_inverts_is_tolerated(mangle: Callable[[str], str]) -> None:
    ticket = make_pass()

    assert decode(mangle(encode(ticket, KEY)), KEYSET) == ticket


def test_a_space_inside_the_base45_text_is_a_digit_and_is_kept() -> None:
    # Find a serial whose payload has an inner space; Base45 digit 36 is a space.
    ticket = next(t for t in (make_single(serial=s) for s in range(500)) if " " in encode(t, KEY)[4:])

    assert decode(encode(ticket, KEY), KEYSET) == ticket


# --- peek ---------------------------------------------------------------------------------------------------


def test_peek_reads_the_fields_without_a_keyset() -> None:
    assert peek(encode(make_pass(), KEY)) == make_pass()


def test_peek_shows_a_forged_code_as_it_is_because_it_does_not_verify() -> None:
    forged = encode(make_single(fare_vnd=1), OTHER_KEY)

    assert reason_of(decode(forged, KEYSET)) == Reason.BAD_SIGNATURE
    assert peek(forged) == make_single(fare_vnd=1)


BEFORE_THE_KEY = [
    r for r in REFUSALS if r[2] not in {Reason.UNKNOWN_KEY, Reason.KEY_REVOKED, Reason.BAD_SIGNATURE}
]


@pytest.mark.parametrize(
    ("make_text", "reason"), [r[1:] for r in BEFORE_THE_KEY], ids=[r[0] for r in BEFORE_THE_KEY]
)
def test_peek_refuses_what_decode_refuses_before_the_key_check(
    make_text: Callable[[], str], reason: Reason
) -> None:
    assert reason_of(peek(make_text())) == reason


# --- encode refuses programming errors ----------------------------------------------------------------------

BAD_FIELDS: list[tuple[str, dict[str, Any]]] = [
    ("naive datetime", {"issued_at": datetime(2025, 3, 1, 8, 15)}),
    ("sub-second datetime", {"valid_from": NOW.replace(microsecond=1)}),
    ("before 1970", {"issued_at": datetime(1969, 12, 31, tzinfo=UTC)}),
    ("after 2106", {"valid_until": datetime(2106, 2, 7, 6, 28, 16, tzinfo=UTC)}),
    ("valid_until before valid_from", {"valid_until": NOW - timedelta(seconds=1)}),
    ("key id too large", {"key_id": 65536}),
    ("negative serial", {"serial": -1}),
    ("serial too large", {"serial": 2**64}),
    ("bool serial", {"serial": True}),
    ("float fare", {"fare_vnd": 9000.0}),
    ("station too large", {"origin": 65536}),
    ("fare too large", {"fare_vnd": 2**32}),
    ("holder hash on a single", {"holder_hash": HOLDER}),
    ("product as a plain string", {"product": "single"}),
]


@pytest.mark.parametrize("changes", [c for _, c in BAD_FIELDS], ids=[n for n, _ in BAD_FIELDS])
def test_encode_refuses_fields_that_do_not_fit_the_format(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        encode(make_single(**changes), KEY)


@pytest.mark.parametrize("holder_hash", [None, b"", HOLDER[:15], HOLDER + b"\x00", "0" * 16])
def test_encode_refuses_a_holder_linked_pass_without_a_16_byte_holder_hash(holder_hash: object) -> None:
    with pytest.raises(ValueError, match="holder hash"):
        encode(make_pass(holder_hash=holder_hash), KEY)


# --- keys and keyset JSON -----------------------------------------------------------------------------------


def test_raw_key_bytes_round_trip() -> None:
    seed = private_key_to_bytes(KEY)
    public = public_key_to_bytes(KEY.public_key())

    assert seed == bytes(range(32))
    assert public_key_to_bytes(private_key_from_bytes(seed).public_key()) == public
    assert public_key_to_bytes(public_key_from_bytes(public)) == public


def test_a_key_id_is_two_bytes_of_a_hash_of_the_public_key() -> None:
    assert 0 <= KID < 65536
    assert derive_key_id(public_key_from_bytes(public_key_to_bytes(KEY.public_key()))) == KID
    assert derive_key_id(OTHER_KEY.public_key()) != KID


def test_a_keyset_survives_its_json_form() -> None:
    keyset = {**KEYSET, 7: KeyEntry(7, OTHER_KEY.public_key(), not_after=datetime(2026, 1, 1, tzinfo=UTC))}

    loaded = load_keyset(keyset_to_json(keyset))

    assert keyset_to_json(loaded) == keyset_to_json(keyset)
    assert loaded[REVOKED_KID].revoked
    assert loaded[7].not_after == datetime(2026, 1, 1, tzinfo=UTC)


def test_a_naive_not_after_is_refused_at_the_issuer_rather_than_by_every_gate() -> None:
    naive = KeyEntry(KID, KEY.public_key(), not_after=datetime(2026, 1, 1))

    with pytest.raises(ValueError, match="not_after"):
        keyset_to_json({KID: naive})


def test_a_published_not_after_is_utc() -> None:
    entry = KeyEntry(KID, KEY.public_key(), not_after=datetime(2026, 1, 1, 7, tzinfo=ICT))

    assert keyset_to_json({KID: entry})["keys"][0]["not_after"] == "2026-01-01T00:00:00+00:00"


def test_a_loaded_keyset_verifies_tickets() -> None:
    loaded = load_keyset(keyset_to_json(KEYSET))

    assert decode(encode(make_single(), KEY), loaded) == make_single()


def test_the_published_key_is_unpadded_base64url_of_the_raw_32_bytes() -> None:
    (entry,) = keyset_to_json({KID: KEYSET[KID]})["keys"]

    assert entry == {
        "kid": KID,
        "alg": "Ed25519",
        "public_key": base64.urlsafe_b64encode(public_key_to_bytes(KEY.public_key())).decode().rstrip("="),
        "not_before": None,
        "not_after": None,
        "revoked": False,
    }


def _published(**changes: Any) -> dict[str, Any]:
    (entry,) = keyset_to_json({KID: KEYSET[KID]})["keys"]
    return {"keys": [{**entry, **changes}]}


def test_a_padded_public_key_and_absent_optional_fields_are_accepted() -> None:
    entry = _published()["keys"][0]
    minimal = {"kid": KID, "alg": "Ed25519", "public_key": entry["public_key"] + "="}

    assert load_keyset({"keys": [minimal]})[KID].revoked is False


def test_a_key_of_an_unknown_algorithm_is_skipped_so_a_future_one_can_be_published() -> None:
    obj = {"keys": [*_published()["keys"], {"kid": 9, "alg": "ML-DSA-44", "public_key": "AAAA"}]}

    assert set(load_keyset(obj)) == {KID}


BAD_KEYSETS: list[tuple[str, object]] = [
    ("not an object", []),
    ("no keys list", {"keys": {}}),
    ("key not an object", {"keys": ["x"]}),
    ("no alg", {"keys": [{"kid": 1}]}),
    ("kid too large", _published(kid=65536)),
    ("kid a string", _published(kid="1")),
    ("kid a bool", _published(kid=True)),
    ("public key not base64url", _published(public_key="A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg")),
    ("public key 31 bytes", _published(public_key=base64.urlsafe_b64encode(bytes(31)).decode())),
    ("public key bad padding", _published(public_key="A")),
    ("revoked not a bool", _published(revoked="false")),
    ("naive not_after", _published(not_after="2026-01-01T00:00:00")),
    ("not_after not a date", _published(not_after="soon")),
    ("not_after a number", _published(not_after=1767225600)),
    ("duplicate kid", {"keys": _published()["keys"] * 2}),
]


@pytest.mark.parametrize("obj", [o for _, o in BAD_KEYSETS], ids=[n for n, _ in BAD_KEYSETS])
def test_a_malformed_published_keyset_is_refused_with_value_error(obj: object) -> None:
    with pytest.raises(ValueError, match=r"."):
        load_keyset(obj)
