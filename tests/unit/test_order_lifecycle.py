"""An order's life as pure rules (ticketing.issuing): what a rider reads, and what a payment may do."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ticketing.issuing import OrderStatus, Payability, effective_status, payability

NOW = datetime(2025, 3, 3, 2, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=15)


def test_an_unpaid_order_reads_awaiting_payment_until_its_expiry_and_expired_from_then_on() -> None:
    before = effective_status("awaiting_payment", LATER, LATER - timedelta(microseconds=1))
    at = effective_status("awaiting_payment", LATER, LATER)

    assert (before, at) == (OrderStatus.AWAITING_PAYMENT, OrderStatus.EXPIRED)


@pytest.mark.parametrize("status", ["paid", "cancelled", "expired"])
def test_an_order_that_left_awaiting_payment_keeps_its_status_whatever_the_time(status: str) -> None:
    assert effective_status(status, LATER, LATER + timedelta(days=1)) == OrderStatus(status)


@pytest.mark.parametrize(
    ("status", "paid", "now", "expected"),
    [
        ("awaiting_payment", 9000, NOW, Payability.PAYABLE),
        ("awaiting_payment", 8000, NOW, Payability.AMOUNT_MISMATCH),
        ("awaiting_payment", 9000, LATER, Payability.EXPIRED),
        ("expired", 9000, NOW, Payability.EXPIRED),
        ("paid", 9000, NOW, Payability.ALREADY_PAID),
        ("cancelled", 9000, NOW, Payability.NOT_PAYABLE),
    ],
)
def test_what_a_payment_may_do_to_an_order(
    status: str, paid: int, now: datetime, expected: Payability
) -> None:
    assert payability(status, LATER, 9000, paid, now) is expected


@given(
    status=st.sampled_from(list(OrderStatus)),
    due=st.integers(1, 10**9),
    paid=st.integers(1, 10**9),
    minutes=st.integers(-60, 60),
)
def test_only_the_full_amount_in_time_on_an_unpaid_order_is_payable(
    status: OrderStatus, due: int, paid: int, minutes: int
) -> None:
    now = LATER + timedelta(minutes=minutes)

    verdict = payability(status, LATER, due, paid, now)

    assert (verdict is Payability.PAYABLE) == (status == "awaiting_payment" and now < LATER and paid == due)
