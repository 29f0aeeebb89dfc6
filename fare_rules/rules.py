"""The rules of use: decide one scan from plain values. Pure: the same inputs give the same decision."""

from __future__ import annotations

from datetime import datetime

from fare_rules.model import Credential, Decision, Flag, History, Scan
from fare_rules.policy import Policy
from fare_rules.tariff import Tariff

__all__ = ["decide", "gate_flags"]


def decide(
    credential: Credential, scan: Scan, history: History, policy: Policy, tariff: Tariff, now: datetime
) -> Decision:
    """Decide one scan. `now` is the gate's (aware) clock; `history` holds the credential's accepted uses."""
    raise NotImplementedError


def gate_flags(
    now: datetime, last_sync: datetime | None, clock_offset_seconds: float | None, policy: Policy
) -> frozenset[Flag]:
    """Flags every decision of a gate carries: lists too old (STALE_LISTS), clock too far off (CLOCK_SUSPECT)."""
    raise NotImplementedError
