"""journal_batches: each stored upload's seq range, device signature and device key, so that an auditor can
re-check a gate's batch signatures, not only its hash chain, from the database (`audit verify-chain`).

Both engines. Uploads stored before this revision have no row: their events are reported as not covered by
a kept signature.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIGINT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "journal_batches",
        sa.Column("id", _BIGINT_ID, primary_key=True, autoincrement=True),
        sa.Column("gate_id", sa.String(32), nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.String(100), nullable=False),
        sa.Column("device_public_key", sa.String(64), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_journal_batches_gate_first", "journal_batches", ["gate_id", "first_seq"])


def downgrade() -> None:
    op.drop_index("ix_journal_batches_gate_first", table_name="journal_batches")
    op.drop_table("journal_batches")
