"""VietQR bank-transfer payloads: EMVCo merchant-presented QR (EMV QRCPS-MPM) as NAPAS specifies it.

A payload is a run of TLV fields, each a two-digit ID, a two-digit length (in characters) and the value,
closed by field 63: a CRC-16/CCITT-FALSE over everything before it, including the "6304" that opens it.
Vietnamese banking apps scan it and pre-fill a transfer of a fixed amount to the beneficiary account, with a
reference as the transfer's purpose: an order's, so the bank's confirmation can be matched to the order, or a
fare owed at a gate's. Pure; the service (order payments) and the gate (fares owed) build it from here alone.

Errors: every malformed input, to the builder or the parser, raises `InvalidEMVPayload`, a `ValueError`.
"""

from __future__ import annotations

import binascii
import re

__all__ = [
    "NAPAS_GUID",
    "SERVICE_TRANSFER_TO_ACCOUNT",
    "InvalidEMVPayload",
    "build_vietqr_payload",
    "crc16_ccitt",
    "parse_emv",
    "parse_tlv",
]

NAPAS_GUID = "A000000727"
SERVICE_TRANSFER_TO_ACCOUNT = "QRIBFTTA"

_PAYLOAD_FORMAT = "01"
_POINT_OF_INITIATION_DYNAMIC = "12"  # one amount for one order: a QR that is not meant to be reused
_CURRENCY_VND = "704"  # ISO 4217 numeric
_COUNTRY = "VN"
_CRC_HEADER = "6304"

_BIN = re.compile(r"[0-9]{6}")
# NAPAS caps the beneficiary id at 19 characters; virtual accounts from collection services carry letters.
_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,19}")
_REFERENCE = re.compile(r"[0-9A-Za-z]{1,25}")
# EMV field 59 is 1-25 characters of printable ASCII; names with Vietnamese diacritics belong in template 64.
_MERCHANT_NAME = re.compile(r"[\x20-\x7e]{1,25}")
_MAX_AMOUNT_DIGITS = 13  # EMV field 54 is at most 13 characters
_CRC_TEXT = re.compile(r"[0-9A-Fa-f]{4}")


class InvalidEMVPayload(ValueError):
    """A payload that is not well-formed EMV MPM, or an input that cannot become one."""


def crc16_ccitt(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, no final XOR) of `data`."""
    # binascii.crc_hqx is this unreflected 0x1021 CRC, in C; starting it at 0xFFFF makes it CCITT-FALSE.
    return binascii.crc_hqx(data, 0xFFFF)


def build_vietqr_payload(
    bank_bin: str, account: str, amount_vnd: int, reference: str, merchant_name: str | None = None
) -> str:
    """Build the VietQR payload for a transfer of `amount_vnd` to `account` at the bank `bank_bin`.

    `bank_bin` is the bank's 6-digit NAPAS BIN (e.g. "970436" for Vietcombank); `reference` goes into the
    additional data as the purpose of the transaction and comes back in the bank's confirmation.
    """
    _require(_BIN.fullmatch(bank_bin) is not None, f"bank BIN must be 6 digits, got {bank_bin!r}")
    _require(
        _ACCOUNT.fullmatch(account) is not None, f"account must be 1-19 letters or digits, got {account!r}"
    )
    _require(
        type(amount_vnd) is int and 0 < amount_vnd < 10**_MAX_AMOUNT_DIGITS,
        f"amount_vnd must be a positive whole number of dong below 10^13, got {amount_vnd!r}",
    )
    _require(
        _REFERENCE.fullmatch(reference) is not None,
        f"reference must be 1-25 ASCII letters or digits, got {reference!r}",
    )
    _require(
        merchant_name is None or _MERCHANT_NAME.fullmatch(merchant_name) is not None,
        f"merchant name must be 1-25 printable ASCII characters, got {merchant_name!r}",
    )
    beneficiary = _field("00", bank_bin) + _field("01", account)
    merchant_account = (
        _field("00", NAPAS_GUID) + _field("01", beneficiary) + _field("02", SERVICE_TRANSFER_TO_ACCOUNT)
    )
    body = "".join(
        [
            _field("00", _PAYLOAD_FORMAT),
            _field("01", _POINT_OF_INITIATION_DYNAMIC),
            _field("38", merchant_account),
            _field("53", _CURRENCY_VND),
            _field("54", str(amount_vnd)),
            _field("58", _COUNTRY),
            _field("59", merchant_name) if merchant_name is not None else "",
            _field("62", _field("08", reference)),
            _CRC_HEADER,
        ]
    )
    return f"{body}{crc16_ccitt(body.encode()):04X}"


def parse_emv(payload: str) -> dict[str, str]:
    """Split an EMV MPM payload into its top-level fields (ID -> value), after checking its CRC.

    Templates (such as 38 and 62) are returned as their raw text; read them with `parse_tlv`.
    """
    if not payload:
        raise InvalidEMVPayload("empty payload")
    fields = parse_tlv(payload)
    if next(iter(fields)) != "00" or fields["00"] != _PAYLOAD_FORMAT:
        raise InvalidEMVPayload('payload must start with the payload format indicator "000201"')
    if list(fields)[-1] != "63" or len(fields["63"]) != 4:
        raise InvalidEMVPayload('payload must end with the CRC field "6304" and 4 hex digits')
    carried = fields["63"]
    if _CRC_TEXT.fullmatch(carried) is None:
        raise InvalidEMVPayload(f"CRC must be 4 hex digits, got {carried!r}")
    computed = crc16_ccitt(payload[:-4].encode("utf-8"))
    if int(carried, 16) != computed:
        raise InvalidEMVPayload(f"CRC mismatch: payload carries {carried}, its content gives {computed:04X}")
    return fields


def parse_tlv(data: str) -> dict[str, str]:
    """Split a run of TLV fields (a payload or a template's value) into ID -> value, in order. No CRC.."""
    fields: dict[str, str] = {}
    position = 0
    while position < len(data):
        header = data[position : position + 4]
        tag, length_text = header[:2], header[2:]
        if len(header) < 4 or not (_is_digits(tag) and _is_digits(length_text)):
            raise InvalidEMVPayload(
                f"at position {position}: expected a two-digit ID and two-digit length, got {header!r}"
            )
        length = int(length_text)
        value = data[position + 4 : position + 4 + length]
        if length == 0 or len(value) < length:
            raise InvalidEMVPayload(
                f"field {tag} at position {position} declares {length} characters, {len(value)} follow"
            )
        if tag in fields:
            raise InvalidEMVPayload(f"field {tag} appears twice")
        fields[tag] = value
        position += 4 + length
    return fields


def _field(tag: str, value: str) -> str:
    _require(0 < len(value) <= 99, f"field {tag} would be {len(value)} characters; EMV allows 1-99")
    return f"{tag}{len(value):02d}{value}"


def _is_digits(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidEMVPayload(message)
