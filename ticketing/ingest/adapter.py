"""What ingest asks of a database engine, and the adapter of each (`sqlite`, `postgres`).

Every engine difference of ingest sits behind this one protocol; the pipeline above it is the same on both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.engine import Connection

from ticketing.ingest.postgres import PostgresIngest
from ticketing.ingest.rules import DoubleUseRule, FirstUses
from ticketing.ingest.scan_counts import CountKey
from ticketing.ingest.sqlite import SQLiteIngest

__all__ = ["IngestEngine", "adapter_for"]


class IngestEngine(Protocol):
    name: str

    def insert_events(self, connection: Connection, rows: Sequence[Mapping[str, Any]]) -> set[int]:
        """Insert scan_events rows, skipping any (gate, seq) already stored; the seqs actually inserted."""
        ...

    def add_scan_counts(self, connection: Connection, counts: Sequence[tuple[CountKey, int]]) -> None:
        """Add counts to their scan_counts rows, in the order given (scan_counts.counted's)."""
        ...

    def record_uses(
        self,
        connection: Connection,
        rows: Sequence[Mapping[str, Any]],
        events: Sequence[Mapping[str, Any]],
        first_uses: FirstUses,
        *,
        rule: DoubleUseRule,
        now: datetime,
    ) -> set[int]:
        """Pair the uses in these stored scan_events `rows` (with their journal `events`, for the fare) into
        trips as `rules.pair` does; set tickets.first_used_at from `first_uses` unless already earlier and
        withdraw those tickets' refunds still in their hold at `now` (services.tickets.withdraw_held_refunds);
        keep the trip counts (rollups), the noted trips and the pass moves (candidates). Returns the
        double-use candidates (serials). Not committed."""
        ...


_ADAPTERS: dict[str, IngestEngine] = {"sqlite": SQLiteIngest(), "postgresql": PostgresIngest()}


def adapter_for(connection: Connection) -> IngestEngine:
    """The adapter of the connection's engine."""
    return _ADAPTERS[connection.dialect.name]
