"""Dates with provenance: where each announcement's date comes from.

Revision ID: 0005_date_source
Revises: 0004_sort_keys

`announcements.announced_at_source` says how `announced_at` was found (the item's own date,
its document's, a keynote's day, the event's first day); NULL for rows stored before, and
for an announcement with no date. `announcements` is not rebuilt (a plain ADD COLUMN): a
batch rebuild would drop the full-text triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_date_source"
down_revision: str | None = "0004_sort_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("announcements", sa.Column("announced_at_source", sa.String(50), nullable=True))


def downgrade() -> None:
    op.drop_column("announcements", "announced_at_source")
