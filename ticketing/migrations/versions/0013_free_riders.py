"""Free riders: the registry staff enter after a document check (`free_riders`: keyed holder hash, masked
number, initials, birth year, category, validity, document reference, staff id, `seq` from a `free_riders`
change counter, the cursor of the gates' list), and `scan_events.free_category`, the category of a free
ride, with an index the free-rides report walks.

Both engines; on PostgreSQL the column and the index reach every monthly partition of `scan_events`.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COUNTERS = sa.table("change_counters", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
_FREE_RIDES = sa.text("free_category IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "free_riders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("category", sa.String(length=24), nullable=False),
        sa.Column("holder_masked", sa.String(length=12), nullable=False),
        sa.Column("holder_initials", sa.String(length=16), nullable=False),
        sa.Column("holder_birth_year", sa.Integer(), nullable=False),
        sa.Column("document_ref", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("holder_hash", sa.String(length=32), nullable=False),
        sa.Column("valid_from", sa.DateTime(), nullable=False),
        sa.Column("valid_until", sa.DateTime(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entered_by", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("ended_reason", sa.String(length=24), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("seq"),
    )
    op.create_index("ix_free_riders_holder_hash", "free_riders", ["holder_hash"])
    op.bulk_insert(_COUNTERS, [{"name": "free_riders", "value": 0}])
    op.add_column("scan_events", sa.Column("free_category", sa.String(length=24), nullable=True))
    op.create_index(
        "ix_scan_events_free_category_at",
        "scan_events",
        ["free_category", "at"],
        sqlite_where=_FREE_RIDES,
        postgresql_where=_FREE_RIDES,
    )


def downgrade() -> None:
    op.drop_index("ix_scan_events_free_category_at", table_name="scan_events")
    op.drop_column("scan_events", "free_category")
    op.execute(_COUNTERS.delete().where(_COUNTERS.c.name == "free_riders"))
    op.drop_index("ix_free_riders_holder_hash", table_name="free_riders")
    op.drop_table("free_riders")
