"""What station staff see: a large ACCEPT / DENY, the reason in Vietnamese and English, the fare owed."""

from __future__ import annotations

from fare_rules.cccd import mask_numbers
from fare_rules.model import Flag
from fare_rules.overrides import OverrideAction, override_message
from fare_rules.reasons import Message
from fare_rules.settlement import PaymentMethod
from validator.core import InputKind, PassSeen, ScanOutcome, TicketSeen, classify, normalise

__all__ = [
    "card_to_compare",
    "clock_warning",
    "describe_offset",
    "describe_outcome",
    "format_vnd",
    "item_label",
    "money_lines",
    "override_lines",
    "render_outcome",
]

_GREEN = "\033[1;97;42m"
_RED = "\033[1;97;41m"
_YELLOW = "\033[1;33m"
_DIM = "\033[2m"
_RESET = "\033[0m"
_METHODS = {PaymentMethod.CASH: "tiền mặt / cash", PaymentMethod.VIETQR: "VietQR"}


def format_vnd(amount: int) -> str:
    """`4000` -> `4.000 ₫` (Vietnamese thousands separator)."""
    return f"{amount:,}".replace(",", ".") + " ₫"


def _amount(seconds: float) -> tuple[str, str]:
    if seconds < 90:
        return f"{seconds:.0f} giây", f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} phút", f"{minutes} min"


def describe_offset(offset_seconds: float) -> str:
    """How far and which way this gate's clock is off, from its offset (server time minus gate clock); an
    offset that rounds to 0 s is in step, neither ahead nor behind."""
    if round(abs(offset_seconds)) == 0:
        return "in step with the issuer's time"
    _, amount = _amount(abs(offset_seconds))
    return f"{amount} {'behind' if offset_seconds > 0 else 'ahead of'} the issuer's time"


def clock_warning(offset_seconds: float | None) -> Message:
    """What staff read on a scan flagged clock_suspect: the clock is the cause of a time refusal."""
    if offset_seconds is None:
        return Message(
            "Đồng hồ cổng chưa được kiểm tra — đồng bộ", "Gate clock never checked — sync the gate"
        )
    vi, en = _amount(abs(offset_seconds))
    way_vi, way_en = ("chậm", "behind") if offset_seconds > 0 else ("nhanh", "ahead")
    return Message(
        f"Đồng hồ cổng {way_vi} {vi} — báo kỹ thuật", f"Gate clock is {en} {way_en} — call maintenance"
    )


def _paint(text: str, style: str, colour: bool) -> str:
    return f"{style}{text}{_RESET}" if colour else text


def card_to_compare(outcome: ScanOutcome) -> str | None:
    """What staff compare with the card in the rider's hand (masked number, initials, birth year), for a
    scan that names a holder; None otherwise."""
    seen = outcome.recognised
    if not isinstance(seen, PassSeen):
        return None
    parts = (
        f"CCCD {seen.cccd_masked}" if seen.cccd_masked else "",
        seen.initials or "",
        f"sinh năm / born {seen.birth_year}" if seen.birth_year else "",
    )
    return " · ".join(x for x in parts if x) or None


def describe_outcome(outcome: ScanOutcome, *, with_card: bool = True) -> list[str]:
    """What was recognised, in lines (never a CCCD in full); `with_card`: with the line of what to compare
    with the card."""
    lines: list[str] = []
    seen = outcome.recognised
    ticket = outcome.ticket
    if isinstance(ticket, TicketSeen):
        route = f" {ticket.origin} → {ticket.destination}" if ticket.origin else ""
        check = "" if ticket.verified else "  (chữ ký không hợp lệ / signature not verified)"
        lines.append(f"  Vé / Ticket: {ticket.product.value}{route} · #{ticket.serial}{check}")
    if isinstance(seen, PassSeen) and seen.category is not None:
        lines.append(f"  Miễn vé / Free ride: {seen.category.value} {seen.pass_id or ''}".rstrip())
    elif isinstance(seen, PassSeen):
        product = seen.product.value if seen.product else "—"
        lines.append(f"  Vé tháng / Pass: {product} {seen.pass_id or ''}".rstrip())
    if isinstance(seen, PassSeen):
        who = card_to_compare(outcome)
        if who and with_card:
            lines.append(f"  Đối chiếu thẻ / Compare with the card: {who}")
    return lines


def money_lines(outcome: ScanOutcome) -> list[str]:
    """The fare owed, or on a settled exit what the agent collected for it, how and who."""
    collected = outcome.adjustment
    if collected is not None:
        how = _METHODS.get(collected.method, collected.method.value)
        return [
            f"ĐÃ THU / COLLECTED: {format_vnd(collected.amount_vnd)} · {how} · NV / agent {collected.agent}"
        ]
    if outcome.owed_vnd:
        return [f"THU THÊM / FARE OWED: {format_vnd(outcome.owed_vnd)}"]
    return []


def override_lines(outcome: ScanOutcome) -> list[str]:
    """An agent's decision by hand: never shown as if the gate had decided."""
    by_hand = outcome.override
    if by_hand is None:
        return []
    action = "CHO QUA / ADMITTED" if by_hand.action is OverrideAction.ADMIT else "TỪ CHỐI / REFUSED"
    why = override_message(by_hand.reason)
    lines = [f"THỦ CÔNG / BY HAND: {action} · NV / agent {by_hand.agent}", f"{why.vi} / {why.en}"]
    if outcome.input_kind is not InputKind.EMPTY:  # with no code shown the gate had nothing to say
        said = by_hand.gate_reason.value if by_hand.gate_reason else "accept"
        lines.append(f"cổng / the gate said: {said}")
    return lines


def item_label(item: str) -> str:
    """How a scanned ITEM is named next to its verdict: never the text in full, since a CCCD QR holds the
    number, name and address. Numbers are masked before the text is cut, so a cut never leaves part of a
    number standing."""
    text = normalise(item)
    if classify(text) is InputKind.CCCD:
        return "CCCD QR"
    text = mask_numbers(text)
    return text if len(text) <= 24 else text[:12] + "…"


def render_outcome(outcome: ScanOutcome, colour: bool, label: str | None = None) -> str:
    """Several lines for a terminal; `colour` adds ANSI colours (only when writing to a TTY)."""
    if outcome.accepted:
        banner = _paint("  ✔ ACCEPT · MỜI QUA  ", _GREEN, colour)
    else:
        banner = _paint("  ✖ DENY · TỪ CHỐI  ", _RED, colour)
    lines = [f"{banner}  {label}" if label else banner]
    message = outcome.message
    lines.append(f"  {message.vi}")
    lines.append(f"  {message.en}")
    lines.extend(
        _paint(f"  {line}", _YELLOW, colour) for line in money_lines(outcome) + override_lines(outcome)
    )
    lines.extend(describe_outcome(outcome))
    if Flag.CLOCK_SUSPECT in outcome.flags:
        warning = clock_warning(outcome.clock_offset_seconds)
        lines.append(_paint(f"  ⚠ {warning.vi}", _YELLOW, colour))
        lines.append(_paint(f"  ⚠ {warning.en}", _YELLOW, colour))
    if outcome.flags:
        flags = ", ".join(sorted(f.value for f in outcome.flags))
        lines.append(_paint(f"  flags: {flags}", _DIM, colour))
    return "\n".join(lines)
