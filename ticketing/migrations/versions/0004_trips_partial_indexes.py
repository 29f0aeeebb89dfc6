"""Trips: the indexes on one side of a trip (entry or exit gate, seq and station) become partial, WHERE that
side is there. An open trip has no exit and an orphan exit no entry, so each trip row written at ingest
updates two indexes fewer until it is complete; every query on those columns names a value, which implies
the side is there, so the planner still uses them.

Both engines (SQLite rebuilds the table for the two unique constraints; it has partial indexes too).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 04:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UNIQUE = (("uq_trips_entry", "entry_gate", "entry_seq"), ("uq_trips_exit", "exit_gate", "exit_seq"))
_STATION = (
    ("ix_trips_entry_station_started_at", "entry_station"),
    ("ix_trips_exit_station_started_at", "exit_station"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("trips", schema=None) as batch_op:
            for name, _gate, _seq in _UNIQUE:
                batch_op.drop_constraint(name, type_="unique")
    else:
        for name, _gate, _seq in _UNIQUE:
            op.execute(f"ALTER TABLE trips DROP CONSTRAINT {name}")
    for name, gate, seq in _UNIQUE:
        op.execute(f"CREATE UNIQUE INDEX {name} ON trips ({gate}, {seq}) WHERE {gate} IS NOT NULL")
    for name, station in _STATION:
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON trips ({station}, started_at) WHERE {station} IS NOT NULL")


def downgrade() -> None:
    for name, station in _STATION:
        op.execute(f"DROP INDEX {name}")
        op.execute(f"CREATE INDEX {name} ON trips ({station}, started_at)")
    for name, _gate, _seq in _UNIQUE:
        op.execute(f"DROP INDEX {name}")
    with op.batch_alter_table("trips", schema=None) as batch_op:
        for name, gate, seq in _UNIQUE:
            batch_op.create_unique_constraint(name, [gate, seq])
