"""Station staff's actions at the gate, as journal ingest stores them beside the scans: `gate_settlements`
(a fare owed settled at the exit, or a refused attempt: amount collected and owed, method, agent, the exit
it let out) and `gate_overrides` (an agent's admit or refuse by hand: reason, agent, what the gate said).
Both keyed by the journal event (gate, seq), indexed by time for the reports; a settlement also by the exit it
let out (gate, exit_seq), which a trip's exit names.

Both engines.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "gate_settlements",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("gate_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("station", sa.String(16), nullable=False),
        sa.Column("credential", sa.String(48), nullable=True),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("collected_vnd", sa.Integer(), nullable=False),
        sa.Column("owed_vnd", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("exit_seq", sa.BigInteger(), nullable=True),
        sa.UniqueConstraint("gate_id", "seq", name="uq_gate_settlements_gate_seq"),
    )
    op.create_index("ix_gate_settlements_at", "gate_settlements", ["at"])
    op.create_index("ix_gate_settlements_credential", "gate_settlements", ["credential"])
    op.create_index("ix_gate_settlements_exit", "gate_settlements", ["gate_id", "exit_seq"])
    op.create_table(
        "gate_overrides",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("gate_id", sa.String(32), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("station", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("reason", sa.String(24), nullable=False),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("credential", sa.String(48), nullable=True),
        sa.Column("gate_reason", sa.String(40), nullable=True),
        sa.UniqueConstraint("gate_id", "seq", name="uq_gate_overrides_gate_seq"),
    )
    op.create_index("ix_gate_overrides_at", "gate_overrides", ["at"])


def downgrade() -> None:
    op.drop_index("ix_gate_overrides_at", table_name="gate_overrides")
    op.drop_table("gate_overrides")
    op.drop_index("ix_gate_settlements_exit", table_name="gate_settlements")
    op.drop_index("ix_gate_settlements_credential", table_name="gate_settlements")
    op.drop_index("ix_gate_settlements_at", table_name="gate_settlements")
    op.drop_table("gate_settlements")
