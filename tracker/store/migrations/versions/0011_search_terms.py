"""PostgreSQL: the lexemes of every announcement's title and summary, so a prefix can be spelled out.

Revision ID: 0011_search_terms
Revises: 0010_search_index

A search's last word is also a prefix ("serverl" finds "serverless"). GIN answers a prefix
('failov':*) by collecting every row of every lexeme that starts with it into a bitmap before
intersecting it with anything: 40 ms at 1,000,000 announcements for a word in one of 22 when
the other word is as common, against 9 ms for the same lexemes whole ('failov'), and 30 ms
against 0.8 ms beside a rare service. The query of all time (by the plain lexemes) spells the
prefix out as the lexemes of this table that start with it (`tracker.store.search`).

`search_terms` holds each plain lexeme of `to_tsvector('english', title || ' ' || summary)`
once, the same lexemes `search_document` holds unqualified (0010): a statement trigger adds
those of inserted rows, a row trigger those of a changed title or summary. Lexemes are never
removed (one no announcement has any more matches nothing). `COLLATE "C"`: a prefix is a
range of the primary key in byte order.

SQLite needs no table: its FTS5 index lists its own terms (fts5vocab).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0011_search_terms"
down_revision: str | None = "0010_search_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEXEMES_OF = "to_tsvector('english'::regconfig, coalesce({row}.title, '') || ' ' || coalesce({row}.summary, ''))"

PG_STATEMENTS = (
    'CREATE TABLE search_terms (term text COLLATE "C" NOT NULL, CONSTRAINT pk_search_terms PRIMARY KEY (term))',
    f"""CREATE FUNCTION tracker_search_terms_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_terms (term)
        SELECT DISTINCT t.lexeme FROM new_rows CROSS JOIN LATERAL unnest({LEXEMES_OF.format(row="new_rows")}) AS t
        ORDER BY 1
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$""",
    f"""CREATE FUNCTION tracker_search_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO search_terms (term)
        SELECT DISTINCT t.lexeme FROM unnest({LEXEMES_OF.format(row="NEW")}) AS t
        ORDER BY 1
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END
    $$""",
    "CREATE TRIGGER announcements_search_terms_insert AFTER INSERT ON announcements "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION tracker_search_terms_inserted()",
    "CREATE TRIGGER announcements_search_terms_update AFTER UPDATE OF title, summary ON announcements "
    "FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.summary IS DISTINCT FROM NEW.summary) "
    "EXECUTE FUNCTION tracker_search_terms_changed()",
    "INSERT INTO search_terms (term) SELECT DISTINCT t.lexeme FROM announcements "
    f"CROSS JOIN LATERAL unnest({LEXEMES_OF.format(row='announcements')}) AS t ORDER BY 1",
)


def upgrade() -> None:
    """The table, its triggers, and the lexemes of the announcements stored so far (PostgreSQL only)."""
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in PG_STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    """Drop the triggers, their functions and the table."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS announcements_search_terms_insert ON announcements")
    op.execute("DROP TRIGGER IF EXISTS announcements_search_terms_update ON announcements")
    op.execute("DROP FUNCTION IF EXISTS tracker_search_terms_inserted()")
    op.execute("DROP FUNCTION IF EXISTS tracker_search_terms_changed()")
    op.execute("DROP TABLE IF EXISTS search_terms")
