"""Trips as pairing makes them, written straight to the trips table: what a database held before ingest kept
its rollups (the migration tests start from there)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ticketing.ingest.rules import TripDraft, pair, use_of
from ticketing.ingest.sqlite import TRIP_COLUMNS
from ticketing.models import Trip, table_of

__all__ = ["store_paired"]

_TRIPS = table_of(Trip)


def store_paired(
    connection: Connection,
    batches: Sequence[Sequence[Mapping[str, Any]]],
    fare: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    open_entry: timedelta,
) -> None:
    """Pair the batches' uses (scan_events rows; `fare` gives each one's journal event) by `rules.pair`, in
    order, and insert the trips. Not committed."""
    known: dict[str, list[TripDraft]] = {}
    for batch in batches:
        pair(known, [use_of(u, fare(u)) for u in batch], open_entry)
    rows = [
        {"credential": t.credential, **{c: t.values.get(c) for c in TRIP_COLUMNS}}
        for trips in known.values()
        for t in trips
    ]
    for row in rows:
        row["fare_vnd"] = row["fare_vnd"] or 0
        row["owed_vnd"] = row["owed_vnd"] or 0
    if rows:
        connection.execute(sa.insert(_TRIPS), rows)
