"""Parse the list items a gate receives (bundle and sync share them). Parsers raise ValueError on bad data."""

from __future__ import annotations

from typing import Any

from fare_rules.free import FreeCategory
from fare_rules.model import Direction
from fare_rules.products import Product
from validator.records import FreeRiderRecord, PassRecord, RemoteUse, RevocationRecord
from validator.wire import iso, parse_iso

__all__ = [
    "free_rider_to_json",
    "parse_free_rider",
    "parse_pass",
    "parse_remote_use",
    "parse_revocation",
    "pass_to_json",
    "remote_use_to_json",
    "revocation_to_json",
]


def _int(obj: dict[str, Any], key: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{key} must be a non-negative integer")
    return value


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{key} must be a non-empty string")
    return value


def _object(item: object) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise ValueError("a list item must be an object")
    return item


def parse_revocation(item: object) -> RevocationRecord:
    """`{"seq": 7, "serial": 12345 | "12345", "reason": "refunded"}`."""
    obj = _object(item)
    serial = obj.get("serial")
    if isinstance(serial, str) and serial.isdigit():
        serial = int(serial)  # serials are uint64: JSON clients that fear big numbers may send text
    return RevocationRecord(_int(obj, "seq"), _int({"serial": serial}, "serial"), _str(obj, "reason"))


def parse_pass(item: object) -> PassRecord:
    """One pass registry entry (see docs/gate.md)."""
    obj = _object(item)
    holder = bytes.fromhex(_str(obj, "holder_hash"))
    if len(holder) != 16:
        raise ValueError("holder_hash must be 16 bytes (32 hex digits)")
    birth_year = obj.get("birth_year")
    if birth_year is not None and not isinstance(birth_year, int):
        raise ValueError("birth_year must be an integer or null")
    initials = obj.get("initials") or ""
    if not isinstance(initials, str):
        raise ValueError("initials must be a string")
    return PassRecord(
        seq=_int(obj, "seq"),
        pass_id=_str(obj, "pass_id"),
        holder_hash=holder,
        product=Product(_str(obj, "product")),
        valid_from=parse_iso(_str(obj, "valid_from")),
        valid_until=parse_iso(_str(obj, "valid_until")),
        status=_str(obj, "status"),
        initials=initials,
        birth_year=birth_year,
    )


def parse_free_rider(item: object) -> FreeRiderRecord:
    """One free-rider registry entry: seq, entry_id, holder_hash, category, valid_from, valid_until and
    status (docs/gate.md)."""
    obj = _object(item)
    holder = bytes.fromhex(_str(obj, "holder_hash"))
    if len(holder) != 16:
        raise ValueError("holder_hash must be 16 bytes (32 hex digits)")
    return FreeRiderRecord(
        seq=_int(obj, "seq"),
        entry_id=_str(obj, "entry_id"),
        holder_hash=holder,
        category=FreeCategory(_str(obj, "category")).value,
        valid_from=parse_iso(_str(obj, "valid_from")),
        valid_until=parse_iso(_str(obj, "valid_until")),
        status=_str(obj, "status"),
    )


def parse_remote_use(item: object) -> RemoteUse:
    """One use by another gate: seq (cursor), gate, gate_seq, credential (`t:<serial>` or `p:<pass id>`),
    station, direction, at."""
    obj = _object(item)
    credential = _str(obj, "credential")
    if not credential.startswith(("t:", "p:")):
        raise ValueError("credential must start with t: or p:")
    return RemoteUse(
        gate=_str(obj, "gate"),
        gate_seq=_int(obj, "gate_seq"),
        credential=credential,
        station=_str(obj, "station"),
        direction=Direction(_str(obj, "direction")),
        at=parse_iso(_str(obj, "at")),
    )


def revocation_to_json(r: RevocationRecord) -> dict[str, Any]:
    return {"seq": r.seq, "serial": r.serial, "reason": r.reason}


def pass_to_json(p: PassRecord) -> dict[str, Any]:
    return {
        "seq": p.seq,
        "pass_id": p.pass_id,
        "holder_hash": p.holder_hash.hex(),
        "product": p.product.value,
        "valid_from": iso(p.valid_from),
        "valid_until": iso(p.valid_until),
        "status": p.status,
        "initials": p.initials,
        "birth_year": p.birth_year,
    }


def free_rider_to_json(f: FreeRiderRecord) -> dict[str, Any]:
    return {
        "seq": f.seq,
        "entry_id": f.entry_id,
        "holder_hash": f.holder_hash.hex(),
        "category": f.category,
        "valid_from": iso(f.valid_from),
        "valid_until": iso(f.valid_until),
        "status": f.status,
    }


def remote_use_to_json(u: RemoteUse, seq: int) -> dict[str, Any]:
    return {
        "seq": seq,
        "gate": u.gate,
        "gate_seq": u.gate_seq,
        "credential": u.credential,
        "station": u.station,
        "direction": u.direction.value,
        "at": iso(u.at),
    }
