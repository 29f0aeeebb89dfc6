"""The CCCD (Vietnamese chip citizen ID card): its number, its 2021 front QR, keyed hashing and masking.

A CCCD number is personal data (Decree 13/2023): gates keep only `holder_hash`, screens and logs only `mask`.
Every refusal is a `CccdError` (a `ValueError`) whose `code` is one of `CccdErrorCode`; its `detail` never
holds the number or any raw field in full.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "HOLDER_HASH_SIZE",
    "MIN_KEY_SIZE",
    "PROVINCES",
    "SEXES",
    "CccdCard",
    "CccdError",
    "CccdErrorCode",
    "holder_hash",
    "mask",
    "mask_numbers",
    "parse_card_qr",
    "validate_number",
]


class CccdErrorCode(StrEnum):
    """Why a CCCD number or card QR was refused. The values are a wire contract: add, never rename."""

    FORMAT = "format"  # not exactly 12 ASCII digits
    PROVINCE = "province"  # digits 1-3 are not one of the 63 birth-registration codes
    BIRTH_YEAR_MISMATCH = "birth_year_mismatch"  # digits 4-6 disagree with the date of birth
    SEX_MISMATCH = "sex_mismatch"  # the parity of digit 4 disagrees with the sex
    NOT_CCCD = "not_cccd"  # no `|` at all: some other code (a ticket, a URL) was scanned
    FIELD_COUNT = "field_count"  # fewer than the 7 fields of the 2021 layout
    OLD_ID = "old_id"  # the old CMND field is neither empty nor 9 or 12 digits
    NAME = "name"  # the full name is empty
    DATE = "date"  # a date is not a real ddmmyyyy date, or the card was issued before its holder's birth
    SEX = "sex"  # the sex is neither "Nam" nor "Nữ"


class CccdError(ValueError):
    """A CCCD number or card QR that fails validation. `code` is a stable machine-readable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


# Birth-registration codes of the 63 provinces and centrally-run cities (Circular 07/2016/TT-BCA, now
# 59/2021/TT-BCA). Numbers are never reissued, so these stay valid after the 2025 merger into 34 provinces.
PROVINCES: Mapping[str, str] = MappingProxyType(
    {
        "001": "Hà Nội",
        "002": "Hà Giang",
        "004": "Cao Bằng",
        "006": "Bắc Kạn",
        "008": "Tuyên Quang",
        "010": "Lào Cai",
        "011": "Điện Biên",
        "012": "Lai Châu",
        "014": "Sơn La",
        "015": "Yên Bái",
        "017": "Hòa Bình",
        "019": "Thái Nguyên",
        "020": "Lạng Sơn",
        "022": "Quảng Ninh",
        "024": "Bắc Giang",
        "025": "Phú Thọ",
        "026": "Vĩnh Phúc",
        "027": "Bắc Ninh",
        "030": "Hải Dương",
        "031": "Hải Phòng",
        "033": "Hưng Yên",
        "034": "Thái Bình",
        "035": "Hà Nam",
        "036": "Nam Định",
        "037": "Ninh Bình",
        "038": "Thanh Hóa",
        "040": "Nghệ An",
        "042": "Hà Tĩnh",
        "044": "Quảng Bình",
        "045": "Quảng Trị",
        "046": "Thừa Thiên Huế",
        "048": "Đà Nẵng",
        "049": "Quảng Nam",
        "051": "Quảng Ngãi",
        "052": "Bình Định",
        "054": "Phú Yên",
        "056": "Khánh Hòa",
        "058": "Ninh Thuận",
        "060": "Bình Thuận",
        "062": "Kon Tum",
        "064": "Gia Lai",
        "066": "Đắk Lắk",
        "067": "Đắk Nông",
        "068": "Lâm Đồng",
        "070": "Bình Phước",
        "072": "Tây Ninh",
        "074": "Bình Dương",
        "075": "Đồng Nai",
        "077": "Bà Rịa - Vũng Tàu",
        "079": "TP. Hồ Chí Minh",
        "080": "Long An",
        "082": "Tiền Giang",
        "083": "Bến Tre",
        "084": "Trà Vinh",
        "086": "Vĩnh Long",
        "087": "Đồng Tháp",
        "089": "An Giang",
        "091": "Kiên Giang",
        "092": "Cần Thơ",
        "093": "Hậu Giang",
        "094": "Sóc Trăng",
        "095": "Bạc Liêu",
        "096": "Cà Mau",
    }
)

SEXES = ("Nam", "Nữ")  # as printed on the card; digit 4 is even for "Nam", odd for "Nữ"
MIN_KEY_SIZE = 16
HOLDER_HASH_SIZE = 16

# [0-9], not \d: \d also matches Arabic-Indic, fullwidth and other Unicode digits.
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_OLD_ID = re.compile(r"[0-9]{9}|[0-9]{12}")  # 9-digit CMND, or the 12-digit CMND issued 2012-2016
# Every place a CCCD number could stand in a free text: a run of 12 or more digits (ASCII or not), or twelve
# grouped as people type them ("079 303 001 234", "0793 0300 1234").
_DIGIT_RUN = re.compile(r"\d{12,}|(?<!\d)(?:\d{3}(?:[ .-]\d{3}){3}|\d{4}(?:[ .-]\d{4}){2})(?!\d)")
_DDMMYYYY = re.compile(r"([0-9]{2})([0-9]{2})([0-9]{4})")
_FIRST_CENTURY = 19  # digit 4 = 2 x (century - 19) + (0 male | 1 female): 1900s to 2300s
_LAST_CENTURY = 23
_QR_FIELDS = 7
_MASK_CAP = 32


@dataclass(frozen=True, slots=True)
class CccdCard:
    """What the 2021 card's front QR says, validated and NFC-normalised. Build it with `parse_card_qr`."""

    number: str
    old_id: str | None
    full_name: str
    birth_date: date
    sex: str  # "Nam" or "Nữ"
    address: str
    issue_date: date

    def __repr__(self) -> str:  # never print the number in full, even in a traceback
        return f"CccdCard(number={mask(self.number)!r}, ...)"

    def __str__(self) -> str:  # explicit, so no later base class or decorator can make str() leak
        return self.__repr__()


def _normalise(number: str) -> str:
    # Humans type "079 303 001 234"; scanners add CR/LF around it.
    return number.strip().replace(" ", "")


def validate_number(number: str, birth_date: date | None = None, sex: str | None = None) -> str:
    """Return the normalised 12-digit number, or raise CccdError (format, province, century/sex, birth year).

    Spaces are removed. When `birth_date` is given, digit 4 (century) and digits 5-6 (year) must match it;
    when `sex` ("Nam" or "Nữ") is given, the parity of digit 4 must match it.
    """
    digits = _normalise(number)
    if not _TWELVE_DIGITS.fullmatch(digits):
        raise CccdError(CccdErrorCode.FORMAT, f"a CCCD number is 12 digits, got {mask(number)!r}")
    if digits[:3] not in PROVINCES:
        raise CccdError(CccdErrorCode.PROVINCE, f"{mask(digits)}: no province has code {digits[:3]}")
    if birth_date is not None:
        _check_birth_year(digits, birth_date)
    if sex is not None:
        _check_sex(digits, _parse_sex(sex))
    return digits


def _check_birth_year(digits: str, birth_date: date) -> None:
    century = birth_date.year // 100
    if not _FIRST_CENTURY <= century <= _LAST_CENTURY:
        raise CccdError(
            CccdErrorCode.BIRTH_YEAR_MISMATCH, f"{mask(digits)}: a CCCD cannot encode a birth in {century}00s"
        )
    # Digit 4 // 2 is the century, whatever the sex; digits 5-6 are the year within it.
    if int(digits[3]) // 2 != century - _FIRST_CENTURY or int(digits[4:6]) != birth_date.year % 100:
        raise CccdError(
            CccdErrorCode.BIRTH_YEAR_MISMATCH,
            f"{mask(digits)}: digits 4-6 do not encode the birth year {birth_date.year}",
        )


def _check_sex(digits: str, sex: str) -> None:
    female = int(digits[3]) % 2 == 1
    if female != (sex == "Nữ"):
        raise CccdError(CccdErrorCode.SEX_MISMATCH, f"{mask(digits)}: digit 4 does not encode {sex}")


def _parse_sex(text: str) -> str:
    sex = unicodedata.normalize("NFC", text.strip())
    if sex not in SEXES:
        raise CccdError(CccdErrorCode.SEX, 'sex must be "Nam" or "Nữ"')
    return sex


def _parse_date(text: str, what: str) -> date:
    match = _DDMMYYYY.fullmatch(text.strip())
    if match is None:
        raise CccdError(CccdErrorCode.DATE, f"{what} is not 8 digits ddmmyyyy")
    day, month, year = (int(group) for group in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        # `from None`: the field is unvalidated input and stays out of the traceback too.
        raise CccdError(CccdErrorCode.DATE, f"{what} is not a real date") from None


def parse_card_qr(text: str) -> CccdCard:
    """Parse the 2021 card's front QR (7 `|` fields, empty old id and trailing fields tolerated).

    Layout: `id12|old_cmnd9|full name|ddmmyyyy birth|Nam or Nữ|address|ddmmyyyy issue`. Surrounding
    whitespace (keyboard-wedge scanners add CR/LF) is ignored and text is NFC-normalised. The number is
    checked against the card's own birth date and sex. Raises CccdError with a `CccdErrorCode`.
    """
    # NFC first: a name or "Nữ" may arrive decomposed (NFD) from some scanners and keyboards.
    fields = unicodedata.normalize("NFC", text).strip().split("|")
    if len(fields) == 1:
        raise CccdError(CccdErrorCode.NOT_CCCD, "not a CCCD card QR: no '|' separated fields")
    if len(fields) < _QR_FIELDS:
        raise CccdError(
            CccdErrorCode.FIELD_COUNT, f"a CCCD card QR has {_QR_FIELDS} fields, got {len(fields)}"
        )
    # Fields past the seventh are ignored: later card batches and some readers append more.
    raw_number, raw_old_id, raw_name, raw_birth, raw_sex, raw_address, raw_issue = fields[:_QR_FIELDS]

    number = validate_number(raw_number)
    old_id = _normalise(raw_old_id) or None
    if old_id is not None and not _OLD_ID.fullmatch(old_id):
        raise CccdError(CccdErrorCode.OLD_ID, "the old ID field is neither empty nor 9 or 12 digits")
    full_name = " ".join(raw_name.split())
    if not full_name:
        raise CccdError(CccdErrorCode.NAME, "the full name is empty")
    birth_date = _parse_date(raw_birth, "the birth date")
    sex = _parse_sex(raw_sex)
    issue_date = _parse_date(raw_issue, "the issue date")
    if issue_date < birth_date:
        raise CccdError(CccdErrorCode.DATE, "the card is dated before its holder's birth")
    _check_birth_year(number, birth_date)
    _check_sex(number, sex)
    return CccdCard(number, old_id, full_name, birth_date, sex, raw_address.strip(), issue_date)


def holder_hash(number: str, key: bytes) -> bytes:
    """16-byte keyed hash (HMAC-SHA256, truncated) of a validated number: what gates and tickets carry.

    Raises ValueError for a key shorter than 16 bytes, CccdError for a number that does not validate.
    """
    # A keyed hash, not a bare SHA-256: 12 digits with known structure are brute-forced in minutes.
    if len(key) < MIN_KEY_SIZE:
        raise ValueError(f"holder_hash needs a key of at least {MIN_KEY_SIZE} bytes, got {len(key)}")
    digits = validate_number(number)
    return hmac.new(key, digits.encode("ascii"), hashlib.sha256).digest()[:HOLDER_HASH_SIZE]


def mask(number: str) -> str:
    """`079303001234` -> `0793******34`: the only form shown on screens or written to logs.

    Anything that is not 12 ASCII digits (after removing spaces) is all stars, one per character up to 32,
    so a typo's length shows but none of its content does.
    """
    digits = _normalise(number)
    if _TWELVE_DIGITS.fullmatch(digits):
        return f"{digits[:4]}******{digits[-2:]}"
    if len(digits) > _MASK_CAP:
        return "*" * _MASK_CAP + f"...({len(digits)})"
    return "*" * len(digits)


def mask_numbers(text: str) -> str:
    """`text` with every run of 12 or more digits masked by `mask`: for echoing any scanned or typed text
    (a CCCD number typed alone, a card QR whose `|` became `;` or a tab) without ever showing a number."""
    return _DIGIT_RUN.sub(lambda found: mask(re.sub(r"\D", "", found.group())), text)
