"""Publishing proportional to the change: announcement revisions, the published state, incremental linking.

Revision ID: 0009_publish_state
Revises: 0008_run_slot

`announcements.revision` is the store's revision (`store_revision`, one counter bumped once per
writing transaction) at which what the feeds show of an announcement last changed. The last
publish to a folder is recorded in `publish_state` (which revision, which settings),
`published_feeds` (each feed with its number of entries) and `published_entries` (each entry at
its place in its feed's order): the next publish reads the announcements above that revision
and the entries of the pages they are on, not the whole store. `sessions.revision` and `link_state`
do the same for linking across documents: only the announcements changed since the last linking,
and those of events whose sessions changed, are scored again. Existing rows get revision 0 and
there is no published or linking state, so the first publish and linking after this migration
read everything.
`announcements` is not rebuilt (no batch mode on it): that would drop the full-text triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_publish_state"
down_revision: str | None = "0008_run_slot"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("announcements", sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_announcements_revision", "announcements", ["revision"])
    op.add_column("sessions", sa.Column("revision", sa.Integer(), server_default="0", nullable=False))
    op.create_index("ix_sessions_revision", "sessions", ["revision"])
    counter = op.create_table(
        "store_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_store_revision")),
    )
    op.bulk_insert(counter, [{"id": 1, "value": 0}])
    op.create_table(
        "link_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("settings", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_state")),
    )
    op.create_table(
        "publish_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("settings", sa.String(length=64), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_publish_state")),
    )
    op.create_table(
        "published_feeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=600), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("slug", sa.String(length=200), nullable=True),
        sa.Column("event_slug", sa.String(length=200), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_published_feeds")),
        sa.UniqueConstraint("path", name=op.f("uq_published_feeds_path")),
    )
    op.create_table(
        "published_entries",
        sa.Column("feed_id", sa.Integer(), nullable=False),
        sa.Column("order_ts", sa.BigInteger(), nullable=False),
        # Python's order of str (code points): SQLite's default collation, "C" on PostgreSQL.
        sa.Column(
            "key",
            sa.String(length=512).with_variant(sa.String(length=512, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feed_id"],
            ["published_feeds.id"],
            name=op.f("fk_published_entries_feed_id_published_feeds"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name=op.f("fk_published_entries_announcement_id_announcements"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("feed_id", "order_ts", "key", name=op.f("pk_published_entries")),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_published_entries_announcement_id", "published_entries", ["announcement_id"])


def downgrade() -> None:
    op.drop_index("ix_published_entries_announcement_id", table_name="published_entries")
    op.drop_table("published_entries")
    op.drop_table("published_feeds")
    op.drop_table("publish_state")
    op.drop_table("link_state")
    op.drop_table("store_revision")
    with op.batch_alter_table("sessions") as batch:
        batch.drop_index("ix_sessions_revision")
        batch.drop_column("revision")
    op.drop_index("ix_announcements_revision", table_name="announcements")
    # SQLite 3.35+ drops a column in place: no batch rebuild, so the full-text triggers stay.
    op.drop_column("announcements", "revision")
