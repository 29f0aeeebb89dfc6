"""The station agent's hand actions, one call each as `scanner_cli.py` offers them: settle a fare owed at the
exit (in cash, or by the rider's banking app scanning a VietQR the gate draws for exactly the amount owed) and
override the gate. The decisions and the transaction are the gate's (`Gate.settle`, `Gate.override`)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import qrcode
from qrcode.constants import ERROR_CORRECT_M

from fare_rules.model import Direction
from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.policy import PLACEHOLDER_PAYEE
from fare_rules.reasons import Reason
from fare_rules.settlement import PaymentMethod
from validator import records
from validator.core import ScanOutcome
from validator.gate import Gate
from validator.images import QrDecoder
from validator.operations import read_item
from validator.staff import LastRefused, NoCredential, Settlement, Shown, Subject
from validator.vietqr import build_vietqr_payload

__all__ = ["NoPayee", "SettlementQr", "override_item", "settle_item", "settlement_qr", "subject_of"]


class NoPayee(ValueError):
    """The policy names no account to pay a fare owed into (settlement_payee is null): cash only."""


@dataclass(frozen=True, slots=True)
class SettlementQr:
    """The VietQR a rider's banking app scans to pay the fare owed at this exit, drawn for the terminal."""

    owed_vnd: int
    payload: str  # EMV MPM text: the payee of the policy, this amount, `reference` as the purpose
    reference: str
    text: str  # the QR in Unicode half blocks
    placeholder_payee: bool  # the policy still holds the shipped placeholder account

    def write_png(self, path: Path) -> None:
        _qr(self.payload).make_image().save(path)


def subject_of(item: str | None, last: bool, decoder: QrDecoder) -> Subject | Reason:
    """What a staff action is about: an ITEM (an image or a payload text), the gate's last refused scan
    (`last`), or nothing at all. A Reason when an image yields no single code."""
    if last:
        return LastRefused()
    if item is None:
        return NoCredential()
    payload = read_item(item, decoder)
    return payload if isinstance(payload, Reason) else Shown(payload)


def settlement_qr(gate: Gate, subject: Subject) -> SettlementQr | None:
    """The VietQR for the fare owed to let `subject` out now; None when nothing is owed. NoPayee when the
    policy has no account. Writes nothing: the settlement is recorded once the agent saw the transfer."""
    owed = gate.fare_owed(subject, datetime.now(UTC))  # also puts the policy in force now on the gate
    if owed == 0:
        return None
    payee = gate.policy.settlement_payee
    if payee is None:
        raise NoPayee("the policy names no settlement payee: settle in cash")
    # The gate and its next journal event: the transfer's purpose says where the fare was settled.
    next_seq = records.journal_head(gate.conn, gate.config.gate_id)[0] + 1
    reference = ("".join(c for c in gate.config.gate_id if c.isalnum()) + f"S{next_seq}")[-25:]
    payload = build_vietqr_payload(payee.bank_bin, payee.account, owed, reference, payee.name)
    out = io.StringIO()
    _qr(payload).print_ascii(out=out, invert=True)
    return SettlementQr(owed, payload, reference, out.getvalue(), payee == PLACEHOLDER_PAYEE)


def settle_item(
    gate: Gate, subject: Subject, collected_vnd: int, method: PaymentMethod, agent: str
) -> Settlement:
    """Settle the fare owed at this exit now (Gate.settle)."""
    return gate.settle(subject, collected_vnd, method, agent, datetime.now(UTC))


def override_item(
    gate: Gate,
    subject: Subject,
    action: OverrideAction,
    reason: OverrideReason,
    agent: str,
    *,
    direction: Direction,
) -> ScanOutcome:
    """Admit or refuse by hand now (Gate.override)."""
    return gate.override(subject, action, reason, agent, direction=direction, now=datetime.now(UTC))


def _qr(payload: str) -> qrcode.QRCode:
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=2)
    code.add_data(payload)
    code.make(fit=True)
    return code
