"""How riders pay: a provider interface, a sandbox provider (development, tests) and VietQR bank transfer.

Every provider's confirmation ends in the same service call (`services.payments.confirm_payment`), which is
where double issuing is prevented; providers only say how to pay and who may confirm.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["PaymentInstructions", "PaymentProvider"]


@dataclass(frozen=True, slots=True)
class PaymentInstructions:
    provider: str
    reference: str
    amount_vnd: int
    vietqr_payload: str | None = None
    bank_bin: str | None = None
    account: str | None = None
    account_name: str | None = None
    sandbox: bool = False


class PaymentProvider(Protocol):
    """Tells a rider how to pay an order. `sandbox` providers also accept a simulated confirmation."""

    @property
    def name(self) -> str: ...

    @property
    def sandbox(self) -> bool: ...

    def instructions(self, reference: str, amount_vnd: int) -> PaymentInstructions: ...
