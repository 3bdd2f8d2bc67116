"""Regions: the AWS partitions and Regions a launch is about, apart from its services.

Revision ID: 0007_regions
Revises: 0006_run_error

`regions` holds each partition or Region once (GovCloud, the China Regions); the
`announcement_regions` association ties announcements to them, so `--region` filters by an
index. Rows stored before carry no regions until their documents are re-extracted.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_regions"
down_revision: str | None = "0006_run_error"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "regions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regions")),
        sa.UniqueConstraint("slug", name=op.f("uq_regions_slug")),
    )
    op.create_table(
        "announcement_regions",
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name=op.f("fk_announcement_regions_announcement_id_announcements"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_announcement_regions_region_id_regions"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("announcement_id", "region_id", name=op.f("pk_announcement_regions")),
    )
    op.create_index("ix_announcement_regions_region", "announcement_regions", ["region_id", "announcement_id"])


def downgrade() -> None:
    op.drop_index("ix_announcement_regions_region", table_name="announcement_regions")
    op.drop_table("announcement_regions")
    op.drop_table("regions")
