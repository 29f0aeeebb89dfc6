"""Payment providers: `sandbox` (pay with one API call) and `vietqr` (bank transfer to a merchant account)."""

from __future__ import annotations

from dataclasses import dataclass

from ticketing.payments import PaymentInstructions, PaymentProvider
from ticketing.payments.vietqr import build_vietqr_payload

__all__ = ["SandboxProvider", "VietQrProvider", "make_provider"]


@dataclass(frozen=True, slots=True)
class SandboxProvider:
    """No money moves: `POST /v1/sandbox/orders/{id}/pay` stands in for the bank's confirmation."""

    name: str = "sandbox"
    sandbox: bool = True

    def instructions(self, reference: str, amount_vnd: int) -> PaymentInstructions:
        return PaymentInstructions(self.name, reference, amount_vnd)


@dataclass(frozen=True, slots=True)
class VietQrProvider:
    """A VietQR (EMVCo, NAPAS) transfer; the bank confirms at `POST /v1/payments/notify`."""

    bank_bin: str
    account: str
    merchant_name: str
    name: str = "vietqr"
    sandbox: bool = False

    def instructions(self, reference: str, amount_vnd: int) -> PaymentInstructions:
        payload = build_vietqr_payload(self.bank_bin, self.account, amount_vnd, reference, self.merchant_name)
        return PaymentInstructions(self.name, reference, amount_vnd, payload)


def make_provider(name: str, bank_bin: str, account: str, merchant_name: str) -> PaymentProvider:
    if name == "vietqr":
        return VietQrProvider(bank_bin, account, merchant_name)
    return SandboxProvider()
