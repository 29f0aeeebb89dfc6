"""Trips: `status` holds `repeated_exit` (a second exit of a trip already complete), 16 characters.

SQLite does not enforce a VARCHAR length, so only PostgreSQL's column changes.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("trips", "status", type_=sa.String(16), existing_nullable=False)


def downgrade() -> None:
    op.execute("UPDATE trips SET status = 'orphan_exit' WHERE status = 'repeated_exit'")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column("trips", "status", type_=sa.String(12), existing_nullable=False)
