"""Passes: `revoked_at` and `revoked_reason`, so staff and auditors see when and why a pass stopped (a lost or
replaced card, a refund, fraud, a student card that did not check out); an index on order_items.holder_hash,
so that the one-pass-per-holder check of a new order reads the holder's orders, not every order item.

Both engines.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 19:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("passes", sa.Column("revoked_at", sa.DateTime(), nullable=True))
    op.add_column("passes", sa.Column("revoked_reason", sa.String(24), nullable=True))
    op.create_index("ix_order_items_holder_hash", "order_items", ["holder_hash"])


def downgrade() -> None:
    op.drop_index("ix_order_items_holder_hash", table_name="order_items")
    with op.batch_alter_table("passes") as batch:
        batch.drop_column("revoked_reason")
        batch.drop_column("revoked_at")
