"""Tickets keep what a refund returned and when it becomes final: `refund_fee_vnd` (the fee kept, fixed at
the refund so a later policy change does not rewrite the books), `refund_final_at` (the end of the policy's
hold, during which a use uploaded by an offline gate withdraws the refund) and `refund_withdrawn_at`.
Refunds made before this revision kept no fee and were final at once.

Both engines.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 14:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on both engines (nullable columns: no table copy on SQLite).
    op.add_column("tickets", sa.Column("refund_fee_vnd", sa.Integer(), nullable=True))
    op.add_column("tickets", sa.Column("refund_final_at", sa.DateTime(), nullable=True))
    op.add_column("tickets", sa.Column("refund_withdrawn_at", sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE tickets SET refund_fee_vnd = 0, refund_final_at = refunded_at WHERE refunded_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("refund_withdrawn_at")
        batch_op.drop_column("refund_final_at")
        batch_op.drop_column("refund_fee_vnd")
