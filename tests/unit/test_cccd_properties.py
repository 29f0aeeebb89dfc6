"""Properties of the CCCD parser, hash and mask over generated input. Every number here is fabricated."""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from fare_rules.cccd import PROVINCES, CccdCard, CccdError, holder_hash, mask, parse_card_qr

DIGITS = st.text(alphabet="0123456789", min_size=1, max_size=16)
FIELD = st.one_of(
    st.text(max_size=20), DIGITS, st.sampled_from(["Nam", "Nữ", "", "15062003", "079303001234"])
)


@st.composite
def valid_cards(draw: st.DrawFn) -> tuple[str, CccdCard]:
    """A fabricated card built by rule, and the QR text that encodes it."""
    province = draw(st.sampled_from(sorted(PROVINCES)))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2399, 12, 31)))
    issued = draw(st.dates(min_value=born, max_value=date(2399, 12, 31)))
    sex = draw(st.sampled_from(["Nam", "Nữ"]))
    digit = 2 * (born.year // 100 - 19) + (sex == "Nữ")
    number = f"{province}{digit}{born.year % 100:02d}{draw(st.text('0123456789', min_size=6, max_size=6))}"
    old_id = draw(st.sampled_from(["", "025123456", "025123456789"]))
    name = draw(st.sampled_from(["Nguyễn Thị Mẫu", "Trần Văn Mẫu", "Lê Ánh"]))
    text = f"{number}|{old_id}|{name}|{born:%d%m%Y}|{sex}|Quận 1|{issued:%d%m%Y}"
    card = CccdCard(number, old_id or None, name, born, sex, "Quận 1", issued)
    return text, card


def outcome(text: str) -> CccdCard | CccdError:
    try:
        return parse_card_qr(text)
    except CccdError as error:
        return error


@given(st.text())
def test_any_text_either_parses_into_a_card_or_is_refused_with_a_cccd_error(text: str) -> None:
    assert isinstance(outcome(text), CccdCard | CccdError)


@given(st.lists(FIELD, max_size=10).map("|".join))
def test_any_pipe_separated_fields_either_parse_or_are_refused_with_a_cccd_error(text: str) -> None:
    assert isinstance(outcome(text), CccdCard | CccdError)


@given(valid_cards(), st.booleans(), st.sampled_from(["", "\r\n", "|extra"]))
def test_a_card_built_by_rule_parses_back_to_itself(
    built: tuple[str, CccdCard], decomposed: bool, suffix: str
) -> None:
    text, card = built
    if decomposed:
        text = unicodedata.normalize("NFD", text)
    assert parse_card_qr(text + suffix) == card


@given(valid_cards(), st.sampled_from(["birth", "sex"]))
def test_a_card_whose_birth_or_sex_disagrees_with_its_number_is_refused(
    built: tuple[str, CccdCard], field: str
) -> None:
    text, card = built
    fields = text.split("|")
    if field == "sex":
        fields[4] = "Nam" if card.sex == "Nữ" else "Nữ"
    else:
        # A year earlier, so the card is still issued after the birth and only digits 4-6 disagree.
        fields[3] = f"0103{card.birth_date.year - 1:04d}"
    error = outcome("|".join(fields))
    assert isinstance(error, CccdError)
    assert error.code in {"sex_mismatch", "birth_year_mismatch"}
    assert card.number not in str(error)


@given(st.text("0123456789", min_size=12, max_size=12))
def test_mask_never_shows_the_middle_digits_of_a_twelve_digit_number(number: str) -> None:
    masked = mask(number)
    assert masked == number[:4] + "******" + number[-2:]
    assert number[4:10] not in masked


@given(st.text())
def test_mask_shows_nothing_of_anything_that_is_not_twelve_digits(text: str) -> None:
    masked = mask(text)
    if re.fullmatch(r"[0-9]{12}", text.strip().replace(" ", "")):
        assert masked[4:10] == "******"
    else:
        assert re.fullmatch(r"\**(\.\.\.\(\d+\))?", masked)


@given(valid_cards(), st.binary(min_size=16, max_size=64))
def test_the_holder_hash_of_a_card_is_16_bytes_and_never_contains_the_number(
    built: tuple[str, CccdCard], key: bytes
) -> None:
    _, card = built
    digest = holder_hash(card.number, key)
    assert len(digest) == 16
    assert card.number.encode() not in digest
    assert holder_hash(card.number, key) == digest
