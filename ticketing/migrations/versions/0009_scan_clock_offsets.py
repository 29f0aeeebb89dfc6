"""Scan events keep the clock offset their gate measured when it uploaded them (`clock_offset_s`, server time
minus gate clock, seconds): the audits show the corrected time of events recorded while the clock was
suspect. Events uploaded before this revision, or by a gate that never measured its offset, have none.

Both engines; on PostgreSQL the column reaches every monthly partition of `scan_events`.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("scan_events", sa.Column("clock_offset_s", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("scan_events", "clock_offset_s")
