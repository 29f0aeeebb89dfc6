"""Gates (enrolment, device keys, tokens), their scan events, journal gaps, and the events feed counter.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 03:21:43.555329
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gates",
        sa.Column("gate_id", sa.String(length=32), nullable=False),
        sa.Column("station", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("code_expires_at", sa.DateTime(), nullable=True),
        sa.Column("enrolled_at", sa.DateTime(), nullable=True),
        sa.Column("device_public_key", sa.String(length=64), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.Column("journal_head", sa.BigInteger(), nullable=False),
        sa.Column("last_upload_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("gate_id"),
        sa.UniqueConstraint("code_hash"),
        sa.UniqueConstraint("device_public_key"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_table(
        "journal_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("gate_id", sa.String(length=32), nullable=False),
        sa.Column("from_seq", sa.BigInteger(), nullable=False),
        sa.Column("to_seq", sa.BigInteger(), nullable=False),
        sa.Column("detected_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["gate_id"],
            ["gates.gate_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("gate_id", "from_seq", name="uq_journal_gaps_gate_from"),
    )
    op.create_table(
        "scan_events",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("gate_id", sa.String(length=32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("station", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=True),
        sa.Column("direction", sa.String(length=8), nullable=True),
        sa.Column("input_kind", sa.String(length=16), nullable=True),
        sa.Column("verdict", sa.String(length=8), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=True),
        sa.Column("flags", sa.String(length=200), nullable=False),
        sa.Column("owed_vnd", sa.Integer(), nullable=False),
        sa.Column("credential", sa.String(length=48), nullable=True),
        sa.Column("ticket_serial", sa.BigInteger(), nullable=True),
        sa.Column("product", sa.String(length=24), nullable=True),
        sa.Column("pass_id", sa.String(length=32), nullable=True),
        sa.Column("holder_hash", sa.String(length=32), nullable=True),
        sa.Column("event", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("feed_seq", sa.BigInteger(), nullable=True),
        sa.Column("problem", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["gate_id"],
            ["gates.gate_id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feed_seq"),
        sa.UniqueConstraint("gate_id", "seq", name="uq_scan_events_gate_seq"),
    )
    counters = sa.table("change_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
    op.bulk_insert(counters, [{"name": "events", "value": 0}])
    with op.batch_alter_table("scan_events", schema=None) as batch_op:
        batch_op.create_index("ix_scan_events_at", ["at"], unique=False)
        batch_op.create_index("ix_scan_events_credential_at", ["credential", "at"], unique=False)
        batch_op.create_index("ix_scan_events_holder_hash_at", ["holder_hash", "at"], unique=False)
        batch_op.create_index("ix_scan_events_station_at", ["station", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("scan_events", schema=None) as batch_op:
        batch_op.drop_index("ix_scan_events_station_at")
        batch_op.drop_index("ix_scan_events_holder_hash_at")
        batch_op.drop_index("ix_scan_events_credential_at")
        batch_op.drop_index("ix_scan_events_at")

    op.drop_table("scan_events")
    op.drop_table("journal_gaps")
    op.drop_table("gates")
    op.execute("DELETE FROM change_counters WHERE name = 'events'")
