"""A journal event as a scan_events row: every field checked against its column, and what a batch says
beside its events (the gate's clock offset, the months its events fall in)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from ticketing.errors import BadEvent, JournalRejected
from validator.journal import ChainedEvent
from validator.wire import canonical_json, parse_iso

__all__ = ["batch_months", "check_fields", "clock_offset", "event_row", "row_for"]

_LENGTHS = {"station": 16, "direction": 8, "input_kind": 16, "verdict": 8, "reason": 40, "credential": 48}
_LENGTHS |= {"product": 24, "pass_id": 32, "holder_hash": 32, "flags": 200, "free_category": 24}


_MAX_OFFSET_S = 10 * 366 * 86400  # a gate's clock more than ten years off is not a measurement


def clock_offset(batch: Mapping[str, Any]) -> int | None:
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


def batch_months(items: list[Any]) -> list[datetime]:
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


def row_for(gate_id: str, event: ChainedEvent, now: datetime) -> dict[str, Any]:
    """The scan_events row of a verified event (without its feed_seq)."""
    return event_row(gate_id, event, now, canonical_json(event.event))


def event_row(
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
_NESTED_FIELDS["pass"] = {"product": "product", "pass_id": "pass_id", "category": "free_category"}
_LIMITS = _LENGTHS | {"at": 40, "serial": 20}


def check_fields(event: ChainedEvent) -> None:
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
    # "settle": a staff settlement (ticketing.ingest.adjustments), neither a passage nor a refusal.
    if direction not in (None, "entry", "exit") or verdict not in (None, "accept", "deny", "settle"):
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
        "free_category": _text(holder_pass.get("category"), "free_category", problems),
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
