"""The gate's local SQLite store: config, keyset, lists, uses and the journal, in one file.

Several gate processes of one station may open the same file (station mode): WAL lets them read while one
writes, `BEGIN IMMEDIATE` serialises the scans, and `busy_timeout` makes a gate wait for the lock instead of
failing. Times are stored as integer microseconds since the epoch (UTC) so they compare and sort as numbers.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

__all__ = [
    "SCHEMA_VERSION",
    "STORE_MODE",
    "StoreError",
    "StoreUnusable",
    "describe_store_failure",
    "describe_unusable_store",
    "from_micros",
    "is_damaged",
    "open_store",
    "to_micros",
    "transaction",
]

SCHEMA_VERSION = 4
BUSY_TIMEOUT_MS = 10_000
# The store holds the CCCD hash key: owner only, like the device key and the token. SQLite gives the -wal and
# -shm files the mode of the database file.
STORE_MODE = 0o600
_SQLITE_HEADER = b"SQLite format 3\x00"
_SIDE_FILES = ("-wal", "-shm")
_LOW_SPACE = 64 * 1024
_DAMAGED_HELP = (
    "Keep the file and its -wal and -shm files as they are (they may hold scans not yet uploaded):"
    " restore it from a backup, or move the files aside and provision the gate again"
    " (docs/gate.md, 'A damaged store')"
)
_log = logging.getLogger(__name__)

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
# Each later version's statements, applied in order to a store of the version before (never edit one).
_UPGRADES: dict[int, str] = {
    2: """
CREATE TABLE free_riders (
    entry_id TEXT PRIMARY KEY,
    holder_hash BLOB NOT NULL,
    category TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_until INTEGER NOT NULL,
    status TEXT NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX free_riders_by_holder ON free_riders (holder_hash);
""",
    # Tariff and policy versions announced ahead (validator/versions.py); document is the file's JSON.
    3: """
CREATE TABLE rule_versions (
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    seq INTEGER NOT NULL,
    effective_from INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (kind, version)
);
""",
    # Staff actions (validator/staff.py), beside their journal events: a trip is settled once, and `status`
    # counts them, without reading the whole journal (or indexing every scan's event for it).
    4: """
CREATE TABLE staff_actions (
    gate TEXT NOT NULL,
    seq INTEGER NOT NULL,          -- the journal event
    kind TEXT NOT NULL CHECK (kind IN ('settlement', 'override')),
    credential TEXT,
    accepted INTEGER NOT NULL,     -- a settlement accepted, an override that admitted
    collected_vnd INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (gate, seq)
);
CREATE INDEX staff_actions_by_credential ON staff_actions (credential, kind);
""",
}


class StoreError(RuntimeError):
    """The store file is unusable (newer schema, not a gate database)."""


class StoreUnusable(StoreError):
    """The store file exists but cannot be used as it is: empty, half-written, corrupt, not SQLite,
    unreadable, or open to other users and not ours to fix. Nothing was changed: such a file is never
    rebuilt, because its -wal may still hold committed scans (SQLite discards the WAL of an empty file)."""


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
    path = Path(path)
    try:
        # Created here, not by SQLite, so that it is owner-only from its first byte.
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, STORE_MODE))
    except FileExistsError:
        _check_existing(path)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        _configure(conn)
        _OPENED.add(_inode(path))
    except sqlite3.DatabaseError as exc:
        conn.close()
        if is_damaged(exc):
            raise StoreUnusable(f"{path} is damaged ({getattr(exc, 'sqlite_errorname', exc)})") from exc
        raise
    except BaseException:
        conn.close()
        raise
    return conn


def is_damaged(exc: sqlite3.Error) -> bool:
    """Whether SQLite refused the file itself (corrupt, not a database), not a write or a lock."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    return code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def describe_unusable_store(exc: StoreUnusable) -> str:
    """A store refused as it is, in the words staff act on: what is wrong, that nothing changed, what next."""
    return f"the gate database cannot be used: {exc}. Nothing was changed. {_DAMAGED_HELP}"


def describe_store_failure(exc: sqlite3.Error, data_dir: Path) -> str:
    """What is wrong with the store, in the words staff act on: cannot be written (read-only, disk full),
    damaged, or SQLite's own error name. `data_dir` is the folder whose free space tells a full disk."""
    name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF
    if is_damaged(exc):
        return f"the gate database is damaged ({name}). {_DAMAGED_HELP}"
    if code == sqlite3.SQLITE_READONLY:
        return f"the gate database cannot be written (read-only, {name})"
    # A full disk often surfaces as an I/O error (growing the WAL index fails), not as SQLITE_FULL.
    try:
        low = shutil.disk_usage(data_dir).free < _LOW_SPACE
    except OSError:
        low = False
    if code == sqlite3.SQLITE_FULL or low:
        return f"the gate database cannot be written (disk full, {name})"
    return f"the gate database failed ({name})"


def _check_existing(path: Path) -> None:
    """Refuse a file SQLite would silently treat as a new database, or cannot read; make it owner-only."""
    try:
        head = _header(path)
    except OSError as exc:
        raise StoreUnusable(f"{path} cannot be read ({exc.strerror})") from exc
    if not head:
        wal = path.with_name(path.name + "-wal")
        held = wal.stat().st_size if wal.exists() else 0
        extra = f"; {wal.name} holds {held} bytes, possibly committed scans" if held else ""
        raise StoreUnusable(f"{path} is empty (0 bytes){extra}")
    if head != _SQLITE_HEADER:
        raise StoreUnusable(f"{path} is not a SQLite database (damaged, or another file)")
    for file in (path, *(path.with_name(path.name + end) for end in _SIDE_FILES)):
        _make_owner_only(file)


# The stores (device, inode) this process has opened. POSIX drops every lock a process holds on a file as
# soon as it closes any descriptor of that file: reading the header of a store that SQLite already holds
# open here (listen's background sync, its display) would cost SQLite its locks, and another process
# closing the store would then delete the WAL under our connections, losing writes on either side.
_OPENED: set[tuple[int, int]] = set()


def _inode(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_dev, st.st_ino


def _header(path: Path) -> bytes:
    """The file's first bytes; for a store this process opened before, only whether it is empty (no
    descriptor is opened and closed on it, so SQLite keeps its locks)."""
    if _inode(path) in _OPENED:
        return _SQLITE_HEADER if path.stat().st_size else b""
    with path.open("rb") as f:
        return f.read(len(_SQLITE_HEADER))


def _make_owner_only(file: Path) -> None:
    try:
        mode = file.stat().st_mode & 0o777
    except FileNotFoundError:
        return
    if not mode & 0o077:
        return
    try:
        file.chmod(STORE_MODE)
    except OSError as exc:
        raise StoreUnusable(
            f"{file} is readable by other users (mode {mode:o}) and cannot be made owner-only"
            f" ({exc.strerror}): run `chmod 600` on it as its owner"
        ) from exc
    _log.warning("%s was readable by other users (mode %o): made owner-only (%o)", file, mode, STORE_MODE)


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA journal_mode = WAL")
    # FULL, not WAL's usual NORMAL: with NORMAL a power cut can lose the last commits, i.e. a scan whose
    # barrier already opened. The barrier opens only after the scan is durable, so each commit fsyncs the
    # WAL.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    _migrate(conn)


def _migrate(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(f"database schema {version} is newer than this gate software ({SCHEMA_VERSION})")
        if version == 0:
            tables = conn.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()[0]
            if tables:
                raise StoreError("not a gate database (tables present, no schema version)")
            _execute_script(conn, _SCHEMA)
            version = 1
        for upgrade in range(version + 1, SCHEMA_VERSION + 1):
            _execute_script(conn, _UPGRADES[upgrade])
        if version < SCHEMA_VERSION:
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    # One statement at a time: executescript() would COMMIT the transaction this runs in.
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


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
