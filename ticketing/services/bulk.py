"""Set-based writes on PostgreSQL: a whole batch as one statement over `unnest` of column arrays.

Every column goes through `ColumnArrays` (below): psycopg's text array format escapes every string with a
regular expression, and its binary one packs each element in Python, both costlier than the insert itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ticketing.db import UTCDateTime

__all__ = ["ColumnArrays", "naive_utc", "pg_select", "pg_unnest_insert", "pg_unnest_update"]


def naive_utc(value: datetime | None) -> datetime | None:
    """What a UTCDateTime column holds, for statements that bypass SQLAlchemy's types."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # what ingest parses times into: no conversion needed
        return value.replace(tzinfo=None)
    return value.astimezone(UTC).replace(tzinfo=None)


def _pg_type(column: sa.Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, UTCDateTime | sa.DateTime):
        return "timestamp"
    if isinstance(kind, sa.BigInteger):
        return "bigint"
    if isinstance(kind, sa.Integer):
        return "integer"
    if isinstance(kind, sa.Boolean):
        return "boolean"
    return "text"


def _unnest(
    table: sa.Table, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> tuple[str, dict[str, Any]]:
    """`unnest(...)` of the rows' columns, and its parameters (ColumnArrays, typed by the table's columns)."""
    arrays = ColumnArrays()
    sources = [arrays.add(n, _pg_type(table.c[n]), [row[n] for row in rows]) for n in names]
    return f"unnest({', '.join(sources)})", arrays.params


def pg_unnest_insert(
    connection: Connection,
    table: sa.Table,
    names: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    suffix: str = "",
) -> sa.CursorResult[Any]:
    """INSERT INTO table (names) SELECT * FROM unnest(...) `suffix` (e.g. ON CONFLICT ... RETURNING ...)."""
    # Names come from our table definitions, never from input; values go as bound arrays.
    source, params = _unnest(table, names, rows)
    statement = f"INSERT INTO {table.name} ({', '.join(names)}) SELECT * FROM {source} {suffix}"  # noqa: S608
    return connection.exec_driver_sql(statement, params)


def pg_unnest_update(
    connection: Connection, table: sa.Table, key: str, names: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """UPDATE table SET name = u.name, ... FROM unnest(...) AS u WHERE table.key = u.key."""
    columns = [key, *names]
    assignments = ", ".join(f"{n} = u.{n}" for n in names)
    source, params = _unnest(table, columns, rows)
    statement = (
        f"UPDATE {table.name} SET {assignments} FROM {source} AS u({', '.join(columns)})"  # noqa: S608
        f" WHERE {table.name}.{key} = u.{key}"
    )
    connection.exec_driver_sql(statement, params)


def pg_select(connection: Connection, statement: str, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Rows of a driver-level SELECT as dicts, timestamps made aware UTC (as UTCDateTime columns give)."""
    result = connection.exec_driver_sql(statement, dict(params))
    out = []
    for row in result.mappings():
        out.append({k: v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for k, v in row.items()})
    return out


# A column as one string: values joined by the unit separator, NULL written as the record separator. JSON
# text escapes both and our codes, times and numbers never hold them, so nearly every column goes this way.
_SEP, _NULL = "\x1f", "\x1e"
_SPLIT = "string_to_array(%({name})s, E'\\x1f', E'\\x1e')::{kind}[]"


class ColumnArrays:
    """The columns of a batch as PostgreSQL arrays, for `unnest(...)`: `add` binds one and returns its SQL.

    Most columns go as one string, split by `string_to_array` in PostgreSQL: joining strings is one C call,
    where psycopg's binary array dumper packs each element in Python (about half of ingest's own CPU). A
    column with a value that holds a separator, or an empty string alone (`string_to_array` makes that an
    empty array), goes in the binary format, so any text arrives unchanged.
    """

    def __init__(self) -> None:
        self.params: dict[str, Any] = {}

    def add(self, name: str, kind: str, values: Sequence[Any]) -> str:
        """Bind `values` as `name`; `kind` is text, bigint, integer or timestamp (datetimes, aware or naive
        UTC: a `timestamp` reads the UTC wall time and ignores a +00:00)."""
        texts: list[str | None]
        if kind == "text":
            texts = list(values)
        elif kind == "timestamp":
            texts = [None if v is None else _utc(v).isoformat() for v in values]
        else:
            texts = [None if v is None else str(v) for v in values]
        joined = _joined(texts)
        if joined is None:
            self.params[name] = [naive_utc(v) for v in values] if kind == "timestamp" else list(values)
            return f"%({name})b::{kind}[]"
        self.params[name] = joined
        return _SPLIT.format(name=name, kind=kind)


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is None or value.tzinfo is UTC else value.astimezone(UTC)


def _joined(texts: list[str | None]) -> str | None:
    """The texts as one string, or None when that would not split back into exactly these values."""
    nulls = texts.count(None)
    try:
        joined = _SEP.join(_NULL if t is None else t for t in texts)
    except TypeError:  # not all strings
        return None
    if not joined or joined.count(_SEP) != len(texts) - 1 or joined.count(_NULL) != nulls:
        return None
    return joined
