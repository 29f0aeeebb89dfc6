"""The CCCD (Vietnamese chip citizen ID card): its number, its 2021 front QR, keyed hashing and masking.

A CCCD number is personal data (Decree 13/2023): gates keep only `holder_hash`, screens and logs only `mask`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

__all__ = ["CccdCard", "CccdError", "holder_hash", "mask", "parse_card_qr", "validate_number"]


class CccdError(ValueError):
    """A CCCD number or card QR that fails validation. `code` is a stable machine-readable reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class CccdCard:
    number: str
    old_id: str | None
    full_name: str
    birth_date: date
    sex: str  # "Nam" or "Nữ"
    address: str
    issue_date: date

    def __repr__(self) -> str:  # never print the number in full, even in a traceback
        return f"CccdCard(number={mask(self.number)!r}, ...)"


def validate_number(number: str, birth_date: date | None = None, sex: str | None = None) -> str:
    """Return the normalised 12-digit number, or raise CccdError (format, province, century/sex, birth year)."""
    raise NotImplementedError


def parse_card_qr(text: str) -> CccdCard:
    """Parse the 2021 card's front QR (7 `|` fields, empty old id and trailing fields tolerated)."""
    raise NotImplementedError


def holder_hash(number: str, key: bytes) -> bytes:
    """16-byte keyed hash (HMAC-SHA256, truncated) of a validated number: what gates and tickets carry."""
    raise NotImplementedError


def mask(number: str) -> str:
    """`079303001234` -> `0793******34`: the only form shown on screens or written to logs."""
    raise NotImplementedError
