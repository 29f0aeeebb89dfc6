"""A batch's columns as PostgreSQL arrays, so a whole batch is one statement over `unnest`.

Every column goes through `ColumnArrays` (below): psycopg's text array format escapes every string with a
regular expression, and its binary one packs each element in Python, both costlier than the insert itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["ColumnArrays", "naive_utc"]


def naive_utc(value: datetime | None) -> datetime | None:
    """What a UTCDateTime column holds, for statements that bypass SQLAlchemy's types."""
    if value is None:
        return None
    if value.tzinfo is UTC:  # what ingest parses times into: no conversion needed
        return value.replace(tzinfo=None)
    return value.astimezone(UTC).replace(tzinfo=None)


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
