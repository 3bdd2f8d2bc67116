"""Sort keys: newest-first pages of a service or an event read in index order.

Revision ID: 0004_sort_keys
Revises: 0003_robots

`announcement_services.sort_at` copies the announcement's date (1900-01-01 when it has none)
so that (service_id, sort_at, announcement_id) serves "the newest N of a service" without
sorting all of them; it replaces the index on service_id alone. `announcements` gets
(event_id, announced_at, id) for the same reason, replacing the index on event_id alone.
`announcements` is not rebuilt (no batch mode on it): that would drop the full-text triggers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004_sort_keys"
down_revision: str | None = "0003_robots"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDATED = datetime(1900, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.add_column("announcement_services", sa.Column("sort_at", sa.DateTime(timezone=True), nullable=True))
    fill = sa.text(
        "UPDATE announcement_services SET sort_at = COALESCE("
        "(SELECT a.announced_at FROM announcements a WHERE a.id = announcement_services.announcement_id), :undated)"
    ).bindparams(
        # SQLite keeps naive UTC text (tracker.store.models.UTCDateTime); PostgreSQL an aware value.
        sa.bindparam("undated", UNDATED.replace(tzinfo=None) if sqlite else UNDATED, type_=sa.DateTime(timezone=True))
    )
    op.execute(fill)
    with op.batch_alter_table("announcement_services") as batch:
        batch.alter_column("sort_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_index("ix_announcement_services_service_id")
        batch.create_index("ix_announcement_services_by_date", ["service_id", "sort_at", "announcement_id"])
    op.drop_index("ix_announcements_event_id", table_name="announcements")
    op.create_index("ix_announcements_by_event_date", "announcements", ["event_id", "announced_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_announcements_by_event_date", table_name="announcements")
    op.create_index("ix_announcements_event_id", "announcements", ["event_id"])
    with op.batch_alter_table("announcement_services") as batch:
        batch.drop_index("ix_announcement_services_by_date")
        batch.create_index("ix_announcement_services_service_id", ["service_id"])
        batch.drop_column("sort_at")
