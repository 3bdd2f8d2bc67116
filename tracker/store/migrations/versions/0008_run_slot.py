"""Which scheduled time a run is for, so two schedulers do each daily run once.

Revision ID: 0008_run_slot
Revises: 0007_regions

`runs.slot` is the cron time (UTC) a `tracker schedule` run was started for; NULL for a run
started by hand (`tracker run`, `--run-now`) and for rows stored before. A scheduler holding
the run lock looks for a finished run of the slot before it starts one: whichever scheduler
comes second finds the slot done and does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_run_slot"
down_revision: str | None = "0007_regions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # DateTime(timezone=True) as in 0001: the models' UTC conversion is Python-side only.
    # Batch mode on SQLite (env.py): ALTER TABLE there cannot add an index with the column.
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("slot", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_runs_slot", ["slot"])


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_index("ix_runs_slot")
        batch.drop_column("slot")
