"""Journal ingest: verify a gate's signed batch and its chain, store each event once, report per event.

One upload per gate at a time (the gate row is locked), so the chain check, the head and the (gate, seq)
dedup below are consistent. The insert still tolerates duplicates (ON CONFLICT DO NOTHING on both engines:
(gate_id, seq) on SQLite, (gate_id, seq, at) on partitioned PostgreSQL, where a unique key must hold the
partition key): a batch sent twice lands once whatever the locking does.

Two transactions per batch, each a handful of round trips whatever its size: the first stores the rows as
one INSERT ... SELECT FROM unnest(arrays) (bulk.ColumnArrays) and commits; the second pairs the uses into
trips, sets tickets.first_used_at and revokes double uses (ticketing.services.pairing, which says why apart
and how nothing stored is left unpaired). Verification hands over the canonical JSON it hashed, so each
event is encoded once. A statement per row would cost a round trip per event; docs/audit.md has the
figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from ticketing import partitions
from ticketing.errors import BadEvent, JournalGapFound, JournalRejected, Unauthorized, WrongGate
from ticketing.models import ChangeCounter, Gate, GateStatus, JournalGap, ScanEvent, table_of
from ticketing.services import double_use, pairing, scan_counts
from ticketing.services.bulk import ColumnArrays, naive_utc
from validator.codec import public_key_from_bytes
from validator.journal import (
    GENESIS_HASH,
    ChainedEvent,
    JournalError,
    canonical_json,
    verify_batch_canonical,
)
from validator.wire import b64url_decode, parse_iso

__all__ = ["JOURNAL_MAX_BYTES", "MAX_BATCH_EVENTS", "PG_COLUMNS", "ingest_batch", "naive_utc", "row_for"]

MAX_BATCH_EVENTS = 2000  # the gate sends 500 (validator.sync.JOURNAL_BATCH); a catching-up gate may send more
JOURNAL_MAX_BYTES = 4 * 1024 * 1024  # request body limit for POST /v1/gate/journal only

_STORED, _DUPLICATE, _REFUSED = "stored", "duplicate", "refused"
_LENGTHS = {"station": 16, "direction": 8, "input_kind": 16, "verdict": 8, "reason": 40, "credential": 48}
_LENGTHS |= {"product": 24, "pass_id": 32, "holder_hash": 32, "flags": 200}


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
    rule: double_use.DoubleUseRule,
) -> list[dict[str, Any]]:
    """Store a batch from `gate`; returns `[{"seq", "status"}]`, status stored, duplicate or refused.
    Commits. Raises WrongGate, JournalRejected (the batch does not verify) or JournalGapFound.
    `engine` (the session's own) makes missing partitions on a connection outside this transaction;
    `rule` is the operator's double-use rule (DoubleUseRule.of the service's network and policy)."""
    # Signature, the batch's own chain and every field first: a batch that does not verify changes nothing,
    # not even a gap row or a partition.
    device_key_text, verified = _checked_batch(session, batch, gate.gate_id)
    items = batch["events"]
    offset = _clock_offset(batch)
    partitions.ensure_for_times(engine, _months(items), now)
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
    session.commit()  # stored: the gate and the events counter are free for the next upload
    uses = [(r, event) for r, event in stored if r["feed_seq"] is not None]
    # Trips, first uses and double uses in a transaction of their own (ticketing.services.pairing).
    pairing.pair_stored_uses(session, [r for r, _ in uses], [event for _, event in uses], now, rule)
    session.commit()
    problems = {r["seq"]: r["problem"] for r in rows}
    return [{"seq": e.seq, "status": _status(e, known, inserted, problems)} for e in events]


_GATES: sa.Table = table_of(Gate)
_SCANS: sa.Table = table_of(ScanEvent)


def _store_new(
    session: Session,
    gate: Any,
    fresh: list[tuple[ChainedEvent, bytes]],
    now: datetime,
    offset: int | None,
) -> tuple[list[dict[str, Any]], set[int], list[tuple[dict[str, Any], Mapping[str, Any]]]]:
    """Insert the events not stored yet, count them, move the gate's head: (their rows, the seqs inserted,
    each inserted row with its event). Not committed."""
    rows = [_row(gate.gate_id, e, now, body, offset) for e, body in fresh]
    inserted = _insert(session, rows)
    stored = [(r, e.event) for r, (e, _) in zip(rows, fresh, strict=True) if r["seq"] in inserted]
    scan_counts.count_stored(session, [r for r, _ in stored])
    session.connection().execute(
        sa.update(_GATES)
        .where(_GATES.c.gate_id == gate.gate_id)
        .values(journal_head=max([gate.journal_head, *inserted]), last_upload_at=now)
    )
    return rows, inserted, stored


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
        _check_fields(event)
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


def _insert(session: Session, rows: list[dict[str, Any]]) -> set[int]:
    """Insert, skipping any (gate, seq) already there; returns the seqs actually inserted."""
    if not rows:
        return set()
    uses = [r for r in rows if r["verdict"] == "accept" and r["credential"] and not r["problem"]]
    # Reserved last, just before the insert: the counter row stays locked until commit (see models.py).
    # That lock also orders concurrent uploads that carry uses, which trip pairing relies on.
    for row, feed_seq in zip(uses, _reserve_feed(session, len(uses)), strict=True) if uses else ():
        row["feed_seq"] = feed_seq
    if session.get_bind().dialect.name == "postgresql":
        return _insert_unnest(session, rows)
    table = table_of(ScanEvent)
    statement = (
        sqlite.insert(table).on_conflict_do_nothing(index_elements=["gate_id", "seq"]).returning(table.c.seq)
    )
    return set(session.execute(statement, rows).scalars())


_COUNTERS: sa.Table = table_of(ChangeCounter)


def _reserve_feed(session: Session, count: int) -> range:
    """`count` consecutive feed_seqs: common.next_seqs in one statement (UPDATE ... RETURNING)."""
    c = _COUNTERS.c
    statement = (
        sa.update(_COUNTERS).where(c.name == "events").values(value=c.value + count).returning(c.value)
    )
    value = session.connection().execute(statement).scalar_one_or_none()
    if value is None:
        raise RuntimeError("change counter 'events' is missing: run the migrations")
    return range(value - count + 1, value + 1)


PG_COLUMNS = tuple(c.name for c in table_of(ScanEvent).columns if c.name != "id")
# What differs from row to row; gate_id, received_at and clock_offset_s are the same for the whole batch.
_PG_ARRAYS = tuple(c for c in PG_COLUMNS if c not in ("gate_id", "received_at", "clock_offset_s"))
_PG_TYPES = {"seq": "bigint", "at": "timestamp", "owed_vnd": "integer", "ticket_serial": "bigint"}
_PG_TYPES["feed_seq"] = "bigint"


def _insert_unnest(session: Session, rows: list[dict[str, Any]]) -> set[int]:
    """One statement for the whole batch: an array per column (bulk.ColumnArrays)."""
    arrays = ColumnArrays()
    sources = [arrays.add(c, _PG_TYPES.get(c, "text"), [r[c] for r in rows]) for c in _PG_ARRAYS]
    params = arrays.params
    params["gate_id"], params["received_at"] = rows[0]["gate_id"], naive_utc(rows[0]["received_at"])
    params["clock_offset_s"] = rows[0]["clock_offset_s"]
    constant = "%(gate_id)s, %(received_at)s, %(clock_offset_s)s::integer"
    statement = (
        f"INSERT INTO scan_events (gate_id, received_at, clock_offset_s, {', '.join(_PG_ARRAYS)})"  # noqa: S608
        f" SELECT {constant}, * FROM unnest({', '.join(sources)})"
        " ON CONFLICT (gate_id, seq, at) DO NOTHING RETURNING seq"
    )
    return set(session.connection().exec_driver_sql(statement, params).scalars())


def _months(items: list[Any]) -> list[datetime]:
    """The months a batch's events fall in, read cheaply from their ISO times (parsed properly later)."""
    months: set[str] = set()
    for item in items:
        event = item.get("event") if isinstance(item, dict) else None
        at = event.get("at") if isinstance(event, dict) else None
        if isinstance(at, str) and len(at) >= 7:
            months.add(at[:7])
    found = []
    for text in months:
        try:
            found.append(datetime(int(text[:4]), int(text[5:7]), 1, tzinfo=UTC))
        except ValueError:
            continue
    return found


# --- one event into columns --------------------------------------------------------------------------------


def row_for(gate_id: str, event: ChainedEvent, now: datetime) -> dict[str, Any]:
    """The scan_events row of a verified event (without its feed_seq)."""
    return _row(gate_id, event, now, canonical_json(event.event))


def _row(
    gate_id: str, event: ChainedEvent, now: datetime, canonical: bytes, clock_offset_s: int | None = None
) -> dict[str, Any]:
    """`canonical` is canonical_json(event.event), as verification computed it for the chain hash."""
    columns, problems = _columns(event.event)
    return {
        "gate_id": gate_id,
        "seq": event.seq,
        "hash": event.hash,
        "prev_hash": event.prev_hash,
        "event": canonical.decode("utf-8"),
        "received_at": now,
        "feed_seq": None,
        "problem": "; ".join(problems)[:200] or None,
        "clock_offset_s": clock_offset_s,
        **columns,
    }


_MAX_SEQ = 2**63 - 1  # BIGINT
_MAX_OWED_VND = 2**31 - 1  # INTEGER
# Event key → the column (and so the length) it lands in; nested objects name their own keys.
_STRING_FIELDS = {"station": "station", "direction": "direction", "input": "input_kind", "verdict": "verdict"}
_STRING_FIELDS |= {"reason": "reason", "credential": "credential", "holder_hash": "holder_hash", "at": "at"}
_NESTED_FIELDS = {"ticket": {"product": "product", "serial": "serial"}}
_NESTED_FIELDS["pass"] = {"product": "product", "pass_id": "pass_id"}
_LIMITS = _LENGTHS | {"at": 40, "serial": 20}


def _check_fields(event: ChainedEvent) -> None:
    """Refuse (422 bad_event) a field no column can hold: a wrong JSON type (a boolean is no integer), an
    integer beyond its column, a NUL (PostgreSQL text holds none) or a string longer than its column.
    The detail names the field and the seq, never the value (it may be a CCCD number)."""
    fields = event.event
    if event.seq > _MAX_SEQ:
        raise BadEvent(f"event seq beyond {_MAX_SEQ}")
    for key, column in _STRING_FIELDS.items():
        _check_string(fields.get(key), key, _LIMITS[column], event.seq)
    for outer, inner in _NESTED_FIELDS.items():
        nested = fields.get(outer)
        if nested is None:
            continue
        if not isinstance(nested, dict):
            raise BadEvent(f"event {event.seq}: field {outer} is not an object")
        for key, column in inner.items():
            _check_string(nested.get(key), f"{outer}.{key}", _LIMITS[column], event.seq)
    owed = fields.get("owed_vnd")
    if owed is not None and (type(owed) is not int or not 0 <= owed <= _MAX_OWED_VND):
        raise BadEvent(f"event {event.seq}: field owed_vnd is not an integer from 0 to {_MAX_OWED_VND}")
    flags = fields.get("flags")
    if flags is not None:
        if not isinstance(flags, list):
            raise BadEvent(f"event {event.seq}: field flags is not a list")
        for flag in flags:
            _check_string(flag, "flags", _LENGTHS["flags"], event.seq)
        if len(",".join(flags)) > _LENGTHS["flags"]:
            raise BadEvent(f"event {event.seq}: field flags longer than {_LENGTHS['flags']} characters")


_MAX_OFFSET_S = 10 * 366 * 86400  # a gate's clock more than ten years off is not a measurement


def _clock_offset(batch: Mapping[str, Any]) -> int | None:
    """The batch's `clock_offset_seconds` (server minus gate clock when the gate uploads; outside the device
    signature, which covers the events: the gate token vouches for it), whole seconds; None if absent."""
    value = batch.get("clock_offset_seconds")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not abs(value) <= _MAX_OFFSET_S:
        raise JournalRejected(
            "clock_offset_seconds: a number of seconds, at most ten years", code="bad_format"
        )
    return round(value)


def _check_string(value: object, name: str, limit: int, seq: int) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise BadEvent(f"event {seq}: field {name} is not a string")
    if "\x00" in value:
        raise BadEvent(f"event {seq}: field {name} holds a NUL character")
    if len(value) > limit:
        raise BadEvent(f"event {seq}: field {name} longer than {limit} characters")


def _text(value: object, name: str, problems: list[str], required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > _LENGTHS[name]:
        problems.append(f"bad {name}")
        return None
    return value


def _columns(event: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Every field of a journal event (validator.core.event_for) as columns; a misfit is a problem."""
    problems: list[str] = []
    ticket = _object(event.get("ticket"))
    holder_pass = _object(event.get("pass"))
    credential = _text(event.get("credential"), "credential", problems)
    if credential is not None and not credential.startswith(("t:", "p:")):
        problems.append("bad credential")
    direction = _text(event.get("direction"), "direction", problems, required=True)
    verdict = _text(event.get("verdict"), "verdict", problems, required=True)
    if direction not in (None, "entry", "exit") or verdict not in (None, "accept", "deny"):
        problems.append("bad direction or verdict")
    flags = event.get("flags") or []
    owed = event.get("owed_vnd") or 0
    if not isinstance(flags, list) or not all(isinstance(f, str) for f in flags):
        problems.append("bad flags")
        flags = []
    if not isinstance(owed, int) or owed < 0:
        problems.append("bad owed_vnd")
        owed = 0
    return {
        "station": _text(event.get("station"), "station", problems, required=True),
        "at": _time(event.get("at"), problems),
        "direction": direction,
        "input_kind": _text(event.get("input"), "input_kind", problems),
        "verdict": verdict,
        "reason": _text(event.get("reason"), "reason", problems),
        "flags": _text(",".join(sorted(flags)) or None, "flags", problems) or "",
        "owed_vnd": owed,
        "credential": credential,
        "ticket_serial": _serial(credential, ticket.get("serial")),
        "product": _text(holder_pass.get("product") or ticket.get("product"), "product", problems),
        "pass_id": _text(holder_pass.get("pass_id"), "pass_id", problems),
        "holder_hash": _text(event.get("holder_hash"), "holder_hash", problems),
    }, problems


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _time(value: object, problems: list[str]) -> datetime | None:
    try:
        return parse_iso(value)  # type: ignore[arg-type]
    except (ValueError, TypeError):
        problems.append("bad at")
        return None


def _serial(credential: str | None, shown: object) -> int | None:
    text = credential[2:] if credential and credential.startswith("t:") else shown
    if isinstance(text, str) and text.isdigit() and len(text) <= 19 and int(text) < 2**63:
        return int(text)
    return None
