"""Why a run failed: the error that ended it.

Revision ID: 0006_run_error
Revises: 0005_date_source

`runs.error` holds the reason a run ended before it finished its work (a full disk, a signal,
an unexpected error), with URLs masked; NULL for a run that completed (a source's own failure
is in `outcomes`) and for rows stored before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_run_error"
down_revision: str | None = "0005_date_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("error", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "error")
