"""Gate health: for every gate, what the server knows of its state, and whether someone should go and see it.

A gate decides offline, so the server sees it only through its uploads: when the last one came, how far its
journal reaches (its head seq, and the time and upload delay of its newest event), the holes in it, the clock
offset measured at that upload, and the flags the gate put on its newest scan (its lists too old, its clock
suspect: the gate's own judgement, by the policy it holds). The gates needing a visit come first: the most
reasons, then the longest silence (the oldest last upload).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel
from sqlmodel import Session

from fare_rules.model import Flag
from fare_rules.policy import Policy
from ticketing.audit.anomalies import journal_gap
from ticketing.audit.csv_writer import csv_lines
from ticketing.audit.query import MAX_LIMIT, Query, iso
from ticketing.audit.tables import GATES, SCANS
from ticketing.catalog import Catalog
from ticketing.models import GateStatus

__all__ = ["GATE_HEALTH_FILTERS", "GateHealth", "GateHealthAnswer", "Visit", "gate_health", "gate_health_csv"]

GATE_HEALTH_FILTERS = frozenset({"station", "gate", "format"})


class Visit(StrEnum):
    """Why a gate needs a visit. The values are a wire contract: add, never rename."""

    NEVER_UPLOADED = "never_uploaded"  # enrolled, and not one event has reached the server
    UPLOAD_OVERDUE = "upload_overdue"  # silent for longer than the policy lets lists age
    JOURNAL_GAP = "journal_gap"  # events missing from its journal
    CLOCK_OFF = "clock_off"  # its clock offset beyond the policy's tolerance, or its scans flagged so
    STALE_LISTS = "stale_lists"  # its newest scan was decided on lists older than the policy allows


class GateHealth(BaseModel):
    """One gate. Times are ISO 8601 in UTC; ages in seconds at the time of the answer."""

    gate: str
    station: str
    status: str
    last_upload_at: str | None
    upload_age_s: int | None
    journal_head: int
    last_event_at: str | None
    upload_delay_s: int | None  # how long its newest event waited on the gate before the upload
    missing_events: int
    clock_offset_s: int | None
    clock_suspect: bool
    stale_lists: bool
    needs_visit: list[str]


class GateHealthAnswer(BaseModel):
    """Every gate (or those of the station or gate asked for), those needing a visit first."""

    at: str
    gates: list[GateHealth]


def gate_health(session: Session, q: Query, catalog: Catalog, now: datetime) -> GateHealthAnswer:
    """The health of every gate that q's station and gate filters leave, most urgent first."""
    g = GATES.c
    query = sa.select(g.gate_id, g.station, g.status, g.journal_head, g.last_upload_at).order_by(g.gate_id)
    if q.station:
        query = query.where(g.station == q.station)
    if q.gate:
        query = query.where(g.gate_id == q.gate)
    missing = _missing_by_gate(session, catalog)
    gates = [
        _health(row, _head(session, row.gate_id, row.journal_head), missing.get(row.gate_id, 0), catalog, now)
        for row in session.execute(query).all()
    ]
    return GateHealthAnswer(at=iso(now), gates=sorted(gates, key=_urgency))


def gate_health_csv(answer: GateHealthAnswer) -> Iterator[str]:
    """The gates as CSV lines, a header first (GateHealth's fields; the reasons joined with `|`)."""
    return csv_lines(GateHealth, answer.gates)


def _missing_by_gate(session: Session, catalog: Catalog) -> dict[str, int]:
    holes = journal_gap.find(session, Query(limit=MAX_LIMIT), catalog).items
    missing: dict[str, int] = {}
    for hole in holes:
        missing[hole.gate] = missing.get(hole.gate, 0) + hole.missing
    return missing


def _head(session: Session, gate_id: str, seq: int) -> Any:
    """The gate's newest stored event (by its unique gate and seq), or None."""
    s = SCANS.c
    query = sa.select(s.at, s.received_at, s.clock_offset_s, s.flags)
    query = query.where(s.gate_id == gate_id, s.seq == seq)
    return session.execute(query).first() if seq else None


def _health(row: Any, head: Any, missing: int, catalog: Catalog, now: datetime) -> GateHealth:
    flags = set(head.flags.split(",")) if head is not None else set()
    offset = head.clock_offset_s if head is not None else None
    health = GateHealth(
        gate=row.gate_id,
        station=row.station,
        status=str(row.status),
        last_upload_at=iso(row.last_upload_at),
        upload_age_s=_seconds(now, row.last_upload_at),
        journal_head=row.journal_head,
        last_event_at=iso(head.at) if head is not None else None,
        upload_delay_s=_seconds(head.received_at, head.at) if head is not None else None,
        missing_events=missing,
        clock_offset_s=offset,
        clock_suspect=Flag.CLOCK_SUSPECT.value in flags,
        stale_lists=Flag.STALE_LISTS.value in flags,
        needs_visit=[],
    )
    health.needs_visit = [v.value for v in _visits(health, catalog.policy)]
    return health


def _visits(health: GateHealth, policy: Policy) -> list[Visit]:
    if health.status != GateStatus.ACTIVE:
        return []  # waiting for enrolment, or retired: nothing on the line to visit
    reasons: list[Visit] = []
    if health.last_upload_at is None:
        reasons.append(Visit.NEVER_UPLOADED)
    elif health.upload_age_s is not None and health.upload_age_s > policy.max_list_age_seconds:
        reasons.append(Visit.UPLOAD_OVERDUE)
    if health.missing_events:
        reasons.append(Visit.JOURNAL_GAP)
    offset = health.clock_offset_s
    if health.clock_suspect or (offset is not None and abs(offset) > policy.max_clock_offset_seconds):
        reasons.append(Visit.CLOCK_OFF)
    if health.stale_lists:
        reasons.append(Visit.STALE_LISTS)
    return reasons


def _urgency(health: GateHealth) -> tuple[int, int, bool, str, str]:
    # The longest silence first, by the upload's time (not its age, which moves between two requests); a gate
    # with nothing to visit and no upload (not enrolled yet, retired) last.
    never = health.status == GateStatus.ACTIVE and health.last_upload_at is None
    silent = health.last_upload_at is None
    return (-len(health.needs_visit), -int(never), silent, health.last_upload_at or "", health.gate)


def _seconds(later: datetime | None, earlier: datetime | None) -> int | None:
    return None if later is None or earlier is None else int((later - earlier).total_seconds())
