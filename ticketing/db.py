"""Engines and migrations: the same code on SQLite (WAL, one file) and PostgreSQL."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Dialect, Engine

__all__ = [
    "DatabaseState",
    "UTCDateTime",
    "alembic_config",
    "database_state",
    "make_engine",
    "migrate",
    "normalise_url",
    "sqlite_path",
    "utcnow",
]

_PRIVATE = 0o600  # as the gate's store and dev-secrets.json: the tables hold tokens' hashes and signing keys
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite keeps no zone, so naive UTC is what is stored everywhere."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def normalise_url(url: str) -> str:
    """Accept `postgresql://` and pick the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)
        _tune_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, **kwargs)


def _tune_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that we can BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # FULL, not WAL's usual NORMAL: NORMAL survives a process crash but a power cut can lose the last
        # commits, and a lost commit here is a confirmed payment (tickets the rider was shown) that vanishes.
        # The gate's store does the same for its scans (validator/store.py).
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        # A deferred transaction that reads then writes fails at once (SQLITE_BUSY_SNAPSHOT) when another
        # process wrote in between; IMMEDIATE takes the write lock up front, so busy_timeout simply waits.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(resources.files("ticketing") / "migrations"))
    config.attributes["url"] = normalise_url(url)
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Run `alembic upgrade` programmatically (what `python -m ticketing init` does). A SQLite file it
    creates is the owner's only (0600), and so are its WAL and shared-memory files."""
    path = sqlite_path(url)
    if path is not None and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE))  # an empty file is a database
    command.upgrade(alembic_config(url), revision)
    if path is not None:
        _make_private(path)


def _make_private(path: Path) -> None:
    """SQLite gives its -wal and -shm files the database file's mode; a database made by an earlier version
    (0644) is tightened here too."""
    for suffix in _SQLITE_SUFFIXES:
        file = path.with_name(path.name + suffix)
        if file.exists() and file.stat().st_mode & 0o777 != _PRIVATE:
            file.chmod(_PRIVATE)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another engine or an in-memory database."""
    parsed = sa.engine.make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


class DatabaseState(StrEnum):
    MISSING = "missing"  # no SQLite file there
    EMPTY = "empty"  # reachable, but never migrated (`init`)
    READY = "ready"


def database_state(url: str) -> DatabaseState:
    """Whether the database is there and migrated, creating nothing: a SQLite file that is not there is not
    opened (opening would create it). PostgreSQL's errors (unreachable, no such database) are raised."""
    path = sqlite_path(url)
    if path is not None and not path.is_file():
        return DatabaseState.MISSING
    engine = sa.create_engine(normalise_url(url))  # not make_engine: no WAL switch on a file not ours yet
    try:
        migrated = sa.inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()
    return DatabaseState.READY if migrated else DatabaseState.EMPTY
