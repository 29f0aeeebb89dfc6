"""The gate's local SQLite store: config, keyset, lists, uses and the journal, in one file.

Several gate processes of one station may open the same file (station mode): WAL lets them read while one
writes, `BEGIN IMMEDIATE` serialises the scans, and `busy_timeout` makes a gate wait for the lock instead of
failing. Times are stored as integer microseconds since the epoch (UTC) so they compare and sort as numbers.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

__all__ = ["SCHEMA_VERSION", "StoreError", "from_micros", "open_store", "to_micros", "transaction"]

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 10_000

_SCHEMA = """
CREATE TABLE gate_config (
    gate_id TEXT PRIMARY KEY,
    station TEXT NOT NULL,
    device_public_key TEXT NOT NULL UNIQUE,  -- base64url raw Ed25519: identifies which row a process is
    device_key_path TEXT NOT NULL,           -- reference only: the private key never enters the database
    server_url TEXT,
    enrolled_at INTEGER NOT NULL
);
-- Station-wide state shared by the gates of one database: lists, cursors, sync clock.
CREATE TABLE station_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE keyset (
    kid INTEGER PRIMARY KEY,
    alg TEXT NOT NULL,
    public_key TEXT NOT NULL,
    not_after TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE revocations (serial INTEGER PRIMARY KEY, seq INTEGER NOT NULL, reason TEXT NOT NULL);
CREATE TABLE passes (
    pass_id TEXT PRIMARY KEY,
    holder_hash BLOB NOT NULL,
    product TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    status TEXT NOT NULL,
    initials TEXT NOT NULL,
    birth_year INTEGER,
    seq INTEGER NOT NULL
);
CREATE INDEX passes_by_holder ON passes (holder_hash);
CREATE TABLE uses (
    id INTEGER PRIMARY KEY,
    credential TEXT NOT NULL,      -- 't:<serial>' or 'p:<pass id>'
    station TEXT NOT NULL,
    direction TEXT NOT NULL,
    at INTEGER NOT NULL,
    gate TEXT NOT NULL,
    gate_seq INTEGER NOT NULL,     -- the journal event that recorded it
    source TEXT NOT NULL CHECK (source IN ('local', 'remote')),
    UNIQUE (gate, gate_seq)        -- a remote use synced twice, or our own echoed back, is stored once
);
CREATE INDEX uses_by_credential ON uses (credential, at);
CREATE TABLE journal (
    gate TEXT NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    event TEXT NOT NULL,           -- canonical JSON, exactly the bytes the hash covers
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    uploaded TEXT NOT NULL DEFAULT 'no' CHECK (uploaded IN ('no', 'stored', 'duplicate', 'refused')),
    PRIMARY KEY (gate, seq)
);
CREATE INDEX journal_backlog ON journal (gate, uploaded, seq);
"""


class StoreError(RuntimeError):
    """The store file is unusable (newer schema, not a gate database)."""


def to_micros(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("naive datetime: the gate works in aware UTC times only")
    delta = at - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value // 1_000_000, tz=UTC).replace(microsecond=value % 1_000_000)


def open_store(path: Path | str) -> sqlite3.Connection:
    """Open (creating or migrating) a gate database. The connection is in autocommit mode: every write goes
    through `transaction()`, so a transaction's boundaries are always explicit."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL, not WAL's usual NORMAL: with NORMAL a power cut can lose the last commits, i.e. a scan whose
        # barrier already opened. The barrier opens only after the scan is durable, so each commit fsyncs the
        # WAL.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        _migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"database schema {version} is newer than this gate software ({SCHEMA_VERSION})")
        if version == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if tables:
                raise StoreError("not a gate database (tables present, no schema version)")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` … `COMMIT`: takes the write lock up front, so two gates deciding on the same ticket
    run one after the other instead of both reading "unused"; rolls back on any exception."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
