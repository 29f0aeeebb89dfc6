"""The CCCD number, the 2021 card QR, the holder hash and the mask. Every number here is fabricated."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Callable
from datetime import date

import pytest

from fare_rules.cccd import (
    PROVINCES,
    CccdCard,
    CccdError,
    CccdErrorCode,
    holder_hash,
    mask,
    mask_numbers,
    parse_card_qr,
    validate_number,
)

# The fabricated example of domain.md: no real person.
EXAMPLE_NUMBER = "079303001234"
EXAMPLE_QR = (
    "079303001234|025123456|Nguyễn Thị Mẫu|15062003|Nữ|"
    "12 Đường Số 1, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh|20042021"
)
KEY = b"k" * 16


def make_number(province: str = "079", century_sex: int = 3, year: str = "03", tail: str = "001234") -> str:
    """A number built by rule: province, century+sex digit, two year digits, six random digits."""
    return f"{province}{century_sex}{year}{tail}"


def make_qr(
    number: str = EXAMPLE_NUMBER,
    old_id: str = "025123456",
    name: str = "Nguyễn Thị Mẫu",
    birth: str = "15062003",
    sex: str = "Nữ",
    address: str = "12 Đường Số 1, Quận 1, TP. Hồ Chí Minh",
    issue: str = "20042021",
) -> str:
    return "|".join([number, old_id, name, birth, sex, address, issue])


def refusal(call: Callable[[], object]) -> CccdError:
    with pytest.raises(CccdError) as caught:
        call()
    return caught.value


# validate_number


def test_a_valid_number_is_returned_unchanged() -> None:
    assert validate_number(EXAMPLE_NUMBER) == EXAMPLE_NUMBER


@pytest.mark.parametrize(
    "typed", ["079 303 001 234", " 079303001234 ", "079303001234\r\n", "\t0793 0300 1234\n"]
)
def test_spaces_and_surrounding_whitespace_are_removed(typed: str) -> None:
    assert validate_number(typed) == EXAMPLE_NUMBER


@pytest.mark.parametrize(
    "number",
    [
        pytest.param("", id="empty"),
        pytest.param("07930300123", id="11 digits"),
        pytest.param("0793030012345", id="13 digits"),
        pytest.param("07930300123A", id="a letter"),
        pytest.param("079-303-001-234", id="dashes"),
        pytest.param("+79303001234", id="a sign"),
        pytest.param("０７９３０３００１２３４", id="fullwidth digits"),
        pytest.param("٠٧٩٣٠٣٠٠١٢٣٤", id="arabic-indic digits"),
        pytest.param("079303\n001234", id="a newline inside"),
    ],
)
def test_anything_but_twelve_ascii_digits_is_refused_as_format(number: str) -> None:
    assert refusal(lambda: validate_number(number)).code == "format"


@pytest.mark.parametrize("province", ["000", "003", "005", "078", "081", "097", "099", "999"])
def test_a_code_that_is_no_province_is_refused_as_province(province: str) -> None:
    assert refusal(lambda: validate_number(make_number(province=province))).code == "province"


def test_the_province_table_holds_the_63_birth_registration_codes() -> None:
    assert len(PROVINCES) == 63
    assert all(len(code) == 3 and code.isdigit() for code in PROVINCES)
    assert (min(PROVINCES), max(PROVINCES)) == ("001", "096")
    assert PROVINCES["001"] == "Hà Nội"
    assert PROVINCES["079"] == "TP. Hồ Chí Minh"
    assert PROVINCES["096"] == "Cà Mau"
    assert all(unicodedata.is_normalized("NFC", name) for name in PROVINCES.values())


def test_every_province_in_the_table_is_accepted() -> None:
    for code in PROVINCES:
        assert validate_number(make_number(province=code)) == make_number(province=code)


@pytest.mark.parametrize(
    ("digit", "birth_year", "sex"),
    [
        (0, 1900, "Nam"),
        (1, 1900, "Nữ"),
        (2, 2000, "Nam"),
        (3, 2000, "Nữ"),
        (4, 2100, "Nam"),
        (5, 2100, "Nữ"),
        (6, 2200, "Nam"),
        (7, 2200, "Nữ"),
        (8, 2300, "Nam"),
        (9, 2300, "Nữ"),
    ],
)
def test_digit_four_encodes_the_century_and_the_sex(digit: int, birth_year: int, sex: str) -> None:
    number = make_number(century_sex=digit, year="45")
    born = date(birth_year + 45, 7, 1)

    assert validate_number(number, birth_date=born, sex=sex) == number
    other_sex = "Nữ" if sex == "Nam" else "Nam"
    assert refusal(lambda: validate_number(number, sex=other_sex)).code == "sex_mismatch"
    assert refusal(lambda: validate_number(number, birth_date=born.replace(year=born.year + 100))).code == (
        "birth_year_mismatch"
    )


@pytest.mark.parametrize(
    ("number", "born"),
    [
        pytest.param(make_number(century_sex=3, year="03"), date(2004, 6, 15), id="year digits off by one"),
        pytest.param(make_number(century_sex=1, year="03"), date(2003, 6, 15), id="1900s digit, born 2003"),
        pytest.param(make_number(century_sex=3, year="03"), date(1903, 6, 15), id="2000s digit, born 1903"),
        pytest.param(make_number(century_sex=1, year="99"), date(1899, 12, 31), id="born before 1900"),
        pytest.param(make_number(century_sex=9, year="00"), date(2400, 1, 1), id="born after 2399"),
    ],
)
def test_digits_four_to_six_that_disagree_with_the_birth_date_are_refused(number: str, born: date) -> None:
    assert refusal(lambda: validate_number(number, birth_date=born)).code == "birth_year_mismatch"


@pytest.mark.parametrize(
    ("century_sex", "sex"), [(0, "Nữ"), (1, "Nam"), (2, "Nữ"), (3, "Nam"), (8, "Nữ"), (9, "Nam")]
)
def test_a_sex_digit_of_the_wrong_parity_is_refused(century_sex: int, sex: str) -> None:
    number = make_number(century_sex=century_sex)
    assert refusal(lambda: validate_number(number, sex=sex)).code == "sex_mismatch"


def test_a_decomposed_nu_is_accepted_as_the_sex() -> None:
    nfd = unicodedata.normalize("NFD", "Nữ")
    assert nfd != "Nữ"
    assert validate_number(EXAMPLE_NUMBER, sex=nfd) == EXAMPLE_NUMBER


@pytest.mark.parametrize("sex", ["", "F", "male", "nu", "NAM", "Nu"])
def test_a_sex_other_than_nam_or_nu_is_refused_as_sex(sex: str) -> None:
    assert refusal(lambda: validate_number(EXAMPLE_NUMBER, sex=sex)).code == "sex"


def test_format_and_province_are_checked_before_the_birth_date() -> None:
    born = date(1990, 1, 1)
    assert refusal(lambda: validate_number("123", birth_date=born)).code == "format"
    assert refusal(lambda: validate_number(make_number(province="000"), birth_date=born)).code == "province"


# parse_card_qr


def test_the_example_card_qr_is_parsed_into_its_fields() -> None:
    card = parse_card_qr(EXAMPLE_QR)

    assert card == CccdCard(
        number=EXAMPLE_NUMBER,
        old_id="025123456",
        full_name="Nguyễn Thị Mẫu",
        birth_date=date(2003, 6, 15),
        sex="Nữ",
        address="12 Đường Số 1, Phường Bến Thành, Quận 1, TP. Hồ Chí Minh",
        issue_date=date(2021, 4, 20),
    )


def test_an_empty_old_id_becomes_none() -> None:
    assert parse_card_qr(make_qr(old_id="")).old_id is None


def test_a_twelve_digit_old_cmnd_is_kept() -> None:
    assert parse_card_qr(make_qr(old_id="025123456789")).old_id == "025123456789"


@pytest.mark.parametrize(
    "suffix",
    ["|", "||", "|extra", "|extra|more|", "|0|1|2|3|4|5|6|7"],
    ids=["one empty", "two", "a", "b", "c"],
)
def test_trailing_fields_are_ignored(suffix: str) -> None:
    assert parse_card_qr(make_qr() + suffix) == parse_card_qr(make_qr())


@pytest.mark.parametrize(
    "wrapped", [f"{EXAMPLE_QR}\r\n", f"{EXAMPLE_QR}\n", f"  {EXAMPLE_QR}\t", f"\r\n{EXAMPLE_QR}\r"]
)
def test_whitespace_a_keyboard_wedge_scanner_adds_is_ignored(wrapped: str) -> None:
    assert parse_card_qr(wrapped) == parse_card_qr(EXAMPLE_QR)


def test_a_decomposed_name_and_sex_are_normalised_to_nfc() -> None:
    nfd = unicodedata.normalize("NFD", EXAMPLE_QR)
    assert nfd != EXAMPLE_QR

    card = parse_card_qr(nfd)

    assert card == parse_card_qr(EXAMPLE_QR)
    assert unicodedata.is_normalized("NFC", card.full_name)
    assert card.sex == "Nữ"


def test_spaces_inside_the_name_are_collapsed() -> None:
    assert parse_card_qr(make_qr(name="  Nguyễn   Thị  Mẫu ")).full_name == "Nguyễn Thị Mẫu"


def test_a_male_card_of_the_1900s_is_parsed() -> None:
    number = make_number(province="001", century_sex=0, year="85", tail="000111")

    card = parse_card_qr(make_qr(number=number, name="Trần Văn Mẫu", birth="01011985", sex="Nam"))

    assert (card.number, card.sex, card.birth_date) == (number, "Nam", date(1985, 1, 1))


@pytest.mark.parametrize(
    ("text", "code"),
    [
        pytest.param("", "not_cccd", id="empty"),
        pytest.param("   \r\n", "not_cccd", id="whitespace only"),
        pytest.param(EXAMPLE_NUMBER, "not_cccd", id="a bare number"),
        pytest.param("MQR1:6BFOXN*TS0BI$ZD", "not_cccd", id="a ticket payload"),
        pytest.param("https://example.invalid/?id=1", "not_cccd", id="a url"),
        pytest.param("|", "field_count", id="two empty fields"),
        pytest.param(make_qr().rsplit("|", 1)[0], "field_count", id="six fields"),
        pytest.param(make_qr(number="07930300123"), "format", id="short number"),
        pytest.param(make_qr(number=""), "format", id="empty number"),
        pytest.param(make_qr(number=make_number(province="097")), "province", id="no such province"),
        pytest.param(make_qr(old_id="12345"), "old_id", id="old id of 5 digits"),
        pytest.param(make_qr(old_id="02512345X"), "old_id", id="old id with a letter"),
        pytest.param(make_qr(name=""), "name", id="empty name"),
        pytest.param(make_qr(name="   "), "name", id="blank name"),
        pytest.param(make_qr(birth="2003-06-15"), "date", id="iso birth date"),
        pytest.param(make_qr(birth="1562003"), "date", id="seven digit birth date"),
        pytest.param(make_qr(birth="31022003"), "date", id="31 February"),
        pytest.param(make_qr(birth="15132003"), "date", id="month 13"),
        pytest.param(make_qr(birth="00000000"), "date", id="all zeros"),
        pytest.param(make_qr(issue=""), "date", id="empty issue date"),
        pytest.param(make_qr(issue="14062003"), "date", id="issued before birth"),
        pytest.param(make_qr(sex="F"), "sex", id="sex F"),
        pytest.param(make_qr(sex=""), "sex", id="empty sex"),
        pytest.param(make_qr(birth="15062004"), "birth_year_mismatch", id="card birth year differs"),
        pytest.param(make_qr(sex="Nam"), "sex_mismatch", id="card sex differs"),
    ],
)
def test_a_qr_that_is_not_a_valid_2021_card_is_refused_with_its_code(text: str, code: str) -> None:
    error = refusal(lambda: parse_card_qr(text))

    assert error.code == code
    assert error.code in set(CccdErrorCode)


@pytest.mark.parametrize(
    "text",
    [
        make_qr(old_id="12345"),
        make_qr(name=""),
        make_qr(birth="31022003"),
        make_qr(issue="14062003"),
        make_qr(sex="F"),
        make_qr(birth="15062004"),
        make_qr(sex="Nam"),
        make_qr()[:-3],  # a truncated issue date
        "|".join([EXAMPLE_NUMBER] * 6),  # the number in every field
        EXAMPLE_NUMBER + "0|x|y|01012000|Nam|a|01012020",  # 13 digits
        EXAMPLE_NUMBER.replace("0", "O", 1) + "|x|y|01012000|Nam|a|01012020",
    ],
)
def test_a_refusal_never_carries_the_number_in_full(text: str) -> None:
    error = refusal(lambda: parse_card_qr(text))

    for shown in (str(error), repr(error), error.detail, str(error.args)):
        assert EXAMPLE_NUMBER not in shown
        assert "303001234" not in shown
    assert error.__cause__ is None


def test_a_card_shows_only_the_masked_number_when_printed() -> None:
    card = parse_card_qr(EXAMPLE_QR)

    for shown in (repr(card), str(card), f"{card}", f"{card!r}", f"{[card]}"):
        assert EXAMPLE_NUMBER not in shown
        assert "0793******34" in shown


# holder_hash


def test_the_holder_hash_is_a_truncated_hmac_sha256_of_the_number() -> None:
    expected = hmac.new(KEY, EXAMPLE_NUMBER.encode(), hashlib.sha256).digest()[:16]

    assert holder_hash(EXAMPLE_NUMBER, KEY) == expected
    assert len(expected) == 16


def test_the_holder_hash_is_the_same_however_the_number_was_typed() -> None:
    assert holder_hash("079 303 001 234\r\n", KEY) == holder_hash(EXAMPLE_NUMBER, KEY)


def test_the_holder_hash_depends_on_the_key_and_the_number() -> None:
    other_number = make_number(tail="001235")

    assert holder_hash(EXAMPLE_NUMBER, KEY) != holder_hash(EXAMPLE_NUMBER, b"j" * 16)
    assert holder_hash(EXAMPLE_NUMBER, KEY) != holder_hash(other_number, KEY)


@pytest.mark.parametrize("key", [b"", b"short", b"k" * 15])
def test_a_key_shorter_than_16_bytes_is_refused(key: bytes) -> None:
    with pytest.raises(ValueError, match="at least 16 bytes") as caught:
        holder_hash(EXAMPLE_NUMBER, key)
    assert not isinstance(caught.value, CccdError)


@pytest.mark.parametrize(("number", "code"), [("07930300123", "format"), (make_number("000"), "province")])
def test_an_invalid_number_is_never_hashed(number: str, code: str) -> None:
    assert refusal(lambda: holder_hash(number, KEY)).code == code


# mask


def test_a_number_is_masked_to_its_first_four_and_last_two_digits() -> None:
    assert mask(EXAMPLE_NUMBER) == "0793******34"


def test_a_number_typed_with_spaces_is_masked_like_the_number() -> None:
    assert mask(" 079 303 001 234\n") == "0793******34"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("", ""),
        ("07930300123", "*" * 11),
        ("0793030012345", "*" * 13),
        ("Nguyễn Thị Mẫu", "*" * 12),
        ("０７９３０３００１２３４", "*" * 12),
        ("7" * 33, "*" * 32 + "...(33)"),
    ],
)
def test_anything_that_is_not_twelve_digits_is_masked_entirely(text: str, masked: str) -> None:
    assert mask(text) == masked


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (EXAMPLE_NUMBER, "0793******34"),
        (f"{EXAMPLE_NUMBER};;Nguyễn Thị Mẫu;15062003", "0793******34;;Nguyễn Thị Mẫu;15062003"),
        (f"x{EXAMPLE_NUMBER}\tNam", "x0793******34\tNam"),
        ("0793030012345", "*" * 13),
        ("079 303 001 234", "0793******34"),
        ("CCCD 079.303.001.234 ok", "CCCD 0793******34 ok"),
        ("079-303-001-234", "0793******34"),
        ("0793 0300 1234", "0793******34"),
        ("MQR:123 07930300123", "MQR:123 07930300123"),  # eleven digits: no CCCD
    ],
)
def test_every_run_of_twelve_or_more_digits_in_a_text_is_masked(text: str, masked: str) -> None:
    assert mask_numbers(text) == masked


# The module's surface


def test_a_cccd_error_is_a_value_error_whose_code_compares_as_text() -> None:
    error = CccdError(CccdErrorCode.FORMAT, "detail")

    assert isinstance(error, ValueError)
    assert error.code == "format"
    assert (error.detail, str(error)) == ("detail", "detail")
