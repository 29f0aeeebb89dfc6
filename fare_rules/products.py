"""The products sold on the network and how a payment is made."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["HOLDER_PRODUCTS", "PERIOD_PRODUCTS", "PaymentMethod", "Product"]


class Product(StrEnum):
    """What a credential lets its holder do. The values are a wire contract: add, never rename."""

    SINGLE = "single"
    DAY = "day"
    THREE_DAY = "three_day"
    MONTHLY = "monthly"
    MONTHLY_STUDENT = "monthly_student"
    FREE_PRIORITY = "free_priority"


class PaymentMethod(StrEnum):
    CASHLESS = "cashless"
    CASH = "cash"


# Products bound to a person's CCCD: the holder rides with the card, the QR carries only a keyed hash.
HOLDER_PRODUCTS = frozenset({Product.MONTHLY, Product.MONTHLY_STUDENT, Product.FREE_PRIORITY})
# Products that allow unlimited rides over a period instead of one trip.
PERIOD_PRODUCTS = frozenset(
    {Product.DAY, Product.THREE_DAY, Product.MONTHLY, Product.MONTHLY_STUDENT, Product.FREE_PRIORITY}
)
