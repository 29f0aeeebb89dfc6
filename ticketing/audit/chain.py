"""A gate's stored journal re-checked from the database alone: every event's hash against its content, every
link onto the previous event, and every kept upload signature against the stored events it covers.

The stored rows are what the gate signed (`scan_events.event` is the canonical JSON the hash covers), so the
check needs nothing the auditors cannot read through `GET /v1/audit/journal` and recompute with their own
tools (docs/audit.md shows how). Gaps the gate declared lost (accepted journal gaps) break the link but are
not a fault; seqs missing without one are.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from ticketing.audit.models import (
    ChainAnswer,
    ChainBreak,
    GateChain,
    JournalBatchItem,
    JournalEntry,
    JournalPage,
)
from ticketing.audit.query import Query, iso
from ticketing.audit.tables import GAPS, GATES, SCANS
from ticketing.errors import InvalidRequest
from ticketing.models import JournalBatch, table_of
from validator.codec import public_key_from_bytes
from validator.journal import GENESIS_HASH, ChainedEvent, signature_holds
from validator.wire import b64url_decode

__all__ = ["CHAIN_FILTERS", "JOURNAL_FILTERS", "journal_page", "verify_chain"]

CHAIN_FILTERS = frozenset({"gate", "from", "to"})
JOURNAL_FILTERS = frozenset({"gate", "cursor", "limit"})
_PAGE = 5000  # events read per statement while walking a chain
_BATCHES: sa.Table = table_of(JournalBatch)


@dataclass
class _Walk:
    """Where a walk along one gate's chain stands."""

    expected: str | None  # the hash the next event must chain onto; None just after an accepted gap
    last: int | None = None
    events: int = 0
    first_break: ChainBreak | None = None
    gaps: list[tuple[int, int]] = field(default_factory=list)


def verify_chain(session: Session, q: Query) -> ChainAnswer:
    """Each gate's journal (q.gate's only, when given), over the seqs of its events dated in q's range (all
    of them without one)."""
    if q.gate is not None:
        gates = [q.gate]
    else:
        gates = list(session.execute(sa.select(GATES.c.gate_id).order_by(GATES.c.gate_id)).scalars())
    checked = [check_gate(session, gate, q) for gate in gates]
    return ChainAnswer(
        since=iso(q.since),
        until=iso(q.until),
        ok=all(g.first_break is None for g in checked),
        gates=checked,
    )


def check_gate(session: Session, gate: str, q: Query) -> GateChain:
    """One gate's chain and signatures over its seqs in q's range: the first break, if any."""
    lo, hi = _seq_range(session, gate, q)
    if lo is None or hi is None:
        return GateChain(
            gate=gate,
            from_seq=None,
            to_seq=None,
            events=0,
            signatures=0,
            unsigned_events=0,
            accepted_gaps=0,
            first_break=None,
        )
    walk = _walk(session, gate, lo, hi)
    signatures, covered, bad = _check_signatures(session, gate, lo, hi)
    return GateChain(
        gate=gate,
        from_seq=lo,
        to_seq=hi,
        events=walk.events,
        signatures=signatures,
        unsigned_events=max(0, _stored_count(session, gate, lo, hi) - covered),
        accepted_gaps=len(walk.gaps),
        # The chain's own break pinpoints an event; a failing signature matters when the chain holds
        # (rewritten with fresh hashes) and would otherwise name the upload around that event.
        first_break=walk.first_break or bad,
    )


def _seq_range(session: Session, gate: str, q: Query) -> tuple[int | None, int | None]:
    t = SCANS.c
    dated = [t.at >= q.since] if q.since is not None else []
    dated += [t.at < q.until] if q.until is not None else []
    row = session.execute(
        sa.select(sa.func.min(t.seq), sa.func.max(t.seq)).where(t.gate_id == gate, *dated)
    ).one()
    return row[0], row[1]


def _stored_count(session: Session, gate: str, lo: int, hi: int) -> int:
    t = SCANS.c
    query = sa.select(sa.func.count()).where(t.gate_id == gate, t.seq >= lo, t.seq <= hi)
    return int(session.execute(query).scalar_one())


def _accepted_gaps(session: Session, gate: str) -> list[tuple[int, int]]:
    g = GAPS.c
    query = sa.select(g.from_seq, g.to_seq).where(g.gate_id == gate, g.accepted_at.is_not(None))
    return [(int(a), int(b)) for a, b in session.execute(query).all()]


def _walk(session: Session, gate: str, lo: int, hi: int) -> _Walk:
    """Walk the stored events lo..hi in seq order; stop at the first break."""
    accepted = _accepted_gaps(session, gate)
    walk = _Walk(expected=_hash_before(session, gate, lo))
    if walk.expected is None and lo > 1 and not _gap_covers(accepted, lo - 1, lo - 1):
        walk.first_break = ChainBreak(
            seq=lo - 1, problem="missing", detail=f"event {lo - 1} is not stored and no gap was declared"
        )
        return walk
    for row in _events(session, gate, lo, hi):
        if not _step(walk, row, accepted):
            break
    return walk


def _step(walk: _Walk, row: Any, accepted: Sequence[tuple[int, int]]) -> bool:
    """Check one event against the walk so far; False once the walk has found its break."""
    seq = int(row.seq)
    if walk.last is not None and seq != walk.last + 1:
        if not _gap_covers(accepted, walk.last + 1, seq - 1):
            detail = f"events {walk.last + 1} to {seq - 1} are not stored and no gap was declared"
            walk.first_break = ChainBreak(seq=walk.last + 1, problem="missing", detail=detail)
            return False
        walk.gaps.append((walk.last + 1, seq - 1))
        walk.expected = None
    if walk.expected is not None and row.prev_hash != walk.expected:
        detail = f"event {seq}'s prev_hash is not the hash of event {seq - 1}"
        walk.first_break = ChainBreak(seq=seq, problem="broken_link", detail=detail)
        return False
    if _content_hash(row.prev_hash, row.event) != row.hash:
        detail = f"event {seq}'s hash is not sha256(prev_hash + event)"
        walk.first_break = ChainBreak(seq=seq, problem="hash_mismatch", detail=detail)
        return False
    walk.expected, walk.last, walk.events = row.hash, seq, walk.events + 1
    return True


def _content_hash(prev_hash: str, event: str) -> str | None:
    try:
        return hashlib.sha256(bytes.fromhex(prev_hash) + event.encode()).hexdigest()
    except ValueError:  # a prev_hash that is not hex cannot be any event's link
        return None


def _gap_covers(accepted: Sequence[tuple[int, int]], first: int, last: int) -> bool:
    """Whether accepted gaps together cover every seq first..last."""
    at = first
    for a, b in sorted(accepted):
        if a <= at <= b:
            at = b + 1
        if at > last:
            return True
    return at > last


def _hash_before(session: Session, gate: str, lo: int) -> str | None:
    """The hash event `lo` must chain onto: the genesis, the stored event before it, or None (a gap)."""
    if lo == 1:
        return GENESIS_HASH
    t = SCANS.c
    query = sa.select(t.hash).where(t.gate_id == gate, t.seq == lo - 1)
    found = session.execute(query).scalar_one_or_none()
    return str(found) if found is not None else None


def _events(session: Session, gate: str, lo: int, hi: int) -> Iterator[Any]:
    t = SCANS.c
    after = lo - 1
    while True:
        rows = session.execute(
            sa.select(t.seq, t.at, t.prev_hash, t.hash, t.event)
            .where(t.gate_id == gate, t.seq > after, t.seq <= hi)
            .order_by(t.seq)
            .limit(_PAGE)
        ).all()
        yield from rows
        if len(rows) < _PAGE:
            return
        after = int(rows[-1].seq)


def _check_signatures(session: Session, gate: str, lo: int, hi: int) -> tuple[int, int, ChainBreak | None]:
    """(signatures checked, seqs lo..hi they cover, the first upload whose signature fails)."""
    b = _BATCHES.c
    batches = session.execute(
        sa.select(_BATCHES)
        .where(b.gate_id == gate, b.last_seq >= lo, b.first_seq <= hi)
        .order_by(b.first_seq, b.id)
    ).all()
    covered: set[int] = set()
    for batch in batches:
        if not _batch_holds(session, gate, batch):
            detail = f"the upload of events {batch.first_seq} to {batch.last_seq} is not signed by them"
            return (
                len(covered),
                len(covered),
                ChainBreak(seq=int(batch.first_seq), problem="bad_signature", detail=detail),
            )
        covered.update(range(max(lo, batch.first_seq), min(hi, batch.last_seq) + 1))
    return len(batches), len(covered), None


def _batch_holds(session: Session, gate: str, batch: Any) -> bool:
    t = SCANS.c
    rows = session.execute(
        sa.select(t.seq, t.prev_hash, t.hash, t.event)
        .where(t.gate_id == gate, t.seq >= batch.first_seq, t.seq <= batch.last_seq)
        .order_by(t.seq)
    ).all()
    if len(rows) != batch.last_seq - batch.first_seq + 1:
        return False
    try:
        key = public_key_from_bytes(b64url_decode(batch.device_public_key))
        signature = b64url_decode(batch.signature)
        events = [ChainedEvent(gate, r.seq, json.loads(r.event), r.prev_hash, r.hash) for r in rows]
    except ValueError:
        return False
    return signature_holds(gate, events, signature, key)


def journal_page(session: Session, q: Query) -> JournalPage:
    """q.gate's stored events after the seq in q.cursor (none: from the first), q.limit of them, and the
    kept uploads that overlap them."""
    if q.gate is None:
        raise InvalidRequest("give the gate whose journal to read", code="bad_filter")
    after = _seq_cursor(q.cursor)
    t = SCANS.c
    rows = session.execute(
        sa.select(t.seq, t.at, t.prev_hash, t.hash, t.event)
        .where(t.gate_id == q.gate, t.seq > after)
        .order_by(t.seq)
        .limit(q.limit + 1)
    ).all()
    more, rows = len(rows) > q.limit, rows[: q.limit]
    items = [
        JournalEntry(seq=r.seq, at=iso(r.at), prev_hash=r.prev_hash, hash=r.hash, event=r.event) for r in rows
    ]
    batches = _batches_over(session, q.gate, items[0].seq, items[-1].seq) if items else []
    return JournalPage(gate=q.gate, items=items, batches=batches, next=items[-1].seq if more else None)


def _seq_cursor(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidRequest("cursor is the seq to read after (digits)", code="bad_cursor")
    return int(cursor)


def _batches_over(session: Session, gate: str, lo: int, hi: int) -> list[JournalBatchItem]:
    b = _BATCHES.c
    rows = session.execute(
        sa.select(_BATCHES)
        .where(b.gate_id == gate, b.last_seq >= lo, b.first_seq <= hi)
        .order_by(b.first_seq, b.id)
    ).all()
    return [
        JournalBatchItem(
            first_seq=r.first_seq,
            last_seq=r.last_seq,
            signature=r.signature,
            device_public_key=r.device_public_key,
            received_at=iso(r.received_at),
        )
        for r in rows
    ]
