"""Journal ingest: a gate's signed batch checked whole, then stored and paired in two transactions.

1. **Check** (`_checked_batch`), before anything is written: the batch's shape, the device signature, the
   batch's own chain and every field (`rows.check_fields`). A batch that does not verify changes nothing, not
   even a gap row or a partition.
2. **Store** (first transaction): the gate row is locked (one upload per gate at a time, so the link onto
   what the server holds, the head and the (gate, seq) dedup are consistent); the batch must chain onto the
   stored head or start after a gap (a new gap is recorded, committed and answered 409); the events not
   stored yet are inserted (ON CONFLICT DO NOTHING: a batch sent twice lands once whatever the locking does),
   counted per hour (`scan_counts`), and the head moves. Committed.
3. **Pair** (second transaction, `pairing.pair_stored_uses`): every stored use not paired yet is paired into
   trips, tickets' first uses are set, double uses revoked and refunds still in their hold withdrawn.
   Committed; then each event's status is answered.

Locks, always taken in this order: the gate row, then the `events` counter (feed_seqs reserved just before
the insert, held to commit: gates read the events feed in commit order, and it orders concurrent uploads
that carry uses), then the scan_counts rows in key order; in the second transaction the `paired` counter.
Why two transactions: storing must be serial and pairing must be serial; in one transaction both waits add
up, in two one upload pairs while the next stores (docs/audit.md has the figures). Each step is a handful of
statements whatever the batch's size, through the engine's adapter (`adapter`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ticketing import partitions
from ticketing.errors import JournalGapFound, JournalRejected, Unauthorized, WrongGate
from ticketing.ingest import adjustments, pairing, scan_counts
from ticketing.ingest.adapter import adapter_for
from ticketing.ingest.rows import batch_months, check_fields, clock_offset, event_row
from ticketing.ingest.rules import DoubleUseRule
from ticketing.models import (
    ChangeCounter,
    Gate,
    GateStatus,
    JournalBatch,
    JournalGap,
    ScanEvent,
    table_of,
)
from validator.codec import public_key_from_bytes
from validator.journal import GENESIS_HASH, ChainedEvent, JournalError, verify_batch_canonical
from validator.wire import b64url_decode

__all__ = ["JOURNAL_MAX_BYTES", "MAX_BATCH_EVENTS", "EventStatus", "ingest_batch"]

MAX_BATCH_EVENTS = 2000  # the gate sends 500 (validator.sync.JOURNAL_BATCH); a catching-up gate may send more
JOURNAL_MAX_BYTES = 4 * 1024 * 1024  # request body limit for POST /v1/gate/journal only

_STORED, _DUPLICATE, _REFUSED = "stored", "duplicate", "refused"
_GATES: sa.Table = table_of(Gate)
_SCANS: sa.Table = table_of(ScanEvent)
_COUNTERS: sa.Table = table_of(ChangeCounter)
_BATCHES: sa.Table = table_of(JournalBatch)
_ENTRY_KEYS = {"seq", "event", "prev_hash", "hash"}  # what ChainedEvent.to_json writes


@dataclass(frozen=True, slots=True)
class EventStatus:
    """What became of one event of a batch: stored, duplicate (stored before, same hash) or refused."""

    seq: int
    status: str


@dataclass(frozen=True, slots=True)
class _Stored:
    hash: str
    problem: str | None


def ingest_batch(
    session: Session,
    gate: Gate,
    batch: Mapping[str, Any],
    now: datetime,
    *,
    engine: Engine,
    rule: DoubleUseRule,
) -> list[EventStatus]:
    """Store and pair a batch from `gate` (module doc). Commits. Raises WrongGate, JournalRejected (the batch
    does not verify), BadEvent or JournalGapFound. `engine` (the session's own) makes missing partitions on a
    connection outside this transaction; `rule` is the operator's double-use rule."""
    device_key_text, verified = _checked_batch(session, batch, gate.gate_id)
    offset = clock_offset(batch)
    partitions.ensure_for_times(engine, batch_months(batch["events"]), now)
    locked = _lock_gate(session, gate.gate_id)
    if locked is None or locked.status != GateStatus.ACTIVE or locked.device_public_key != device_key_text:
        raise Unauthorized("unknown or revoked gate token")
    gap = _check_link(session, locked, verified[0][0], now)
    if gap is not None:
        # The gap row must outlive the 409, so that the gate's resend of the same batch finds it: the batch
        # has verified, and this is the one thing a refused upload keeps.
        session.add(gap)
        session.commit()
        raise JournalGapFound(
            f"events {gap.from_seq} to {gap.to_seq} never arrived", expected_seq=gap.from_seq
        )
    events = [e for e, _ in verified]
    known = _stored(session, locked.gate_id, [e.seq for e in events])
    rows, inserted, stored = _store_new(
        session, locked, [(e, b) for e, b in verified if e.seq not in known], now, offset
    )
    if _rebuildable(batch, events, known, inserted):
        _keep_signature(session, batch, device_key_text, now)
    session.commit()
    uses = [(r, event) for r, event in stored if r["feed_seq"] is not None]
    pairing.pair_stored_uses(session, [r for r, _ in uses], [event for _, event in uses], now, rule)
    session.commit()
    problems = {r["seq"]: r["problem"] for r in rows}
    return [EventStatus(e.seq, _status(e, known, inserted, problems)) for e in events]


def _store_new(
    session: Session, gate: Any, fresh: list[tuple[ChainedEvent, bytes]], now: datetime, offset: int | None
) -> tuple[list[dict[str, Any]], set[int], list[tuple[dict[str, Any], Mapping[str, Any]]]]:
    """Insert the events not stored yet, count them, move the gate's head: (their rows, the seqs inserted,
    each inserted row with its event). Not committed."""
    rows = [event_row(gate.gate_id, e, now, body, offset) for e, body in fresh]
    connection = session.connection()
    adapter = adapter_for(connection)
    uses = [r for r in rows if r["verdict"] == "accept" and r["credential"] and not r["problem"]]
    for row, feed_seq in zip(uses, _reserve_feed(connection, len(uses)), strict=True) if uses else ():
        row["feed_seq"] = feed_seq
    inserted = adapter.insert_events(connection, rows) if rows else set()
    stored = [(r, e.event) for r, (e, _) in zip(rows, fresh, strict=True) if r["seq"] in inserted]
    counts = scan_counts.counted(r for r, _ in stored)
    if counts:
        adapter.add_scan_counts(connection, counts)
    connection.execute(
        sa.update(_GATES)
        .where(_GATES.c.gate_id == gate.gate_id)
        .values(journal_head=max([gate.journal_head, *inserted]), last_upload_at=now)
    )
    adjustments.record(connection, stored)
    return rows, inserted, stored


def _rebuildable(
    batch: Mapping[str, Any], events: Sequence[ChainedEvent], known: dict[int, _Stored], inserted: set[int]
) -> bool:
    """Whether the auditors' check can rebuild this batch from the stored rows, so its signature is worth
    keeping: it stored events, every one of its events is now the stored one (not a fork: a seq stored with
    another hash), and its entries carry no field beyond the four stored (a later format may add some)."""
    forked = any(e.seq in known and known[e.seq].hash != e.hash for e in events)
    return bool(inserted) and not forked and all(item.keys() == _ENTRY_KEYS for item in batch["events"])


def _keep_signature(session: Session, batch: Mapping[str, Any], device_key_text: str, now: datetime) -> None:
    """Keep the batch's device signature, its seq range and the key it verified against."""
    items = batch["events"]
    session.connection().execute(
        sa.insert(_BATCHES).values(
            gate_id=batch["gate"],
            first_seq=items[0]["seq"],
            last_seq=items[-1]["seq"],
            signature=batch["signature"],
            device_public_key=device_key_text,
            received_at=now,
        )
    )


def _reserve_feed(connection: sa.Connection, count: int) -> range:
    """`count` consecutive feed_seqs in one statement (UPDATE ... RETURNING); the counter row stays locked
    until commit (module doc)."""
    c = _COUNTERS.c
    statement = (
        sa.update(_COUNTERS).where(c.name == "events").values(value=c.value + count).returning(c.value)
    )
    value = connection.execute(statement).scalar_one_or_none()
    if value is None:
        raise RuntimeError("change counter 'events' is missing: run the migrations")
    return range(value - count + 1, value + 1)


def _checked_batch(
    session: Session, batch: Mapping[str, Any], gate_id: str
) -> tuple[str, list[tuple[ChainedEvent, bytes]]]:
    """(the gate's device key, the batch's events each with its canonical JSON) once its shape, then its
    signature, chain and every field check out; WrongGate, JournalRejected or BadEvent otherwise."""
    if batch.get("gate") != gate_id:
        raise WrongGate(f"this token belongs to gate {gate_id}, the batch names another gate")
    items = batch.get("events")
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH_EVENTS:
        raise JournalRejected(f"a batch holds 1 to {MAX_BATCH_EVENTS} events")
    first = items[0].get("seq") if isinstance(items[0], dict) else None
    if not isinstance(first, int) or isinstance(first, bool) or first < 1:
        raise JournalRejected("the first event has no valid seq", code="bad_sequence")
    device_key_text = _device_key(session, gate_id)  # read once the shape is right
    verified = _verified(batch, device_key_text)
    for event, _ in verified:
        check_fields(event)
    return device_key_text, verified


def _lock_gate(session: Session, gate_id: str) -> Any:
    """The gate's row, locked until commit (Core, not the ORM: this is per upload, and the ORM's identity
    map has nothing to add). One upload per gate at a time."""
    g = _GATES.c
    query = sa.select(g.gate_id, g.status, g.device_public_key, g.journal_head).where(g.gate_id == gate_id)
    return session.connection().execute(query.with_for_update()).first()


def _status(
    event: ChainedEvent, known: dict[int, _Stored], inserted: set[int], problems: dict[int, Any]
) -> str:
    if event.seq in inserted:
        return _REFUSED if problems[event.seq] else _STORED
    was = known.get(event.seq)
    # Same seq, other hash: the gate's chain forked (a restored or cloned store). Keep the first, refuse this.
    if was is None or was.hash != event.hash or was.problem:
        return _REFUSED
    return _DUPLICATE


def _device_key(session: Session, gate_id: str) -> str:
    g = _GATES.c
    query = sa.select(g.device_public_key, g.status).where(g.gate_id == gate_id)
    row = session.connection().execute(query).first()
    if row is None or row.status != GateStatus.ACTIVE or row.device_public_key is None:
        raise Unauthorized("unknown or revoked gate token")
    return str(row.device_public_key)


def _verified(batch: Mapping[str, Any], device_key_text: str) -> list[tuple[ChainedEvent, bytes]]:
    """The batch's events checked against the device key and chained to one another (the link onto what
    the server holds is _check_link's)."""
    try:
        device_key = public_key_from_bytes(b64url_decode(device_key_text))
    except ValueError:  # a key stored in another spelling of base64: no batch can verify against it
        raise JournalRejected(
            "this gate's device key cannot be read: enrol it again", code="bad_signature"
        ) from None
    try:
        return verify_batch_canonical(batch, device_key, None)
    except JournalError as exc:
        raise JournalRejected(exc.detail, code=exc.code) from None


def _check_link(session: Session, gate: Any, first: ChainedEvent, now: datetime) -> JournalGap | None:
    """The verified batch must chain onto the hash the server holds for `first.seq - 1`, or start after a
    gap the gate has declared lost. A first gap is returned, to be recorded and answered 409 (the gate
    resends from `expected_seq`); the same gap again means it no longer has them, and the gap is accepted."""
    expected, gap = _expected_prev(session, gate, first.seq, now)
    if gap is None and expected is not None and first.prev_hash != expected:
        raise JournalRejected(f"event {first.seq} does not chain onto the previous hash", code="broken_chain")
    return gap


def _expected_prev(
    session: Session, gate: Any, first: int, now: datetime
) -> tuple[str | None, JournalGap | None]:
    """(the hash event `first - 1` must have, or None when a gap the gate declared lost comes before it;
    a new gap, or None)."""
    if first == 1:
        return GENESIS_HASH, None
    before = _stored(session, gate.gate_id, [first - 1]).get(first - 1)
    if before is not None:
        return before.hash, None
    gaps = session.exec(select(JournalGap).where(JournalGap.gate_id == gate.gate_id)).all()
    if any(g.accepted_at and g.from_seq <= first - 1 <= g.to_seq for g in gaps):
        return None, None
    missing_from = gate.journal_head + 1
    gap = next((g for g in gaps if g.from_seq == missing_from), None)
    if gap is not None:  # the same gap again: the gate no longer has those events
        gap.to_seq = max(gap.to_seq, first - 1)
        gap.accepted_at = now
        session.add(gap)
        return None, None
    return None, JournalGap(gate_id=gate.gate_id, from_seq=missing_from, to_seq=first - 1, detected_at=now)


def _stored(session: Session, gate_id: str, seqs: Sequence[int]) -> dict[int, _Stored]:
    # A range, not IN (...): a batch's seqs are consecutive (verify_batch), and 500 bound parameters
    # cost more to send than the rows.
    t = _SCANS.c  # Core on the session's connection: the ORM's execute layer costs more than the read
    query = sa.select(t.seq, t.hash, t.problem).where(
        t.gate_id == gate_id, t.seq >= min(seqs), t.seq <= max(seqs)
    )
    rows = session.connection().execute(query).all()
    wanted = set(seqs)
    return {s: _Stored(digest, problem) for s, digest, problem in rows if s in wanted}
