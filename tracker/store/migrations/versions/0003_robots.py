"""robots: the last robots.txt of each origin, so a no-change run asks for it conditionally.

Revision ID: 0003_robots
Revises: 0002_fulltext_search
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0003_robots"
down_revision: str | None = "0002_fulltext_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "robots",
        sa.Column("origin", sa.String(300), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("etag", sa.Text(), nullable=True),
        sa.Column("last_modified", sa.String(100), nullable=True),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin", name=op.f("pk_robots")),
    )


def downgrade() -> None:
    op.drop_table("robots")
