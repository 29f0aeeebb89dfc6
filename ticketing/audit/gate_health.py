"""Gate health: for every gate, what the server knows of its state, and whether someone should go and see it.

A gate decides offline, so the server sees it only through its uploads: when the last one came, how far its
journal reaches (its head seq, and the time and upload delay of its newest event), the holes in it, the clock
offset measured at that upload, and the flags the gate put on its newest scan (its lists too old, its clock
suspect: the gate's own judgement, by the policy it holds). Through its syncs the server also knows its lists:
when it last served the gate each list a scan is decided from, to the end (ticketing.services.gate_lists),
and so how old the gate's lists are now, judged by the same rule the gate flags its scans with
(fare_rules.rules.lists_stale); a list never fetched counts as stale. The gates needing a visit come first:
the most reasons, then the longest silence (the oldest last upload).
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
from fare_rules.rules import lists_stale
from ticketing.audit.anomalies import journal_gap
from ticketing.audit.csv_writer import csv_line
from ticketing.audit.query import MAX_LIMIT, Query, iso
from ticketing.audit.tables import GATES, SCANS
from ticketing.catalog import Catalog
from ticketing.models import GateListFetch, GateStatus, table_of
from validator.records import DECIDING_LISTS

__all__ = [
    "GATE_HEALTH_CSV_COLUMNS",
    "GATE_HEALTH_FILTERS",
    "GateHealth",
    "GateHealthAnswer",
    "ListAge",
    "Visit",
    "gate_health",
    "gate_health_csv",
]

GATE_HEALTH_FILTERS = frozenset({"station", "gate", "format"})


class Visit(StrEnum):
    """Why a gate needs a visit. The values are a wire contract: add, never rename."""

    NEVER_UPLOADED = "never_uploaded"  # enrolled, and not one event has reached the server
    UPLOAD_OVERDUE = "upload_overdue"  # silent for longer than the policy lets lists age
    JOURNAL_GAP = "journal_gap"  # events missing from its journal
    CLOCK_OFF = "clock_off"  # its clock offset beyond the policy's tolerance, or its scans flagged so
    # Its newest scan was decided on lists older than the policy allows, or the lists it last fetched are now
    # (one never fetched included).
    STALE_LISTS = "stale_lists"


class ListAge(BaseModel):
    """One list a gate decides scans from, as the service last served it to the gate to its end."""

    name: str  # revocations, passes, free_riders (validator.records.DECIDING_LISTS)
    fetched_at: str | None  # ISO 8601 UTC, the page's server_time; None: never fetched
    age_s: int | None
    seq: int | None  # the cursor the gate then held


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
    stale_lists: bool  # the gate's own flag on its newest scan
    lists_age_s: int | None  # the oldest of its deciding lists, as last fetched; None: one never fetched
    lists: list[ListAge]  # each deciding list, in DECIDING_LISTS order
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
    fetched = _fetches(session, q)
    gates = [
        _health(
            row,
            _head(session, row.gate_id, row.journal_head),
            missing.get(row.gate_id, 0),
            fetched.get(row.gate_id, {}),
            catalog,
            now,
        )
        for row in session.execute(query).all()
    ]
    return GateHealthAnswer(at=iso(now), gates=sorted(gates, key=_urgency))


_LIST_PARTS = ("fetched_at", "age_s", "seq")
# GateHealth's fields, each deciding list's spread over three columns (revocations_fetched_at, ...).
GATE_HEALTH_CSV_COLUMNS = (
    *(f for f in GateHealth.model_fields if f != "lists"),
    *(f"{name}_{part}" for name in DECIDING_LISTS for part in _LIST_PARTS),
)


def gate_health_csv(answer: GateHealthAnswer) -> Iterator[str]:
    """The gates as CSV lines, a header first (GATE_HEALTH_CSV_COLUMNS; the reasons joined with `|`)."""
    yield csv_line(GATE_HEALTH_CSV_COLUMNS)
    for gate in answer.gates:
        values: dict[str, object] = gate.model_dump(exclude={"lists"})
        for held in gate.lists:
            values |= {f"{held.name}_{part}": getattr(held, part) for part in _LIST_PARTS}
        yield csv_line([values[column] for column in GATE_HEALTH_CSV_COLUMNS])


_FETCHES = table_of(GateListFetch)


def _fetches(session: Session, q: Query) -> dict[str, dict[str, Any]]:
    """Per gate, its deciding lists' last fetches (rows of fetched_at and seq) by list name."""
    f = _FETCHES.c
    query = sa.select(f.gate_id, f.name, f.fetched_at, f.seq).where(f.name.in_(DECIDING_LISTS))
    if q.gate:
        query = query.where(f.gate_id == q.gate)
    found: dict[str, dict[str, Any]] = {}
    for row in session.execute(query).all():
        found.setdefault(row.gate_id, {})[row.name] = row
    return found


def _list_ages(fetched: dict[str, Any], now: datetime) -> list[ListAge]:
    ages = []
    for name in DECIDING_LISTS:
        row = fetched.get(name)
        at = row.fetched_at if row is not None else None
        seq = row.seq if row is not None else None
        ages.append(ListAge(name=name, fetched_at=iso(at), age_s=_seconds(now, at), seq=seq))
    return ages


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


def _health(  # noqa: PLR0917 - one gate's rows, gathered by gate_health
    row: Any, head: Any, missing: int, fetched: dict[str, Any], catalog: Catalog, now: datetime
) -> GateHealth:
    flags = set(head.flags.split(",")) if head is not None else set()
    offset = head.clock_offset_s if head is not None else None
    times = [r.fetched_at for r in fetched.values()]
    # The oldest list dates what the gate knows, as on the gate (validator.gate.StationState).
    oldest = min(times) if len(times) == len(DECIDING_LISTS) else None
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
        lists_age_s=_seconds(now, oldest),
        lists=_list_ages(fetched, now),
        needs_visit=[],
    )
    old = lists_stale(now, oldest, catalog.policy)
    health.needs_visit = [v.value for v in _visits(health, catalog.policy, lists_old=old)]
    return health


def _visits(health: GateHealth, policy: Policy, *, lists_old: bool) -> list[Visit]:
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
    if health.stale_lists or lists_old:
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
