"""Typed reads and writes of the gate store's tables. Callers own the transaction (see store.transaction)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fare_rules.model import Direction, Use
from fare_rules.products import Product
from validator.codec import KeyEntry, Keyset, public_key_to_bytes
from validator.journal import GENESIS_HASH, ChainedEvent
from validator.store import from_micros, to_micros
from validator.wire import b64url_decode, b64url_encode, canonical_json, iso, parse_iso

__all__ = [
    "DECIDING_LISTS",
    "FreeRiderRecord",
    "GateConfig",
    "KeyRecord",
    "PassRecord",
    "RemoteUse",
    "RevocationRecord",
    "add_gate",
    "append_journal",
    "delete_state",
    "free_riders_for_holder",
    "get_state",
    "journal_backlog",
    "journal_head",
    "keyset_from_records",
    "load_gate_by_key",
    "load_keys",
    "passes_for_holder",
    "pending_events",
    "record_use",
    "records_from_keyset",
    "replace_keys",
    "revocation_cause",
    "set_state",
    "set_uploaded",
    "upsert_free_riders",
    "upsert_passes",
    "upsert_remote_uses",
    "upsert_revocations",
    "uses_of",
]

# The lists a scan is decided from: the oldest of them dates what the gate knows (stale_lists). A list never
# synced counts as no sync at all.
DECIDING_LISTS = ("revocations", "passes", "free_riders")


@dataclass(frozen=True, slots=True)
class GateConfig:
    gate_id: str
    station: str
    device_public_key: str  # base64url raw
    device_key_path: str
    server_url: str | None = None


@dataclass(frozen=True, slots=True)
class KeyRecord:
    """One entry of the issuer keyset as GET /v1/keys publishes it."""

    kid: int
    alg: str
    public_key: str  # base64url raw Ed25519
    not_after: str | None = None
    revoked: bool = False

    def public(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(b64url_decode(self.public_key))


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    seq: int
    serial: int
    reason: str


@dataclass(frozen=True, slots=True)
class PassRecord:
    seq: int
    pass_id: str
    holder_hash: bytes
    product: Product
    valid_from: datetime
    valid_until: datetime
    status: str  # active | pending_verification | revoked
    initials: str
    birth_year: int | None


@dataclass(frozen=True, slots=True)
class FreeRiderRecord:
    """One free-rider registry entry: the keyed hash, category and validity only (docs/gate.md)."""

    seq: int
    entry_id: str
    holder_hash: bytes
    category: str  # a fare_rules.free.FreeCategory value
    valid_from: datetime
    valid_until: datetime
    status: str  # active | ended


@dataclass(frozen=True, slots=True)
class RemoteUse:
    """An accepted passage recorded by another gate, from GET /v1/gate/events."""

    gate: str
    gate_seq: int
    credential: str
    station: str
    direction: Direction
    at: datetime


# --- config and station state ---


def add_gate(conn: sqlite3.Connection, config: GateConfig, now: datetime) -> None:
    conn.execute(
        "INSERT INTO gate_config"
        " (gate_id, station, device_public_key, device_key_path, server_url, enrolled_at)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (gate_id) DO UPDATE SET station = excluded.station,"
        " device_public_key = excluded.device_public_key, device_key_path = excluded.device_key_path,"
        " server_url = excluded.server_url",
        (
            config.gate_id,
            config.station,
            config.device_public_key,
            config.device_key_path,
            config.server_url,
            to_micros(now),
        ),
    )


def load_gate_by_key(conn: sqlite3.Connection, device_public_key: str) -> GateConfig | None:
    row = conn.execute(
        "SELECT gate_id, station, device_public_key, device_key_path, server_url FROM gate_config"
        " WHERE device_public_key = ?",
        (device_public_key,),
    ).fetchone()
    return GateConfig(*row) if row else None


def get_state(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM station_state WHERE key = ?", (key,)).fetchone()
    return str(row[0]) if row else None


def set_state(conn: sqlite3.Connection, key: str, value: str) -> None:
    conn.execute(
        "INSERT INTO station_state (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )


def delete_state(conn: sqlite3.Connection, key: str) -> None:
    conn.execute("DELETE FROM station_state WHERE key = ?", (key,))


# --- keyset and lists ---


def replace_keys(conn: sqlite3.Connection, keys: Iterable[KeyRecord]) -> None:
    """Replace the keyset (the server publishes it whole) and bump its revision so gates reload it."""
    conn.execute("DELETE FROM keyset")
    conn.executemany(
        "INSERT INTO keyset (kid, alg, public_key, not_after, revoked) VALUES (?, ?, ?, ?, ?)",
        [(k.kid, k.alg, k.public_key, k.not_after, int(k.revoked)) for k in keys],
    )
    rev = int(get_state(conn, "keyset_rev") or "0") + 1
    set_state(conn, "keyset_rev", str(rev))


def load_keys(conn: sqlite3.Connection) -> list[KeyRecord]:
    rows = conn.execute("SELECT kid, alg, public_key, not_after, revoked FROM keyset ORDER BY kid").fetchall()
    return [KeyRecord(kid, alg, pk, na, bool(rv)) for kid, alg, pk, na, rv in rows]


def keyset_from_records(keys: Iterable[KeyRecord]) -> dict[int, KeyEntry]:
    return {
        k.kid: KeyEntry(k.kid, k.public(), k.revoked, parse_iso(k.not_after) if k.not_after else None)
        for k in keys
        if k.alg == "Ed25519"
    }


def records_from_keyset(keyset: Keyset) -> list[KeyRecord]:
    return [
        KeyRecord(
            e.key_id,
            "Ed25519",
            b64url_encode(public_key_to_bytes(e.public_key)),
            iso(e.not_after) if e.not_after else None,
            e.revoked,
        )
        for e in keyset.values()
    ]


def upsert_revocations(conn: sqlite3.Connection, items: Iterable[RevocationRecord]) -> None:
    conn.executemany(
        "INSERT INTO revocations (serial, seq, reason) VALUES (?, ?, ?)"
        " ON CONFLICT (serial) DO UPDATE SET seq = excluded.seq, reason = excluded.reason",
        [(r.serial, r.seq, r.reason) for r in items],
    )


def revocation_cause(conn: sqlite3.Connection, serial: int) -> str | None:
    """Why the issuer revoked ticket `serial` (its revocation list's reason), or None if it did not."""
    row = conn.execute("SELECT reason FROM revocations WHERE serial = ?", (serial,)).fetchone()
    return None if row is None else str(row[0])


def upsert_passes(conn: sqlite3.Connection, items: Iterable[PassRecord]) -> None:
    """Later items for the same pass (a status change) replace earlier ones: the registry is last-writer-wins
    by cursor order, which the server guarantees is oldest first."""
    conn.executemany(
        "INSERT INTO passes (pass_id, holder_hash, product, valid_from, valid_until, status, initials,"
        " birth_year, seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pass_id) DO UPDATE SET"
        " holder_hash = excluded.holder_hash, product = excluded.product, valid_from = excluded.valid_from,"
        " valid_until = excluded.valid_until, status = excluded.status, initials = excluded.initials,"
        " birth_year = excluded.birth_year, seq = excluded.seq",
        [
            (
                p.pass_id,
                p.holder_hash,
                p.product.value,
                to_micros(p.valid_from),
                to_micros(p.valid_until),
                p.status,
                p.initials,
                p.birth_year,
                p.seq,
            )
            for p in items
        ],
    )


def passes_for_holder(conn: sqlite3.Connection, holder_hash: bytes) -> list[PassRecord]:
    rows = conn.execute(
        "SELECT seq, pass_id, holder_hash, product, valid_from, valid_until, status, initials, birth_year"
        " FROM passes WHERE holder_hash = ?",
        (holder_hash,),
    ).fetchall()
    return [
        PassRecord(seq, pid, bytes(hh), Product(prod), from_micros(vf), from_micros(vu), st, ini, by)
        for seq, pid, hh, prod, vf, vu, st, ini, by in rows
    ]


def upsert_free_riders(conn: sqlite3.Connection, items: Iterable[FreeRiderRecord]) -> None:
    """Later items for the same entry (ended by staff) replace earlier ones, as passes do."""
    conn.executemany(
        "INSERT INTO free_riders (entry_id, holder_hash, category, valid_from, valid_until, status, seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (entry_id) DO UPDATE SET"
        " holder_hash = excluded.holder_hash, category = excluded.category, valid_from = excluded.valid_from,"
        " valid_until = excluded.valid_until, status = excluded.status, seq = excluded.seq",
        [
            (
                f.entry_id,
                f.holder_hash,
                f.category,
                to_micros(f.valid_from),
                to_micros(f.valid_until),
                f.status,
                f.seq,
            )
            for f in items
        ],
    )


def free_riders_for_holder(conn: sqlite3.Connection, holder_hash: bytes) -> list[FreeRiderRecord]:
    rows = conn.execute(
        "SELECT seq, entry_id, holder_hash, category, valid_from, valid_until, status FROM free_riders"
        " WHERE holder_hash = ?",
        (holder_hash,),
    ).fetchall()
    return [
        FreeRiderRecord(seq, eid, bytes(hh), cat, from_micros(vf), from_micros(vu), st)
        for seq, eid, hh, cat, vf, vu, st in rows
    ]


# --- uses ---


def uses_of(conn: sqlite3.Connection, credential: str) -> tuple[Use, ...]:
    rows = conn.execute(
        "SELECT station, direction, at FROM uses WHERE credential = ? ORDER BY at, id", (credential,)
    ).fetchall()
    return tuple(Use(station, Direction(direction), from_micros(at)) for station, direction, at in rows)


def record_use(
    conn: sqlite3.Connection,
    credential: str,
    *,
    station: str,
    direction: Direction,
    at: datetime,
    gate: str,
    seq: int,
) -> None:
    conn.execute(
        "INSERT INTO uses (credential, station, direction, at, gate, gate_seq, source)"
        " VALUES (?, ?, ?, ?, ?, ?, 'local')",
        (credential, station, direction.value, to_micros(at), gate, seq),
    )


def upsert_remote_uses(conn: sqlite3.Connection, items: Iterable[RemoteUse]) -> int:
    """Store other gates' uses once each; returns how many were new."""
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO uses (credential, station, direction, at, gate, gate_seq, source)"
        " VALUES (?, ?, ?, ?, ?, ?, 'remote')",
        [(u.credential, u.station, u.direction.value, to_micros(u.at), u.gate, u.gate_seq) for u in items],
    )
    return conn.total_changes - before


# --- journal ---


def journal_head(conn: sqlite3.Connection, gate: str) -> tuple[int, str]:
    """(last seq, last hash) of this gate's chain; (0, GENESIS_HASH) when empty."""
    row = conn.execute(
        "SELECT seq, hash FROM journal WHERE gate = ? ORDER BY seq DESC LIMIT 1", (gate,)
    ).fetchone()
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def append_journal(conn: sqlite3.Connection, event: ChainedEvent, at: datetime) -> None:
    conn.execute(
        "INSERT INTO journal (gate, seq, at, event, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)",
        (
            event.gate,
            event.seq,
            to_micros(at),
            canonical_json(event.event).decode(),
            event.prev_hash,
            event.hash,
        ),
    )


def pending_events(conn: sqlite3.Connection, gate: str, limit: int) -> list[ChainedEvent]:
    rows = conn.execute(
        "SELECT seq, event, prev_hash, hash FROM journal"
        " WHERE gate = ? AND uploaded = 'no' ORDER BY seq LIMIT ?",
        (gate, limit),
    ).fetchall()
    return [ChainedEvent(gate, seq, json.loads(ev), prev, digest) for seq, ev, prev, digest in rows]


def set_uploaded(conn: sqlite3.Connection, gate: str, statuses: Iterable[tuple[int, str]]) -> None:
    conn.executemany(
        "UPDATE journal SET uploaded = ? WHERE gate = ? AND seq = ?",
        [(st, gate, seq) for seq, st in statuses],
    )


def journal_backlog(conn: sqlite3.Connection, gate: str) -> int:
    row = conn.execute("SELECT count(*) FROM journal WHERE gate = ? AND uploaded = 'no'", (gate,)).fetchone()
    return int(row[0])
