"""trip_anomalies keeps what an anomaly shows of its trip (credential, stations, exit gate, times, flags), so
a page of orphan exits, repeated exits or overstays reads those rows alone: at 10 M events, reading a page's
100 trips at random from the month was most of what those kinds cost for a day not read before. Filled here
from the trips. Both engines.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "credential": sa.String(48),
    "entry_station": sa.String(16),
    "entry_at": sa.DateTime(),
    "exit_station": sa.String(16),
    "exit_gate": sa.String(32),
    "exit_at": sa.DateTime(),
    "flags": sa.String(200),
}


def upgrade() -> None:
    with op.batch_alter_table("trip_anomalies") as batch:
        for name, kind in _TYPES.items():
            batch.add_column(sa.Column(name, kind, nullable=True))
    values = ", ".join(
        f"{name} = (SELECT trips.{name} FROM trips WHERE trips.id = trip_anomalies.trip_id)"  # noqa: S608
        for name in _TYPES
    )
    op.execute(f"UPDATE trip_anomalies SET {values}")  # noqa: S608 (our column names, above)


def downgrade() -> None:
    with op.batch_alter_table("trip_anomalies") as batch:
        for name in reversed(_TYPES):
            batch.drop_column(name)
