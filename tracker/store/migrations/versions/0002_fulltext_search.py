"""Full-text search on announcements: SQLite FTS5 table with triggers, PostgreSQL GIN index.

Revision ID: 0002_fulltext_search
Revises: 0001
Create Date: 2026-11-29

SQLite: an external-content FTS5 table (the text is not stored twice) over title and
summary, porter-stemmed, kept in step by three triggers and filled once here. A later
batch migration that rebuilds `announcements` drops these triggers with the old table:
it must call `create_sqlite_triggers()` again (tests/store/test_search.py fails otherwise).

PostgreSQL: a GIN index on the same expression `tracker.store.search.PG_DOCUMENT` uses
(repeated here, not imported: a migration must not change when the code does).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_fulltext_search"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_DOCUMENT = "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(summary, ''))"

SQLITE_TRIGGERS = (
    """CREATE TRIGGER announcements_fts_insert AFTER INSERT ON announcements BEGIN
        INSERT INTO announcements_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END""",
    """CREATE TRIGGER announcements_fts_delete AFTER DELETE ON announcements BEGIN
        INSERT INTO announcements_fts(announcements_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
    END""",
    """CREATE TRIGGER announcements_fts_update AFTER UPDATE OF title, summary ON announcements BEGIN
        INSERT INTO announcements_fts(announcements_fts, rowid, title, summary)
        VALUES ('delete', old.id, old.title, old.summary);
        INSERT INTO announcements_fts(rowid, title, summary) VALUES (new.id, new.title, new.summary);
    END""",
)


def create_sqlite_triggers() -> None:
    """(Re)create the triggers that keep announcements_fts in step with announcements."""
    for name in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS announcements_fts_{name}")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)
    op.execute("INSERT INTO announcements_fts(announcements_fts) VALUES ('rebuild')")


def upgrade() -> None:
    """Create the full-text index of the database in use."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE announcements_fts USING fts5(title, summary, content='announcements', "
            "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
        )
        create_sqlite_triggers()
    elif dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_announcements_fulltext ON announcements USING gin ({PG_DOCUMENT})")


def downgrade() -> None:
    """Drop the full-text index."""
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS announcements_fts_{name}")
        op.execute("DROP TABLE IF EXISTS announcements_fts")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_announcements_fulltext")
