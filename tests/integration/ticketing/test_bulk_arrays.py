"""bulk.ColumnArrays against a real PostgreSQL: whatever the values (separators, the NULL marker, empty
strings, NULLs, a batch of one), each column comes back out of `unnest` exactly as it went in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ticketing.ingest.pg_arrays import ColumnArrays

pytestmark = pytest.mark.postgres

_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")  # what PostgreSQL text can hold
_TEXT = st.text(alphabet=_CHARS, max_size=12)
_TRICKY = st.sampled_from(["", "\x1f", "\x1e", "a\x1fb", "NULL", '"', "\\", "{}", ",", " "])
_TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1))
PLUS_7 = timezone(timedelta(hours=7))


@pytest.fixture
def pg(postgres_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The session's PostgreSQL test database (no SQLite case: string_to_array is PostgreSQL's)."""
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as connection:
        yield connection


def _round_trip(pg: psycopg.Connection[Any], kind: str, values: list[Any]) -> list[Any]:
    arrays = ColumnArrays()
    source = arrays.add("v", kind, values)
    rows = pg.execute(f"SELECT v FROM unnest({source}) AS u(v)", arrays.params).fetchall()
    return [v for (v,) in rows]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.none() | _TEXT | _TRICKY, min_size=1, max_size=8))
def test_any_text_column_comes_back_as_it_went_in(
    pg: psycopg.Connection[Any], values: list[str | None]
) -> None:
    assert _round_trip(pg, "text", values) == values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=8))
def test_any_bigint_column_comes_back_as_it_went_in(
    pg: psycopg.Connection[Any], values: list[int | None]
) -> None:
    assert _round_trip(pg, "bigint", values) == values


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.none() | _TIMES, min_size=1, max_size=8), st.booleans())
def test_timestamps_come_back_as_their_utc_wall_time(
    pg: psycopg.Connection[Any], values: list[datetime | None], aware: bool
) -> None:
    # Naive times are UTC already; aware ones, here in Ho Chi Minh City time, are written as UTC.
    sent = [v.replace(tzinfo=UTC).astimezone(PLUS_7) if v and aware else v for v in values]

    assert _round_trip(pg, "timestamp", sent) == values


def test_a_lone_empty_string_still_comes_back_as_one_value(pg: psycopg.Connection[Any]) -> None:
    # string_to_array('') is an empty array: the column must go the binary way.
    assert _round_trip(pg, "text", [""]) == [""]
