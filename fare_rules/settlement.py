"""Settling a fare owed at the exit: the agent collects the difference and the rider is let out. Pure.

An exit beyond the paid station is refused `fare_exceeded` with `owed_vnd`. A settlement of that exit is
accepted only for exactly that amount: collecting more is refused (`over_collected`: the rider must not pay
twice, nor an agent keep the change), less is refused (`under_collected`), a trip already settled is refused
(`already_settled`: double settlement), and an exit refused for anything else, or admitted, owes nothing
(`nothing_owed`; a broken phone or an expired ticket is a staff override, not a settlement).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from fare_rules.model import Decision, Denied, Flag
from fare_rules.reasons import Reason

__all__ = ["AGENT_ID_MAX", "PaymentMethod", "Settled", "is_agent_id", "settle"]

AGENT_ID_MAX = 32
# Staff numbers, not names: an id goes into every journal event the agent makes and into the audit reports.
_AGENT_ID = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._-]{{0,{AGENT_ID_MAX - 1}}}")


class PaymentMethod(StrEnum):
    """How a fare owed was collected. The values are a wire contract: add, never rename."""

    CASH = "cash"
    VIETQR = "vietqr"  # the rider's banking app scanned the VietQR the gate showed, for the amount owed


@dataclass(frozen=True, slots=True)
class Settled:
    """A settlement accepted: the exit is let out with `collected_vnd` as its fare adjustment."""

    owed_vnd: int
    collected_vnd: int
    method: PaymentMethod
    flags: frozenset[Flag] = field(default_factory=frozenset)  # the exit decision's (e.g. entry_unseen)


def settle(
    exit_decision: Decision, collected_vnd: int, method: PaymentMethod, already_settled: bool
) -> Settled | Denied:
    """Decide a settlement of the exit `exit_decision` (what `decide` says of that exit now). A refusal
    carries the amount owed, if any, so the agent sees what to collect."""
    if already_settled:
        return Denied(Reason.ALREADY_SETTLED)
    owed = _owed(exit_decision)
    if owed == 0:
        return Denied(Reason.NOTHING_OWED)
    if collected_vnd > owed:
        return Denied(Reason.OVER_COLLECTED, owed_vnd=owed)
    if collected_vnd < owed:
        return Denied(Reason.UNDER_COLLECTED, owed_vnd=owed)
    return Settled(owed, collected_vnd, method, exit_decision.flags)


def _owed(decision: Decision) -> int:
    if isinstance(decision, Denied) and decision.reason is Reason.FARE_EXCEEDED:
        return max(decision.owed_vnd, 0)
    return 0


def is_agent_id(text: str) -> bool:
    """A staff id as the journal keeps it: 1-32 letters, digits, '.', '_' or '-', starting alphanumeric."""
    return _AGENT_ID.fullmatch(text) is not None
