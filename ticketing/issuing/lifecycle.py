"""An order's life: awaiting payment until its expiry, then paid or expired. Each rule written once, for the
views (what a rider reads) and for payment confirmation (what a bank's notification may do)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

__all__ = ["OrderStatus", "Payability", "effective_status", "payability"]


class OrderStatus(StrEnum):
    AWAITING_PAYMENT = "awaiting_payment"
    PAID = "paid"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


def effective_status(status: str, expires_at: datetime, now: datetime) -> OrderStatus:
    """An unpaid order past its expiry reads as expired even before anything writes that down."""
    if status == OrderStatus.AWAITING_PAYMENT and now >= expires_at:
        return OrderStatus.EXPIRED
    return OrderStatus(status)


class Payability(StrEnum):
    """Whether a payment of some amount may confirm an order now."""

    PAYABLE = "payable"
    EXPIRED = "expired"  # awaiting payment no longer: the rider must order again
    ALREADY_PAID = "already_paid"
    NOT_PAYABLE = "not_payable"  # cancelled, or any state that takes no payment
    AMOUNT_MISMATCH = "amount_mismatch"


def payability(
    status: str, expires_at: datetime, amount_due: int, amount_paid: int, now: datetime
) -> Payability:
    """What a payment of `amount_paid` may do to an order in `status` that expires at `expires_at`."""
    current = effective_status(status, expires_at, now)
    if current == OrderStatus.EXPIRED:
        return Payability.EXPIRED
    if current == OrderStatus.PAID:
        return Payability.ALREADY_PAID
    if current != OrderStatus.AWAITING_PAYMENT:
        return Payability.NOT_PAYABLE
    if amount_paid != amount_due:
        return Payability.AMOUNT_MISMATCH
    return Payability.PAYABLE
