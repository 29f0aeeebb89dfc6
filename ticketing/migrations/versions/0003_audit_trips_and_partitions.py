"""Audits: the trips table, indexes for every audit filter, and on PostgreSQL `scan_events` partitioned by
month on `at` (a default partition for events without a readable time).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from ticketing.partitions import DEFAULT_PARTITION, ensure_months, extend_ahead, month_of

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "id, gate_id, seq, hash, prev_hash, station, at, direction, input_kind, verdict, reason, "
    "flags, owed_vnd, credential, ticket_serial, product, pass_id, holder_hash, event, received_at, "
    "feed_seq, problem"
)
_CREATE_PARTITIONED = """
CREATE TABLE scan_events (
    id BIGINT NOT NULL DEFAULT nextval('scan_events_id_seq'),
    gate_id VARCHAR(32) NOT NULL REFERENCES gates (gate_id),
    seq BIGINT NOT NULL,
    hash VARCHAR(64) NOT NULL,
    prev_hash VARCHAR(64) NOT NULL,
    station VARCHAR(16),
    at TIMESTAMP WITHOUT TIME ZONE,
    direction VARCHAR(8),
    input_kind VARCHAR(16),
    verdict VARCHAR(8),
    reason VARCHAR(40),
    flags VARCHAR(200) NOT NULL,
    owed_vnd INTEGER NOT NULL,
    credential VARCHAR(48),
    ticket_serial BIGINT,
    product VARCHAR(24),
    pass_id VARCHAR(32),
    holder_hash VARCHAR(32),
    event TEXT NOT NULL,
    received_at TIMESTAMP WITHOUT TIME ZONE NOT NULL,
    feed_seq BIGINT,
    problem VARCHAR(200)
) PARTITION BY RANGE (at)
"""
# Partial indexes where most rows have no value (refusals, passes): smaller, and cheaper at ingest.
_PG_INDEXES = (
    "CREATE UNIQUE INDEX uq_scan_events_gate_seq_at ON scan_events (gate_id, seq, at) NULLS NOT DISTINCT",
    "CREATE INDEX ix_scan_events_station_at ON scan_events (station, at)",
    "CREATE INDEX ix_scan_events_at ON scan_events (at)",
    "CREATE INDEX ix_scan_events_credential_at ON scan_events (credential, at) WHERE credential IS NOT NULL",
    "CREATE INDEX ix_scan_events_holder_hash_at ON scan_events (holder_hash, at) "
    "WHERE holder_hash IS NOT NULL",
    "CREATE INDEX ix_scan_events_ticket_serial_at ON scan_events (ticket_serial, at) "
    "WHERE ticket_serial IS NOT NULL",
    "CREATE INDEX ix_scan_events_reason_at ON scan_events (reason, at) WHERE reason IS NOT NULL",
    "CREATE INDEX ix_scan_events_feed_seq ON scan_events (feed_seq) WHERE feed_seq IS NOT NULL",
)


def _create_trips() -> None:
    op.create_table(
        "trips",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("credential", sa.String(length=48), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("product", sa.String(length=24), nullable=True),
        sa.Column("ticket_serial", sa.BigInteger(), nullable=True),
        sa.Column("pass_id", sa.String(length=32), nullable=True),
        sa.Column("entry_gate", sa.String(length=32), nullable=True),
        sa.Column("entry_seq", sa.BigInteger(), nullable=True),
        sa.Column("entry_station", sa.String(length=16), nullable=True),
        sa.Column("entry_at", sa.DateTime(), nullable=True),
        sa.Column("exit_gate", sa.String(length=32), nullable=True),
        sa.Column("exit_seq", sa.BigInteger(), nullable=True),
        sa.Column("exit_station", sa.String(length=16), nullable=True),
        sa.Column("exit_at", sa.DateTime(), nullable=True),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.Column("fare_vnd", sa.Integer(), nullable=False),
        sa.Column("owed_vnd", sa.Integer(), nullable=False),
        sa.Column("flags", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_gate", "entry_seq", name="uq_trips_entry"),
        sa.UniqueConstraint("exit_gate", "exit_seq", name="uq_trips_exit"),
    )
    with op.batch_alter_table("trips", schema=None) as batch_op:
        batch_op.create_index("ix_trips_credential_started_at", ["credential", "started_at"], unique=False)
        batch_op.create_index("ix_trips_started_at", ["started_at"], unique=False)
        batch_op.create_index("ix_trips_entry_station_started_at", ["entry_station", "started_at"])
        batch_op.create_index("ix_trips_exit_station_started_at", ["exit_station", "started_at"])


def _partition_scan_events() -> None:
    """Rename the plain table away, create the partitioned one with the same columns, copy, drop."""
    bind = op.get_bind()
    op.execute("ALTER SEQUENCE scan_events_id_seq OWNED BY NONE")
    for name in ("station_at", "at", "credential_at", "holder_hash_at"):
        op.execute(f"DROP INDEX ix_scan_events_{name}")
    op.execute("ALTER TABLE scan_events RENAME TO scan_events_unpartitioned")
    op.execute("ALTER TABLE scan_events_unpartitioned RENAME CONSTRAINT uq_scan_events_gate_seq TO uq_old")
    op.execute(_CREATE_PARTITIONED)
    op.execute(f"CREATE TABLE {DEFAULT_PARTITION} PARTITION OF scan_events DEFAULT")
    times = bind.exec_driver_sql(
        "SELECT DISTINCT date_trunc('month', at) FROM scan_events_unpartitioned WHERE at IS NOT NULL"
    ).scalars()
    ensure_months(bind, [month_of(t) for t in times])
    extend_ahead(bind, datetime.now(UTC), 3)
    for statement in _PG_INDEXES:
        op.execute(statement)
    op.execute(
        f"INSERT INTO scan_events ({_COLUMNS}) SELECT {_COLUMNS} FROM scan_events_unpartitioned"  # noqa: S608
    )
    op.execute("DROP TABLE scan_events_unpartitioned")
    op.execute("ALTER SEQUENCE scan_events_id_seq OWNED BY scan_events.id")


def upgrade() -> None:
    _create_trips()
    if op.get_bind().dialect.name == "postgresql":
        _partition_scan_events()
        return
    with op.batch_alter_table("scan_events", schema=None) as batch_op:
        batch_op.create_index("ix_scan_events_ticket_serial_at", ["ticket_serial", "at"], unique=False)
        batch_op.create_index("ix_scan_events_reason_at", ["reason", "at"], unique=False)


def _unpartition_scan_events() -> None:
    op.execute("ALTER SEQUENCE scan_events_id_seq OWNED BY NONE")
    op.execute("ALTER TABLE scan_events RENAME TO scan_events_partitioned")
    for index in ("uq_scan_events_gate_seq_at", *(s.split()[2] for s in _PG_INDEXES[1:])):
        op.execute(f"DROP INDEX {index}")
    plain = _CREATE_PARTITIONED.replace(" PARTITION BY RANGE (at)", "")
    op.execute(plain.replace("problem VARCHAR(200)\n", "problem VARCHAR(200),\n    PRIMARY KEY (id)\n"))
    op.execute(
        f"INSERT INTO scan_events ({_COLUMNS}) SELECT {_COLUMNS} FROM scan_events_partitioned"  # noqa: S608
    )
    op.execute("DROP TABLE scan_events_partitioned CASCADE")
    op.execute("ALTER SEQUENCE scan_events_id_seq OWNED BY scan_events.id")
    op.execute("ALTER TABLE scan_events ADD CONSTRAINT uq_scan_events_gate_seq UNIQUE (gate_id, seq)")
    op.execute("ALTER TABLE scan_events ADD CONSTRAINT scan_events_feed_seq_key UNIQUE (feed_seq)")
    for name, columns in (
        ("station_at", "station, at"),
        ("at", "at"),
        ("credential_at", "credential, at"),
        ("holder_hash_at", "holder_hash, at"),
    ):
        op.execute(f"CREATE INDEX ix_scan_events_{name} ON scan_events ({columns})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _unpartition_scan_events()
    else:
        with op.batch_alter_table("scan_events", schema=None) as batch_op:
            batch_op.drop_index("ix_scan_events_reason_at")
            batch_op.drop_index("ix_scan_events_ticket_serial_at")
    op.drop_table("trips")
