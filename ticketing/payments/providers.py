"""Payment providers: `sandbox` (pay with one API call) and `vietqr` (bank transfer to a merchant account)."""

from __future__ import annotations

from dataclasses import dataclass

from ticketing.payments import PaymentInstructions, PaymentProvider
from validator.vietqr import build_vietqr_payload

__all__ = ["SandboxProvider", "VietQrProvider", "make_provider"]


SANDBOX_ACCOUNT = "0000000000"
SANDBOX_ACCOUNT_NAME = "SANDBOX METRO QR"


@dataclass(frozen=True, slots=True)
class SandboxProvider:
    """No money moves: `POST /v1/sandbox/orders/{id}/pay` stands in for the bank's confirmation. Orders still
    carry a VietQR payload, to a sandbox account and labelled so, so riders' apps run the production flow."""

    bank_bin: str = "970436"
    name: str = "sandbox"
    sandbox: bool = True

    def instructions(self, reference: str, amount_vnd: int) -> PaymentInstructions:
        payload = build_vietqr_payload(
            self.bank_bin, SANDBOX_ACCOUNT, amount_vnd, reference, SANDBOX_ACCOUNT_NAME
        )
        return PaymentInstructions(
            self.name,
            reference,
            amount_vnd,
            payload,
            self.bank_bin,
            SANDBOX_ACCOUNT,
            SANDBOX_ACCOUNT_NAME,
            True,
        )


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
        return PaymentInstructions(
            self.name, reference, amount_vnd, payload, self.bank_bin, self.account, self.merchant_name
        )


def make_provider(name: str, bank_bin: str, account: str, merchant_name: str) -> PaymentProvider:
    if name == "vietqr":
        return VietQrProvider(bank_bin, account, merchant_name)
    return SandboxProvider(bank_bin)
