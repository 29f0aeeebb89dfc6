"""Entered trips counted per hour of their start, product, origin, destination and completeness
(`trip_counts`), kept by journal ingest as it pairs: the od and revenue reports add up hours instead of
reading every trip of their range. Filled here from the trips already stored, a single ticket's fare counted
as ridden on its first trip only, as the revenue report counts it.

Both engines.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY = ("hour", "product", "origin", "destination", "complete")
_AMOUNTS = ("n", "fare_vnd", "ridden_vnd", "owed_vnd", "duration_s")
# The hour as each engine stores a UTC time: PostgreSQL a timestamp, SQLite SQLAlchemy's text form.
_HOUR = {
    "postgresql": "date_trunc('hour', started_at)",
    "sqlite": "strftime('%Y-%m-%d %H:00:00.000000', started_at)",
}
_FILL = """
INSERT INTO trip_counts (hour, product, origin, destination, complete, n, fare_vnd, ridden_vnd, owed_vnd,
  duration_s)
SELECT {hour}, product, entry_station, destination, complete, count(*), sum(fare_vnd),
  sum(CASE WHEN ticket_serial IS NULL OR rank = 1 THEN fare_vnd ELSE 0 END), sum(owed_vnd),
  sum(COALESCE(duration_s, 0))
FROM (
  SELECT started_at, COALESCE(product, '') AS product, entry_station,
    CASE WHEN status = 'complete' THEN COALESCE(exit_station, '') ELSE '' END AS destination,
    status = 'complete' AS complete, ticket_serial, fare_vnd, owed_vnd, duration_s,
    row_number() OVER (PARTITION BY ticket_serial ORDER BY started_at, id) AS rank
  FROM trips WHERE entry_station IS NOT NULL
) entered
GROUP BY {hour}, product, entry_station, destination, complete
"""


def upgrade() -> None:
    op.create_table(
        "trip_counts",
        sa.Column("hour", sa.DateTime(), nullable=False),
        sa.Column("product", sa.String(length=24), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("destination", sa.String(length=16), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), nullable=False) for name in _AMOUNTS),
        sa.PrimaryKeyConstraint(*_KEY),
    )
    op.execute(_FILL.format(hour=_HOUR[op.get_bind().dialect.name]))


def downgrade() -> None:
    op.drop_table("trip_counts")
