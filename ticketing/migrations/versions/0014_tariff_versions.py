"""Tariff and policy versions announced ahead (`tariff_versions`): kind, version id, the instant it takes
effect, the canonical document; `seq` from a `tariff_versions` change counter, the cursor of the gates' list.

Both engines.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS = sa.table("change_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))


def upgrade() -> None:
    op.create_table(
        "tariff_versions",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("effective_from", sa.DateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("kind", "version", name="uq_tariff_versions_kind_version"),
    )
    op.bulk_insert(_COUNTERS, [{"name": "tariff_versions", "value": 0}])


def downgrade() -> None:
    op.execute(_COUNTERS.delete().where(_COUNTERS.c.name == "tariff_versions"))
    op.drop_table("tariff_versions")
