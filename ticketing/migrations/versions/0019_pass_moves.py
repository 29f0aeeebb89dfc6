"""pass_moves: the pass_too_fast anomalies themselves, kept by journal ingest as it pairs, instead of the
passes that might have one (`use_anomalies` rows of that kind, which the anomaly query then checked against
every use of those passes in its range: at 10 M events a day's check read ~6,500 scans one pass at a time).

Filled here from the scans already stored: each accepted pass use at another station than the same pass's
use before it, within an hour, kept when sooner than hops x min_seconds_per_hop of the policy the service
loads now (ticketing.catalog). Both engines.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-04 02:20:00
"""

from __future__ import annotations

from collections.abc import Sequence
from types import SimpleNamespace

import sqlalchemy as sa
from alembic import op

from ticketing.catalog import load_catalog
from ticketing.ingest.candidates import too_fast
from ticketing.ingest.rules import DoubleUseRule

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WITHIN_AN_HOUR = {
    "postgresql": "at - previous_at < interval '1 hour'",
    "sqlite": "julianday(at) - julianday(previous_at) < 1.0 / 24",
}
_MOVES = """
SELECT credential, gate_id, seq, station, at, previous_station, previous_at FROM (
  SELECT credential, gate_id, seq, station, at,
    lag(station) OVER w AS previous_station, lag(at) OVER w AS previous_at
  FROM scan_events
  WHERE verdict = 'accept' AND problem IS NULL AND at IS NOT NULL AND credential LIKE 'p:%'
  WINDOW w AS (PARTITION BY credential ORDER BY at, gate_id, seq)
) moves
WHERE previous_station IS NOT NULL AND station <> previous_station AND {within}
"""


def upgrade() -> None:
    moves = op.create_table(
        "pass_moves",
        sa.Column("credential", sa.String(48), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("gate_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("station", sa.String(16), nullable=False),
        sa.Column("previous_station", sa.String(16), nullable=False),
        sa.Column("previous_at", sa.DateTime(), nullable=False),
        sa.Column("at_least_s", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("credential", "at", "gate_id", "seq"),
    )
    op.create_index("ix_pass_moves_at", "pass_moves", ["at", "credential"])
    catalog = load_catalog()
    rule = DoubleUseRule.of(catalog.network, catalog.policy)
    query = sa.text(_MOVES.format(within=_WITHIN_AN_HOUR[op.get_bind().dialect.name])).columns(
        at=sa.DateTime(), previous_at=sa.DateTime()
    )
    rows = []
    for r in op.get_bind().execute(query):  # each use after its predecessor, judged as ingest judges it
        previous = SimpleNamespace(station=r.previous_station, at=r.previous_at)
        if (move := too_fast(previous, r, rule)) is not None:
            rows.append(move)
    if rows:
        op.bulk_insert(moves, rows)
    op.execute("DELETE FROM use_anomalies WHERE kind = 'pass_too_fast'")


def downgrade() -> None:
    # The candidates the anomaly query checked before this revision: the passes with a fast move, at its time.
    op.execute(
        "INSERT INTO use_anomalies (kind, at, credential)"
        " SELECT DISTINCT 'pass_too_fast', at, credential FROM pass_moves"
    )
    op.drop_index("ix_pass_moves_at", table_name="pass_moves")
    op.drop_table("pass_moves")
