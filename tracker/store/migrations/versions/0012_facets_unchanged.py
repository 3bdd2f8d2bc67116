"""PostgreSQL: a link added to an announcement rewrites its row only when its facets change.

Revision ID: 0012_facets_unchanged
Revises: 0011_search_terms

The triggers of 0010 on `announcement_services` and `announcement_regions` set the announcement's
`search_facets` after each link inserted or deleted. Every such UPDATE wrote a new version of the
row and computed its generated `search_document` again (`to_tsvector` of title and summary, then
the GIN index): a backfill paid that once per link on top of the INSERT, most of the server's
time in storing a new announcement. The writer now inserts a new announcement with its facets
(`tracker.store.announcements`), and the trigger leaves a row whose facets are already what the
links say as it is. The facets stored are the same: the trigger still computes them from the links.

SQLite: unchanged (its triggers keep a contentless FTS5 table, cheap beside the rest).
The SQL is repeated here, not imported: a migration must not change when the code does.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0012_facets_unchanged"
down_revision: str | None = "0011_search_terms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PG_FACETS_OF = (
    "(SELECT string_agg(f, ' ' ORDER BY f) FROM (SELECT 's' || service_id AS f FROM announcement_services "
    "WHERE announcement_id = X UNION ALL SELECT 'r' || region_id FROM announcement_regions "
    "WHERE announcement_id = X) AS facets)"
)


def _trigger_function(where: str) -> str:
    return f"""
CREATE OR REPLACE FUNCTION tracker_refresh_search_facets() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.announcement_id ELSE NEW.announcement_id END;
BEGIN
    UPDATE announcements SET search_facets = {PG_FACETS_OF.replace("X", "target")} WHERE id = target{where};
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    """The facets trigger skips a row whose facets are unchanged (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_trigger_function(f" AND search_facets IS DISTINCT FROM {PG_FACETS_OF.replace('X', 'target')}"))


def downgrade() -> None:
    """0010's trigger function, which rewrites the row after every link."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_trigger_function(""))
