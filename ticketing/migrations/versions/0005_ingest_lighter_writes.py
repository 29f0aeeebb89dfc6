"""Ingest writes less per event: no foreign key from scan_events to gates; a trip's exit rewrites no index.

- `scan_events.gate_id` loses its foreign key. The key was checked by a trigger for every stored event (a
  lookup and a row share lock on `gates` each time); ingest writes only the gate whose row it has locked,
  and gates are revoked, never deleted.
- `trips` loses the exit-side indexes, `(exit_station, started_at)` and unique `(exit_gate, exit_seq)`, and
  on PostgreSQL gets fillfactor 70. The exit that completes an open trip then changes no indexed column, so
  PostgreSQL updates the row in place (a HOT update) instead of writing a new entry in each of its indexes.
  Queries by destination, by station (entry or exit) or by gate walk `(started_at)` and filter; the unique
  index was a second guard behind the (gate, seq) dedup of scan_events, which pairs only events stored for
  the first time.

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


def upgrade() -> None:
    op.execute("DROP INDEX uq_trips_exit")
    op.execute("DROP INDEX ix_trips_exit_station_started_at")
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
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("scan_events", naming_convention=_CONVENTION) as batch_op:
            batch_op.create_foreign_key(_SQLITE_FK, "gates", ["gate_id"], ["gate_id"])
    else:
        op.execute("ALTER TABLE trips RESET (fillfactor)")
        op.execute(
            "ALTER TABLE scan_events ADD CONSTRAINT scan_events_gate_id_fkey"
            " FOREIGN KEY (gate_id) REFERENCES gates (gate_id)"
        )
    op.execute("CREATE UNIQUE INDEX uq_trips_exit ON trips (exit_gate, exit_seq) WHERE exit_gate IS NOT NULL")
    op.execute(
        "CREATE INDEX ix_trips_exit_station_started_at ON trips (exit_station, started_at)"
        " WHERE exit_station IS NOT NULL"
    )
