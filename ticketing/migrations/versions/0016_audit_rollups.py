"""Audit rollups kept by journal ingest as it pairs, each filled here from what is already stored:

- `trip_counts`: entered trips counted per hour of their start, product, origin, destination and
  completeness; the od and revenue reports add up hours instead of reading every trip of their range (a
  single ticket's fare counted as ridden on its first trip only, as the revenue report counts it);
- `trip_anomalies`: the orphan exits, repeated exits and long single-ticket trips, for the anomalies;
- `use_anomalies`: uses that may be a double use or a pass moving too fast. Filled wider than ingest keeps
  it (another entry at another gate within a day; a pass's next use at another station within an hour), as
  the policy's numbers are not known here: the queries check every candidate by the rules;
- indexes on `tickets.issued_at` and `tickets.refunded_at`, which the revenue report's sold columns and the
  used_after_refund anomaly read by range.

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


_TRIP_ANOMALIES = """
INSERT INTO trip_anomalies (trip_id, kind, started_at, duration_s)
SELECT id, CASE status WHEN 'orphan_exit' THEN 'entry_unseen' WHEN 'repeated_exit' THEN 'repeated_exit'
  ELSE 'overstay' END, started_at, duration_s
FROM trips
WHERE status IN ('orphan_exit', 'repeated_exit')
  OR (status = 'complete' AND product = 'single' AND duration_s > 2700)
"""
_ACCEPTED = "{t}.verdict = 'accept' AND {t}.problem IS NULL AND {t}.at IS NOT NULL"
# Time differences: PostgreSQL intervals, SQLite days as julianday numbers.
_WITHIN = {
    "postgresql": {
        "day": "abs(extract(epoch FROM o.at - e.at)) <= 86400",
        "hour": "at - prev_at < interval '1 hour'",
    },
    "sqlite": {
        "day": "abs(julianday(o.at) - julianday(e.at)) <= 1",
        "hour": "julianday(at) - julianday(prev_at) < 1.0 / 24",
    },
}
_DOUBLE_USES = """
INSERT INTO use_anomalies (kind, at, credential)
SELECT DISTINCT 'double_use', e.at, e.credential FROM scan_events e
WHERE {accepted_e} AND e.direction = 'entry' AND e.credential LIKE 't:%'
  AND EXISTS (SELECT 1 FROM scan_events o WHERE o.credential = e.credential AND {accepted_o}
    AND o.direction = 'entry' AND o.gate_id <> e.gate_id AND {day})
"""
_FAST_MOVES = """
INSERT INTO use_anomalies (kind, at, credential)
SELECT DISTINCT 'pass_too_fast', at, credential FROM (
  SELECT credential, station, at,
    lag(station) OVER (PARTITION BY credential ORDER BY at, gate_id, seq) AS prev_station,
    lag(at) OVER (PARTITION BY credential ORDER BY at, gate_id, seq) AS prev_at
  FROM scan_events s WHERE {accepted_s} AND credential LIKE 'p:%'
) moves
WHERE prev_station IS NOT NULL AND station <> prev_station AND {hour}
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
    dialect = op.get_bind().dialect.name
    op.execute(_FILL.format(hour=_HOUR[dialect]))
    op.create_table(
        "trip_anomalies",
        sa.Column("trip_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("duration_s", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("trip_id"),
    )
    op.create_index("ix_trip_anomalies_kind_started_at", "trip_anomalies", ["kind", "started_at"])
    op.execute(_TRIP_ANOMALIES)
    op.create_table(
        "use_anomalies",
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("credential", sa.String(length=48), nullable=False),
        sa.PrimaryKeyConstraint("kind", "at", "credential"),
    )
    within = _WITHIN[dialect]
    accepted_e, accepted_o = _ACCEPTED.format(t="e"), _ACCEPTED.format(t="o")
    op.execute(_DOUBLE_USES.format(accepted_e=accepted_e, accepted_o=accepted_o, day=within["day"]))
    op.execute(_FAST_MOVES.format(accepted_s=_ACCEPTED.format(t="s"), hour=within["hour"]))
    op.create_index("ix_tickets_issued_at", "tickets", ["issued_at"])
    op.create_index("ix_tickets_refunded_at", "tickets", ["refunded_at"])


def downgrade() -> None:
    op.drop_index("ix_tickets_refunded_at", table_name="tickets")
    op.drop_index("ix_tickets_issued_at", table_name="tickets")
    op.drop_table("use_anomalies")
    op.drop_table("trip_anomalies")
    op.drop_table("trip_counts")
