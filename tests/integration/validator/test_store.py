"""Opening the gate's SQLite store: a file it cannot use is refused, and nothing is left open."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from validator.store import SCHEMA_VERSION, StoreError, open_store


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
