"""gate_list_fetches: per gate and list it syncs, when the service last served it the list to its end and the
cursor it then held, so that gate health can say how old each gate's lists are from the server's side.

Both engines. Gates that have not fetched since this revision have no row: their lists count as never
fetched until their next sync.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "gate_list_fetches",
        sa.Column("gate_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(16), nullable=False),
        sa.Column("fetched_at", sa.DateTime(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("gate_id", "name"),
    )


def downgrade() -> None:
    op.drop_table("gate_list_fetches")
