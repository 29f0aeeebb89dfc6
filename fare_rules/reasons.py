"""Why a scan was refused, in one vocabulary shared by the codec, the rules, the gate and the audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Message", "Reason", "message_for", "revocation_reason"]


class Reason(StrEnum):
    """Why a gate refused a scan. The values are a wire contract: add, never rename."""

    # The code itself (codec and image decoding)
    NOT_OUR_CODE = "not_our_code"
    UNSUPPORTED_VERSION = "unsupported_version"
    MALFORMED = "malformed"
    TRUNCATED = "truncated"
    UNKNOWN_KEY = "unknown_key"
    BAD_SIGNATURE = "bad_signature"
    KEY_REVOKED = "key_revoked"
    NO_CODE_IN_IMAGE = "no_code_in_image"
    MULTIPLE_CODES = "multiple_codes"
    UNREADABLE_IMAGE = "unreadable_image"
    # CCCD cards
    CCCD_INVALID = "cccd_invalid"
    CCCD_NO_PASS = "cccd_no_pass"  # noqa: S105 - a reason code, not a password
    # The credential's state
    REVOKED = "revoked"  # by the operator, for a cause without a reason of its own (a pass, a block)
    REFUNDED = "refunded"
    CANCELLED = "cancelled"
    REVOKED_DOUBLE_USE = "revoked_double_use"
    NOT_YET_VALID = "not_yet_valid"
    EXPIRED = "expired"
    PENDING_VERIFICATION = "pending_verification"
    ALREADY_USED = "already_used"
    # Where and when it is used
    WRONG_STATION = "wrong_station"
    UNKNOWN_STATION = "unknown_station"
    FARE_EXCEEDED = "fare_exceeded"
    TRIP_TIME_EXCEEDED = "trip_time_exceeded"
    SAME_STATION_TIME_EXCEEDED = "same_station_time_exceeded"
    ALREADY_INSIDE = "already_inside"
    REENTRY_TOO_SOON = "reentry_too_soon"
    # Free riders' registry entries
    FREE_RIDER_EXPIRED = "free_rider_expired"
    FREE_RIDER_NOT_YET_VALID = "free_rider_not_yet_valid"
    FREE_RIDER_ENDED = "free_rider_ended"
    # Staff at the gate: settling a fare owed, overriding by hand
    NOTHING_OWED = "nothing_owed"
    OVER_COLLECTED = "over_collected"
    UNDER_COLLECTED = "under_collected"
    ALREADY_SETTLED = "already_settled"
    STAFF_REFUSED = "staff_refused"


@dataclass(frozen=True, slots=True)
class Message:
    vi: str
    en: str


_MESSAGES: dict[Reason, Message] = {
    Reason.NOT_OUR_CODE: Message("Mã không phải vé Metro", "Not a metro ticket code"),
    Reason.UNSUPPORTED_VERSION: Message("Phiên bản vé không hỗ trợ", "Unsupported ticket version"),
    Reason.MALFORMED: Message("Mã vé bị hỏng hoặc không đầy đủ", "Ticket code damaged or incomplete"),
    Reason.TRUNCATED: Message("Mã vé bị thiếu — quét lại", "Ticket code cut short — scan again"),
    Reason.UNKNOWN_KEY: Message("Khóa ký không xác định", "Signed with an unknown key"),
    Reason.BAD_SIGNATURE: Message("Chữ ký không hợp lệ — vé giả", "Invalid signature — forged ticket"),
    Reason.KEY_REVOKED: Message("Khóa ký đã bị thu hồi", "Signing key revoked"),
    Reason.NO_CODE_IN_IMAGE: Message("Không tìm thấy mã QR trong ảnh", "No QR code found in the image"),
    Reason.MULTIPLE_CODES: Message("Có nhiều mã QR — quét từng mã", "Several QR codes — scan one at a time"),
    Reason.UNREADABLE_IMAGE: Message("Không đọc được tệp ảnh", "Image file cannot be read"),
    Reason.CCCD_INVALID: Message("Mã QR CCCD không hợp lệ", "Invalid CCCD card QR"),
    Reason.CCCD_NO_PASS: Message("CCCD chưa đăng ký vé tháng", "No pass registered for this CCCD"),
    Reason.REVOKED: Message("Vé đã bị thu hồi", "Ticket revoked by the operator"),
    Reason.REFUNDED: Message("Vé đã được hoàn tiền", "Ticket refunded"),
    Reason.CANCELLED: Message("Vé đã bị hủy", "Ticket cancelled"),
    Reason.REVOKED_DOUBLE_USE: Message(
        "Vé bị thu hồi: đã vào ga hai lần", "Ticket revoked: it entered at two gates"
    ),
    Reason.NOT_YET_VALID: Message("Vé chưa đến ngày hiệu lực", "Ticket not yet valid"),
    Reason.EXPIRED: Message("Vé đã hết hạn", "Ticket expired"),
    Reason.PENDING_VERIFICATION: Message(
        "Vé HSSV chờ xác minh tại nhà ga", "Student pass awaiting verification at a station"
    ),
    Reason.ALREADY_USED: Message("Vé đã được sử dụng", "Ticket already used"),
    Reason.WRONG_STATION: Message("Vé không dùng cho ga này", "Ticket not valid at this station"),
    Reason.UNKNOWN_STATION: Message("Ga không thuộc tuyến", "Station not on the network"),
    Reason.FARE_EXCEEDED: Message("Vượt quá ga đã trả tiền — bù cước", "Beyond the paid station — fare owed"),
    Reason.TRIP_TIME_EXCEEDED: Message("Quá thời gian trong ga", "Time limit inside exceeded"),
    Reason.SAME_STATION_TIME_EXCEEDED: Message(
        "Ra cùng ga quá thời gian cho phép", "Same-station exit after the allowed time"
    ),
    Reason.ALREADY_INSIDE: Message("Vé đang ở trong ga (chưa ra)", "Already inside (no exit recorded)"),
    Reason.REENTRY_TOO_SOON: Message("Vào lại quá sớm — vui lòng chờ", "Re-entry too soon — please wait"),
    Reason.FREE_RIDER_EXPIRED: Message(
        "Đăng ký miễn vé đã hết hạn — gia hạn tại quầy", "Free-ride registration expired — renew it"
    ),
    Reason.FREE_RIDER_NOT_YET_VALID: Message(
        "Đăng ký miễn vé chưa đến ngày hiệu lực", "Free-ride registration not yet valid"
    ),
    Reason.FREE_RIDER_ENDED: Message("Đăng ký miễn vé đã bị chấm dứt", "Free-ride registration ended"),
    Reason.NOTHING_OWED: Message("Không có cước cần bù cho lượt ra này", "No fare owed for this exit"),
    Reason.OVER_COLLECTED: Message("Thu nhiều hơn số cước còn thiếu", "Collected more than the fare owed"),
    Reason.UNDER_COLLECTED: Message("Thu ít hơn số cước còn thiếu", "Collected less than the fare owed"),
    Reason.ALREADY_SETTLED: Message("Lượt đi này đã được bù cước", "The fare owed on this trip is settled"),
    Reason.STAFF_REFUSED: Message("Nhân viên từ chối cho qua", "Refused by station staff"),
}


def message_for(reason: Reason) -> Message:
    """The Vietnamese and English screen text for a refusal."""
    return _MESSAGES[reason]


# Why the issuer put a ticket on the revocation list (the sync contract's `reason`) -> what the gate says.
# A revoked signing key needs no entry: the codec refuses its tickets as KEY_REVOKED.
_REVOCATION_CAUSES: dict[str, Reason] = {
    "refunded": Reason.REFUNDED,
    "cancelled": Reason.CANCELLED,
    "double_use": Reason.REVOKED_DOUBLE_USE,
}


def revocation_reason(cause: str) -> Reason:
    """The refusal for a ticket revoked for `cause`; a cause this gate does not know is plainly `revoked`."""
    return _REVOCATION_CAUSES.get(cause, Reason.REVOKED)
