"""Scans counted per hour, gate and outcome (`scan_counts`), kept by journal ingest: the ridership and denials
reports add up hours instead of reading every scan of their range. Filled here from the scans already stored.

Both engines.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 07:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = ("hour", "gate_id", "station", "direction", "verdict", "reason", "problem")
# The hour as each engine stores a UTC time: PostgreSQL a timestamp, SQLite SQLAlchemy's text form.
_HOUR = {
    "postgresql": "date_trunc('hour', at)",
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', at)",
}


def upgrade() -> None:
    op.create_table(
        "scan_counts",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("gate_id", sa.String(length=32), nullable=False),
        sa.Column("station", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("problem", sa.Boolean(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(*_KEY),
    )
    hour = _HOUR[op.get_bind().dialect.name]
    op.execute(
        f"INSERT INTO scan_counts ({', '.join(_KEY)}, n)"  # noqa: S608 (our names)
        f" SELECT {hour}, gate_id, COALESCE(station, ''), COALESCE(direction, ''), COALESCE(verdict, ''),"
        " COALESCE(reason, ''), problem IS NOT NULL, count(*)"
        " FROM scan_events WHERE at IS NOT NULL"
        f" GROUP BY {hour}, gate_id, COALESCE(station, ''), COALESCE(direction, ''), COALESCE(verdict, ''),"
        " COALESCE(reason, ''), problem IS NOT NULL"
    )


def downgrade() -> None:
    op.drop_table("scan_counts")
