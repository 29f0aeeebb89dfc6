"""Keyset pages, and the walk through all of them that a CSV export makes.

Pages are keyset pages over a unique sort key — scans by (at, gate, seq), trips by (started_at, id) — and the
cursor is that key of the last row sent. A walk through the pages therefore never repeats or skips a row that
existed when it started, however many events arrive meanwhile; events that arrive late with an earlier time
(a gate that was offline) show up on the next walk. A CSV walks the same pages with a fresh short
transaction each, so memory stays flat and no transaction stays open for the whole download.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

__all__ = ["CSV_PAGE", "Key", "every_row"]

CSV_PAGE = 2000

Key = tuple[Any, ...]  # a row's sort key, which a cursor holds


def every_row(
    engine: Engine,
    first: Callable[[], Key | None],
    page: Callable[[Session, Key | None], Sequence[Any]],
    key: Callable[[Any], Key],
) -> Iterator[Any]:
    """Every row of a listing, in constant memory: `page` reads `CSV_PAGE` rows after a key in a short
    session of its own, starting after `first()` (the decoded cursor, read when the first row is wanted)."""
    after = first()
    while True:
        with Session(engine) as session:
            rows = page(session, after)
        yield from rows
        if len(rows) < CSV_PAGE:
            return
        after = key(rows[-1])
