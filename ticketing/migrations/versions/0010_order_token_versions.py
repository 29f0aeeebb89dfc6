"""Orders: `access_token_version`, so a rider who recovers an order (from the bank transfer's reference,
amount and date) gets a new access token and the old link stops working. Existing orders are version 0,
whose token is the one they always had.

Both engines.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 14:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "orders", sa.Column("access_token_version", sa.Integer(), nullable=False, server_default="0")
    )


def downgrade() -> None:
    op.drop_column("orders", "access_token_version")
