"""Opening the gate's SQLite store: a file it cannot use is refused, and nothing is left open."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from validator.store import SCHEMA_VERSION, StoreError, StoreUnusable, open_store, transaction


def _watch_connections(monkeypatch: pytest.MonkeyPatch) -> list[sqlite3.Connection]:
    """Every sqlite3 connection made from now on: Python 3.11's sqlite3 warns of no leak, so we look."""
    made: list[sqlite3.Connection] = []
    connect = sqlite3.connect

    def spy(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        made.append(connect(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(sqlite3, "connect", spy)
    return made


def _is_closed(conn: sqlite3.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_a_sqlite_file_that_is_not_a_gate_database_is_refused_and_its_connection_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    conn.close()

    opened = _watch_connections(monkeypatch)

    with pytest.raises(StoreError):
        open_store(other)

    assert [_is_closed(c) for c in opened] == [True]


def test_a_store_of_a_newer_schema_is_refused_and_its_connection_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = tmp_path / "newer.db"
    conn = sqlite3.connect(newer)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()

    opened = _watch_connections(monkeypatch)

    with pytest.raises(StoreError):
        open_store(newer)

    assert [_is_closed(c) for c in opened] == [True]


def test_a_store_that_opens_stays_open(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = _watch_connections(monkeypatch)

    conn = open_store(tmp_path / "gate.db")

    assert [_is_closed(c) for c in opened] == [False]
    conn.close()


def _committed_store_with_its_wal(folder: Path) -> Path:
    """A gate.db whose last commits live only in its -wal file (not yet checkpointed), as after a crash."""
    path = folder / "gate.db"
    conn = open_store(path)
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    with transaction(conn):
        conn.execute("INSERT INTO station_state VALUES ('station', 'L1-01')")
    for name in ("gate.db", "gate.db-wal"):
        (folder / f"copy-{name}").write_bytes((folder / name).read_bytes())
    conn.close()
    return folder / "copy-gate.db"


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_an_empty_store_file_next_to_a_wal_of_committed_scans_is_refused_and_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = _committed_store_with_its_wal(tmp_path)
    store.write_bytes(b"")
    before = _files(tmp_path)
    opened = _watch_connections(monkeypatch)

    with pytest.raises(StoreUnusable):
        open_store(store)

    assert _files(tmp_path) == before  # SQLite would have deleted the -wal and built a new, empty store
    assert opened == []


def _checkpointed_store(folder: Path) -> Path:
    path = folder / "gate.db"
    conn = open_store(path)
    with transaction(conn):
        conn.execute("INSERT INTO station_state VALUES ('station', 'L1-01')")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda data: b"", id="empty"),
        pytest.param(lambda data: data[:100], id="half-written header"),
        pytest.param(lambda data: data[:4096], id="first page only"),
        pytest.param(lambda data: b"not a database at all\n" * 10, id="another file"),
    ],
)
def test_a_store_that_is_empty_half_written_or_not_sqlite_is_refused_and_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: Callable[[bytes], bytes]
) -> None:
    store = _checkpointed_store(tmp_path)
    store.write_bytes(damage(store.read_bytes()))
    before = _files(tmp_path)
    opened = _watch_connections(monkeypatch)

    with pytest.raises(StoreUnusable):
        open_store(store)

    assert _files(tmp_path) == before
    assert all(_is_closed(c) for c in opened)


def test_a_new_store_and_its_wal_and_shm_are_readable_by_their_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        conn = open_store(tmp_path / "gate.db")
        with transaction(conn):
            conn.execute("INSERT INTO station_state VALUES ('station', 'L1-01')")
        modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
        conn.close()
    finally:
        os.umask(old)

    assert modes == {"gate.db": 0o600, "gate.db-wal": 0o600, "gate.db-shm": 0o600}


def test_a_store_left_readable_by_others_is_made_owner_only_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "gate.db"
    open_store(path).close()
    path.chmod(0o644)

    open_store(path).close()

    assert path.stat().st_mode & 0o777 == 0o600


_OTHER_PROCESS = """
import sys
from validator.store import open_store, transaction
conn = open_store(sys.argv[1])
with transaction(conn):
    conn.execute("INSERT INTO station_state (key, value) VALUES ('written_by', 'another process')")
conn.close()
"""


def test_a_process_that_opens_its_store_twice_keeps_the_wal_of_a_gate_writing_beside_it(
    tmp_path: Path,
) -> None:
    # A second connection in one process (listen's background sync, its display) must not cost the
    # first its locks: else another process closing the store deletes the WAL under both, and writes
    # made on either side of it are lost to the other.
    path = tmp_path / "gate.db"
    first = open_store(path)
    second = open_store(path)

    other = subprocess.run(
        [sys.executable, "-c", _OTHER_PROCESS, str(path)], capture_output=True, text=True, check=False
    )
    row = first.execute("SELECT value FROM station_state WHERE key = 'written_by'").fetchone()

    assert other.returncode == 0, other.stderr
    assert path.with_name("gate.db-wal").exists()
    assert row == ("another process",)
    first.close()
    second.close()
