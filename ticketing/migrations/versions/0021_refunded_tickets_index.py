"""An index of the refunded tickets alone (`ix_tickets_refunded_serial`, partial: status 'refunded'): every
journal upload asks which of the tickets it saw used are refunded, to withdraw a refund still in its hold, and
probing the few refunded tickets costs less than probing every ticket by serial. Both engines.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 03:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFUNDED = sa.text("status = 'refunded'")


def upgrade() -> None:
    op.create_index(
        "ix_tickets_refunded_serial",
        "tickets",
        ["serial"],
        postgresql_where=_REFUNDED,
        sqlite_where=_REFUNDED,
    )


def downgrade() -> None:
    op.drop_index("ix_tickets_refunded_serial", table_name="tickets")
