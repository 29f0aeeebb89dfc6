"""Signing keys: `not_before`, the start of a key's term, so that the next key is published ahead of the
time it begins to sign (existing keys signed from their creation); tickets: `reissued_at`, when a ticket was
signed again under the key in force after its own key was revoked.

Both engines.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("signing_keys", sa.Column("not_before", sa.DateTime(), nullable=True))
    op.execute("UPDATE signing_keys SET not_before = created_at")
    with op.batch_alter_table("signing_keys") as batch:
        batch.alter_column("not_before", existing_type=sa.DateTime(), nullable=False)
    op.add_column("tickets", sa.Column("reissued_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("reissued_at")
    with op.batch_alter_table("signing_keys") as batch:
        batch.drop_column("not_before")
