"""Station staff's actions, as journal ingest stores them beside the scans: settlements of a fare owed at the
exit (`gate_settlements`) and overrides (`gate_overrides`), one row per journal event, written in the
transaction that stores the events (pipeline's first).

A gate journals a settlement as an event of kind "settlement" (verdict "settle": neither a passage nor a
refusal), then the exit it let out with an `adjustment` naming that event (its `owed_vnd` is the amount
collected, so the trip completes with it, as pairing sums owed amounts). The exit's seq is kept on the
settlement row, so that a trip (exit_gate, exit_seq) finds its adjustment's method and agent. An override is
an event of kind "override", a passage or a refusal like a scan, with the agent's reason.

Double settlement is decided when read, not here: the first accepted settlement of a credential (by time,
then gate and seq) counts, any later one is a double (two gates offline from each other may both settle one
trip). Uploads of different gates run side by side, so a flag set at ingest could miss the other's row.
A field that does not fit its column leaves the staff row out (the event itself is stored and chained).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from fare_rules.overrides import OverrideAction, OverrideReason
from fare_rules.settlement import AGENT_ID_MAX, PaymentMethod
from ticketing.db import UTCDateTime
from ticketing.models import table_of

__all__ = ["OVERRIDES", "SETTLEMENTS", "GateOverride", "GateSettlement", "record"]

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_MAX_VND = 2**31 - 1


class GateSettlement(SQLModel, table=True):
    """A settlement a gate journaled, accepted or refused (`reason`)."""

    __tablename__ = "gate_settlements"
    __table_args__ = (
        sa.UniqueConstraint("gate_id", "seq", name="uq_gate_settlements_gate_seq"),
        sa.Index("ix_gate_settlements_at", "at"),
        sa.Index("ix_gate_settlements_credential", "credential"),
        sa.Index("ix_gate_settlements_exit", "gate_id", "exit_seq"),  # a trip's exit finds its adjustment
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(_BIGINT_ID, primary_key=True, autoincrement=True)
    )
    gate_id: str = Field(max_length=32)
    seq: int = Field(sa_type=sa.BigInteger)  # the settlement event
    at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    station: str = Field(max_length=16)
    credential: str | None = Field(default=None, max_length=48)
    method: str = Field(max_length=8)
    collected_vnd: int
    owed_vnd: int
    agent: str = Field(max_length=AGENT_ID_MAX)
    reason: str | None = Field(default=None, max_length=40)  # None: accepted
    exit_seq: int | None = Field(default=None, sa_type=sa.BigInteger)  # the exit it let out


class GateOverride(SQLModel, table=True):
    """An override a gate journaled: an agent admitted or refused by hand."""

    __tablename__ = "gate_overrides"
    __table_args__ = (
        sa.UniqueConstraint("gate_id", "seq", name="uq_gate_overrides_gate_seq"),
        sa.Index("ix_gate_overrides_at", "at"),
    )

    id: int | None = Field(
        default=None, sa_column=sa.Column(_BIGINT_ID, primary_key=True, autoincrement=True)
    )
    gate_id: str = Field(max_length=32)
    seq: int = Field(sa_type=sa.BigInteger)
    at: datetime = Field(sa_column=sa.Column(UTCDateTime(), nullable=False))
    station: str = Field(max_length=16)
    direction: str = Field(max_length=8)
    action: str = Field(max_length=8)
    reason: str = Field(max_length=24)
    agent: str = Field(max_length=AGENT_ID_MAX)
    credential: str | None = Field(default=None, max_length=48)  # None: no code shown (an evacuation)
    gate_reason: str | None = Field(default=None, max_length=40)  # what the gate itself said


SETTLEMENTS: sa.Table = table_of(GateSettlement)
OVERRIDES: sa.Table = table_of(GateOverride)


def record(connection: Connection, stored: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> None:
    """The staff rows of newly stored scan_events rows (each with its journal event); not committed."""
    clean = [(r, e) for r, e in stored if r["problem"] is None and r["at"] is not None]
    settlements = [s for r, e in clean if e.get("kind") == "settlement" and (s := _settlement(r, e))]
    overrides = [o for r, e in clean if e.get("kind") == "override" and (o := _override(r, e))]
    if settlements:
        connection.execute(sa.insert(SETTLEMENTS), settlements)
    if overrides:
        connection.execute(sa.insert(OVERRIDES), overrides)
    links = [
        {"b_gate": r["gate_id"], "b_seq": seq, "b_exit": r["seq"]}
        for r, e in clean
        if r["direction"] == "exit" and r["verdict"] == "accept"
        and (seq := _int(_object(e.get("adjustment")).get("settlement_seq"))) is not None
    ]  # fmt: skip
    if links:
        c = SETTLEMENTS.c
        connection.execute(
            sa.update(SETTLEMENTS)
            .where(c.gate_id == sa.bindparam("b_gate"), c.seq == sa.bindparam("b_seq"))
            .values(exit_seq=sa.bindparam("b_exit")),
            links,
        )


def _settlement(row: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any] | None:
    detail = _object(event.get("settlement"))
    method, agent = detail.get("method"), detail.get("agent")
    collected, owed = _int(detail.get("collected_vnd")), _int(event.get("owed_vnd"))
    if method not in tuple(PaymentMethod) or not _agent(agent) or collected is None or owed is None:
        return None
    return {
        "gate_id": row["gate_id"], "seq": row["seq"], "at": row["at"], "station": row["station"],
        "credential": row["credential"], "method": method, "collected_vnd": collected, "owed_vnd": owed,
        "agent": agent, "reason": row["reason"], "exit_seq": None,
    }  # fmt: skip


def _override(row: Mapping[str, Any], event: Mapping[str, Any]) -> dict[str, Any] | None:
    detail = _object(event.get("override"))
    action, reason, agent = detail.get("action"), detail.get("reason"), detail.get("agent")
    gate_reason = detail.get("gate_reason")
    if action not in tuple(OverrideAction) or reason not in tuple(OverrideReason) or not _agent(agent):
        return None
    if gate_reason is not None and not (isinstance(gate_reason, str) and len(gate_reason) <= 40):
        return None
    return {
        "gate_id": row["gate_id"], "seq": row["seq"], "at": row["at"], "station": row["station"],
        "direction": row["direction"], "action": action, "reason": reason, "agent": agent,
        "credential": row["credential"], "gate_reason": gate_reason,
    }  # fmt: skip


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: object) -> int | None:
    return value if type(value) is int and 0 <= value <= _MAX_VND else None


def _agent(value: object) -> bool:
    return isinstance(value, str) and 0 < len(value) <= AGENT_ID_MAX
