"""Ingest writes less per event: no foreign key from scan_events to gates, fewer indexes on trips and scans.

- `scan_events.gate_id` loses its foreign key. The key was checked by a trigger for every stored event (a
  lookup and a row share lock on `gates` each time); ingest writes only the gate whose row it has locked,
  and gates are revoked, never deleted.
- `trips` keeps three indexes: its key, `(credential, started_at)` and `(started_at)`; the station and
  (gate, seq) ones go, and on PostgreSQL the table gets fillfactor 70. The exit that completes an open trip
  then changes no indexed column, so PostgreSQL updates the row in place (a HOT update) instead of writing
  a new entry in each index, and an entry writes three index entries instead of five. Queries by origin,
  destination, station or gate walk `(started_at)` and filter (a station is 1 in 7 to 1 in 40 of a day's
  trips, so a page of 100 reads a few thousand index entries); the unique indexes were a second guard behind
  the (gate, seq) dedup of scan_events, which pairs only events stored for the first time.
- `scan_events (ticket_serial, at)` holds only the rows without a credential (codes refused before a
  credential was known: forged, unknown key). An accepted or recognised ticket's rows are found by its
  credential `t:<serial>` in `(credential, at)`, so every stored use no longer writes this index too.

- A `paired` row in change_counters: the last feed_seq whose use is paired into trips. Ingest now stores
  events and pairs them in two transactions (ticketing/services/pairing.py); everything stored so far was
  paired in the storing transaction, so it starts at the `events` counter.

Both engines (SQLite rebuilds scan_events to drop the key).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 06:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Migration 0002 created the key unnamed; this convention names it so SQLite's table rebuild can drop it.
_SQLITE_FK = "fk_scan_events_gate_id_gates"
_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
_TRIPS_DROPPED = (
    ("uq_trips_entry", "UNIQUE", "(entry_gate, entry_seq) WHERE entry_gate IS NOT NULL"),
    ("uq_trips_exit", "UNIQUE", "(exit_gate, exit_seq) WHERE exit_gate IS NOT NULL"),
    ("ix_trips_entry_station_started_at", "", "(entry_station, started_at) WHERE entry_station IS NOT NULL"),
    ("ix_trips_exit_station_started_at", "", "(exit_station, started_at) WHERE exit_station IS NOT NULL"),
)
_SERIAL_INDEX = "ix_scan_events_ticket_serial_at"


def upgrade() -> None:
    op.execute(
        "INSERT INTO change_counters (name, value)"
        " SELECT 'paired', value FROM change_counters WHERE name = 'events'"
    )
    for name, _unique, _columns in _TRIPS_DROPPED:
        op.execute(f"DROP INDEX {name}")
    op.execute(f"DROP INDEX {_SERIAL_INDEX}")
    op.execute(
        f"CREATE INDEX {_SERIAL_INDEX} ON scan_events (ticket_serial, at)"
        " WHERE credential IS NULL AND ticket_serial IS NOT NULL"
    )
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("scan_events", naming_convention=_CONVENTION) as batch_op:
            batch_op.drop_constraint(_SQLITE_FK, type_="foreignkey")
        return
    # The key's name depends on how migration 0003 rebuilt the table; dropping it on the partitioned parent
    # drops it on every partition.
    op.execute(
        """
        DO $$
        DECLARE name text;
        BEGIN
          FOR name IN SELECT conname FROM pg_constraint
                      WHERE conrelid = 'scan_events'::regclass AND contype = 'f' LOOP
            EXECUTE format('ALTER TABLE scan_events DROP CONSTRAINT %I', name);
          END LOOP;
        END $$
        """
    )
    op.execute("ALTER TABLE trips SET (fillfactor = 70)")


def downgrade() -> None:
    op.execute("DELETE FROM change_counters WHERE name = 'paired'")
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("scan_events", naming_convention=_CONVENTION) as batch_op:
            batch_op.create_foreign_key(_SQLITE_FK, "gates", ["gate_id"], ["gate_id"])
    else:
        op.execute("ALTER TABLE trips RESET (fillfactor)")
        op.execute(
            "ALTER TABLE scan_events ADD CONSTRAINT scan_events_gate_id_fkey"
            " FOREIGN KEY (gate_id) REFERENCES gates (gate_id)"
        )
    op.execute(f"DROP INDEX {_SERIAL_INDEX}")
    where = " WHERE ticket_serial IS NOT NULL" if op.get_bind().dialect.name == "postgresql" else ""
    op.execute(f"CREATE INDEX {_SERIAL_INDEX} ON scan_events (ticket_serial, at){where}")
    for name, unique, columns in _TRIPS_DROPPED:
        op.execute(f"CREATE {unique} INDEX {name} ON trips {columns}")
