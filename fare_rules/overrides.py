"""Staff overrides: an agent admits or refuses by hand, with a reason code and the agent's id. Pure.

An override is never silent: the gate journals it like a scan (signed and chained), `status` counts it and
the auditors' overrides report lists it per gate, agent and reason. It needs no credential at all (an
evacuation); when one is shown, it is recorded with the override, and an admitted one counts as its use.
"""

from __future__ import annotations

from enum import StrEnum

from fare_rules.reasons import Message

__all__ = ["OverrideAction", "OverrideReason", "override_message"]


class OverrideAction(StrEnum):
    ADMIT = "admit"
    REFUSE = "refuse"


class OverrideReason(StrEnum):
    """Why an agent overrode the gate. The values are a wire contract: add, never rename."""

    BROKEN_PHONE = "broken_phone"  # the rider's ticket cannot be shown (flat battery, broken screen)
    EVACUATION = "evacuation"
    SYSTEM_FAULT = "system_fault"  # the gate or its reader is out of order
    CHILD_UNDER_6 = "child_under_6"  # rides free with an adult (resolution 29/2024)
    STAFF_JUDGEMENT = "staff_judgement"
    OTHER = "other"


_MESSAGES: dict[OverrideReason, Message] = {
    OverrideReason.BROKEN_PHONE: Message(
        "Điện thoại hỏng, không hiện được vé", "Broken phone, ticket not shown"
    ),
    OverrideReason.EVACUATION: Message("Sơ tán khẩn cấp", "Evacuation"),
    OverrideReason.SYSTEM_FAULT: Message("Lỗi hệ thống cổng soát vé", "Gate system fault"),
    OverrideReason.CHILD_UNDER_6: Message(
        "Trẻ em dưới 6 tuổi đi cùng người lớn", "Child under 6 with an adult"
    ),
    OverrideReason.STAFF_JUDGEMENT: Message("Nhân viên nhà ga quyết định", "Station staff's judgement"),
    OverrideReason.OTHER: Message("Lý do khác", "Other reason"),
}


def override_message(reason: OverrideReason) -> Message:
    """The Vietnamese and English text of an override's reason, for the screen and the reports."""
    return _MESSAGES[reason]
