import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from pyzbar import pyzbar

from ticketing.qr_images import render_png
from validator.vietqr import (
    InvalidEMVPayload,
    build_vietqr_payload,
    crc16_ccitt,
    parse_emv,
    parse_tlv,
)

# The example payload printed in the EMVCo QRCPS Merchant-Presented Mode specification: it has a template 64
# in Chinese (lengths count characters, the CRC covers UTF-8 bytes) and the CRC A13A.
EMVCO_SPEC_EXAMPLE = (
    "00020101021229300012D156000000000510A93FO3230Q31280012D15600000001030812345678520441115802CN"
    "5914BEST TRANSPORT6007BEIJING64200002ZH0104最佳运输0202北京540523.7253031565502016233030412340603***"
    "0708A60086670902ME91320016A0112233449988770708123456786304A13A"
)

ALNUM = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", min_size=1)


def bitwise_crc16_ccitt_false(data: bytes) -> int:
    """The CRC written out from its definition, to check the fast one against."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def make_payload(
    bank_bin: str = "970436",
    account: str = "0011001234567",
    amount_vnd: int = 20_000,
    reference: str = "MQR8F3K2Q",
    merchant_name: str | None = None,
) -> str:
    return build_vietqr_payload(bank_bin, account, amount_vnd, reference, merchant_name)


def test_the_crc_of_the_standard_check_string_is_29b1() -> None:
    assert crc16_ccitt(b"123456789") == 0x29B1


def test_the_crc_of_nothing_is_its_initial_value() -> None:
    assert crc16_ccitt(b"") == 0xFFFF


@given(st.binary(max_size=300))
def test_the_crc_agrees_with_its_bitwise_definition(data: bytes) -> None:
    assert crc16_ccitt(data) == bitwise_crc16_ccitt_false(data)


def test_the_example_from_the_emvco_specification_parses_with_its_crc() -> None:
    fields = parse_emv(EMVCO_SPEC_EXAMPLE)

    assert fields["59"] == "BEST TRANSPORT"
    assert fields["54"] == "23.72"
    assert parse_tlv(fields["64"]) == {"00": "ZH", "01": "最佳运输", "02": "北京"}
    assert fields["63"] == "A13A"


def test_a_payload_is_exactly_the_vietqr_fields_in_order_with_their_crc() -> None:
    body = (
        "000201"
        "010212"
        "3857" + "0010A000000727" + "0127" + "0006970436" + "01130011001234567" + "0208QRIBFTTA"
        "5303704"
        "540520000"
        "5802VN"
        "5909METRO HCM"
        "6213" + "0809MQR8F3K2Q"
        "6304"
    )

    payload = make_payload(merchant_name="METRO HCM")

    assert payload == body + f"{bitwise_crc16_ccitt_false(body.encode()):04X}"


def test_a_payload_reads_back_as_a_transfer_to_the_account_with_the_reference() -> None:
    fields = parse_emv(make_payload(amount_vnd=15_000, reference="ORD42"))

    merchant_account = parse_tlv(fields["38"])
    assert merchant_account["00"] == "A000000727"
    assert parse_tlv(merchant_account["01"]) == {"00": "970436", "01": "0011001234567"}
    assert merchant_account["02"] == "QRIBFTTA"
    assert (fields["01"], fields["53"], fields["54"], fields["58"]) == ("12", "704", "15000", "VN")
    assert parse_tlv(fields["62"]) == {"08": "ORD42"}
    assert "59" not in fields


@given(
    bank_bin=st.from_regex(r"[0-9]{6}", fullmatch=True),
    account=ALNUM.filter(lambda text: len(text) <= 19),
    amount_vnd=st.integers(min_value=1, max_value=10**13 - 1),
    reference=ALNUM.filter(lambda text: len(text) <= 25),
    merchant_name=st.none()
    | st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1),
)
def test_any_valid_order_round_trips_through_build_and_parse(
    bank_bin: str, account: str, amount_vnd: int, reference: str, merchant_name: str | None
) -> None:
    if merchant_name is not None:
        merchant_name = merchant_name[:25]

    fields = parse_emv(build_vietqr_payload(bank_bin, account, amount_vnd, reference, merchant_name))

    beneficiary = parse_tlv(parse_tlv(fields["38"])["01"])
    assert (beneficiary["00"], beneficiary["01"]) == (bank_bin, account)
    assert int(fields["54"]) == amount_vnd
    assert parse_tlv(fields["62"])["08"] == reference
    assert fields.get("59") == merchant_name


def test_changing_any_single_character_is_detected() -> None:
    payload = make_payload()

    for position, character in enumerate(payload):
        altered = payload[:position] + ("1" if character == "0" else "0") + payload[position + 1 :]
        with pytest.raises(InvalidEMVPayload):
            parse_emv(altered)


@pytest.mark.parametrize(
    ("payload", "complaint"),
    [
        ("", "empty"),
        ("000", "two-digit"),
        ("0002016304", "field 63"),
        ("0002010102126304ZZZZ", "4 hex digits"),
        ("000201010212630400005802VN", "must end with the CRC"),
        ("000202010212", "payload format indicator"),
        ("5802VN000201", "payload format indicator"),
        ("0002010A0212", "two-digit"),
        ("000201000201", "twice"),
        ("0002010100", "declares 0"),
        ("00020101051", "declares 5"),
    ],
)
def test_a_malformed_payload_is_refused_with_the_reason(payload: str, complaint: str) -> None:
    with pytest.raises(InvalidEMVPayload, match=complaint):
        parse_emv(payload)


def test_a_wrong_crc_is_refused_naming_both_values() -> None:
    payload = make_payload()
    wrong = f"{(int(payload[-4:], 16) + 1) % 0x10000:04X}"

    with pytest.raises(InvalidEMVPayload, match=f"carries {wrong}, its content gives {payload[-4:]}"):
        parse_emv(payload[:-4] + wrong)


def test_a_lowercase_crc_from_another_generator_is_accepted() -> None:
    payload = make_payload(reference="ABCDEF12")  # CRC FC05: a lowercase copy differs

    assert parse_emv(payload[:-4] + payload[-4:].lower())["62"] == "0808ABCDEF12"


@pytest.mark.parametrize(
    "arguments",
    [
        {"bank_bin": "97043"},
        {"bank_bin": "9704360"},
        {"bank_bin": "97043A"},
        {"bank_bin": "９７０４３６"},
        {"account": ""},
        {"account": "0" * 20},
        {"account": "0011-0012"},
        {"amount_vnd": 0},
        {"amount_vnd": -5},
        {"amount_vnd": 10**13},
        {"amount_vnd": True},
        {"amount_vnd": 20_000.0},
        {"reference": ""},
        {"reference": "A" * 26},
        {"reference": "ORD 42"},
        {"reference": "ĐƠN42"},
        {"merchant_name": ""},
        {"merchant_name": "M" * 26},
        {"merchant_name": "Đường sắt"},
    ],
)
def test_an_input_that_cannot_make_a_valid_payload_is_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="must be"):
        make_payload(**arguments)  # type: ignore[arg-type]


def test_a_rendered_payload_scans_back_to_the_same_text() -> None:
    payload = make_payload(merchant_name="METRO LINE 1")

    symbols = pyzbar.decode(Image.open(io.BytesIO(render_png(payload))))

    assert [symbol.data.decode() for symbol in symbols] == [payload]
    assert parse_emv(symbols[0].data.decode())["59"] == "METRO LINE 1"
