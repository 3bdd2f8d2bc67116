"""Full-text index read newest first, with the service, event and region filters inside it.

Revision ID: 0010_search_index
Revises: 0008_run_slot

Also indexes lower(slug), lower(name) and lower(alias) of the services: a typed service name
is resolved by index lookups, not by reading every service and alias.

Replaces the full-text index of 0002_fulltext_search, which found every match and then read each
matching row to sort them by date: 100-150 ms at 1,000,000 announcements for a common word.

`announcements.search_facets` ("s12 s40 r3": the announcement's service and region ids) is
kept by triggers on `announcement_services` and `announcement_regions`, so the index can hold
the filters as terms: a search for a word within a service intersects two posting lists.

SQLite: a contentless FTS5 table `announcements_search` (title, summary, facets: those ids and
"e<event id>") whose rowid is the announcement's *search key*, `(minute << 31) + id`, where
`minute` counts minutes since 1900-01-01 plus one, and 0 for an undated announcement: FTS5
yields matches in rowid order, so "the newest 50 matches" reads 50 entries of the posting
lists (ORDER BY rowid DESC LIMIT) instead of sorting all matches. Triggers keep it in step
(a contentless table is told the old values to delete: they are the row's old columns).
`detail=column`: the queries use column filters but never phrases or positions.

PostgreSQL: a generated column `search_document` under a GIN index, with the lexemes of title
and summary and the facets twice: qualified by the month of the announcement ('202502:snapshot',
'202502~s12', '0:...' undated), and plain ('snapshot', '~s12'). The query asks the newest
months first, reading the rows of a month or a few; a word too rare to fill a page in a year
is then looked for in all time by its plain lexemes, reading its few rows.

A later batch migration that rebuilds `announcements` on SQLite drops these triggers with the
old table: it must call `create_sqlite_triggers()` again (tests/store/test_search.py fails otherwise).
The SQL is repeated here, not imported from tracker.store.search: a migration must not change
when the code does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_search_index"
down_revision: str | None = "0009_publish_state"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The facets of one announcement (`X` is replaced by the SQL naming its id), sorted.
FACETS_OF = (
    "(SELECT group_concat(f, ' ') FROM (SELECT 's' || service_id AS f FROM announcement_services "
    "WHERE announcement_id = X UNION ALL SELECT 'r' || region_id FROM announcement_regions "
    "WHERE announcement_id = X ORDER BY 1))"
)
PG_FACETS_OF = (
    "(SELECT string_agg(f, ' ' ORDER BY f) FROM (SELECT 's' || service_id AS f FROM announcement_services "
    "WHERE announcement_id = X UNION ALL SELECT 'r' || region_id FROM announcement_regions "
    "WHERE announcement_id = X) AS facets)"
)


def sqlite_key(row: str) -> str:
    """SQL of the search key of `row` (new, old or a table alias): (minute << 31) + id."""
    minute = f"CAST((julianday({row}.announced_at) - 2415020.5) * 1440 AS INTEGER)"
    return (
        f"(CASE WHEN {row}.announced_at IS NULL THEN {row}.id "
        f"ELSE (coalesce(max(1, {minute} + 1), 0) << 31) + {row}.id END)"
    )


def sqlite_facets(row: str) -> str:
    """SQL of the facets column of `row`: its service and region ids, and its event."""
    return f"trim(coalesce({row}.search_facets, '') || coalesce(' e' || {row}.event_id, ''))"


def _sqlite_index(row: str) -> str:
    return f"{sqlite_key(row)}, {row}.title, {row}.summary, {sqlite_facets(row)}"


SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER announcements_search_insert AFTER INSERT ON announcements BEGIN
        INSERT INTO announcements_search(rowid, title, summary, facets) VALUES ({_sqlite_index("new")});
    END""",
    f"""CREATE TRIGGER announcements_search_delete AFTER DELETE ON announcements BEGIN
        INSERT INTO announcements_search(announcements_search, rowid, title, summary, facets)
        VALUES ('delete', {_sqlite_index("old")});
    END""",
    f"""CREATE TRIGGER announcements_search_update
        AFTER UPDATE OF title, summary, announced_at, event_id, search_facets ON announcements BEGIN
        INSERT INTO announcements_search(announcements_search, rowid, title, summary, facets)
        VALUES ('delete', {_sqlite_index("old")});
        INSERT INTO announcements_search(rowid, title, summary, facets) VALUES ({_sqlite_index("new")});
    END""",
    *(
        f"""CREATE TRIGGER {table}_search_{when.lower()} AFTER {when} ON {table} BEGIN
            UPDATE announcements SET search_facets = {FACETS_OF.replace("X", f"{row}.announcement_id")}
            WHERE id = {row}.announcement_id;
        END"""
        for table in ("announcement_services", "announcement_regions")
        for when, row in (("INSERT", "new"), ("DELETE", "old"))
    ),
)
SQLITE_TRIGGER_NAMES = (
    "announcements_search_insert",
    "announcements_search_delete",
    "announcements_search_update",
    "announcement_services_search_insert",
    "announcement_services_search_delete",
    "announcement_regions_search_insert",
    "announcement_regions_search_delete",
)

PG_FUNCTION = """
CREATE OR REPLACE FUNCTION tracker_search_document(
    title text, summary text, facets text, event_id integer, announced_at timestamptz
) RETURNS tsvector LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_tsvector(ARRAY(
        SELECT x.m || ':' || t.lexeme FROM unnest(x.document) AS t
        UNION ALL SELECT t.lexeme FROM unnest(x.document) AS t
        UNION ALL SELECT x.m || '~' || f FROM unnest(x.facets) AS f WHERE f <> ''
        UNION ALL SELECT '~' || f FROM unnest(x.facets) AS f WHERE f <> ''
    ))
    FROM (SELECT
        to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(summary, '')) AS document,
        string_to_array(coalesce(facets, '') || coalesce(' e' || event_id, ''), ' ') AS facets,
        CASE WHEN announced_at IS NULL THEN '0' ELSE (
            extract(year FROM announced_at AT TIME ZONE 'UTC')::integer * 100
            + extract(month FROM announced_at AT TIME ZONE 'UTC')::integer)::text END AS m) AS x
$$
"""
PG_TRIGGER_FUNCTION = f"""
CREATE OR REPLACE FUNCTION tracker_refresh_search_facets() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    target integer := CASE WHEN TG_OP = 'DELETE' THEN OLD.announcement_id ELSE NEW.announcement_id END;
BEGIN
    UPDATE announcements SET search_facets = {PG_FACETS_OF.replace("X", "target")} WHERE id = target;
    RETURN NULL;
END
$$
"""


# 0002_fulltext_search's triggers, for the downgrade.
SQLITE_0002_TRIGGERS = (
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
    """(Re)create the triggers that keep announcements_search and search_facets in step."""
    for name in SQLITE_TRIGGER_NAMES:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for statement in SQLITE_TRIGGERS:
        op.execute(statement)


# What tracker.store.names looks a typed service name up by, case-insensitively: one index each.
NAME_INDEXES = (
    ("ix_services_slug_lower", "services", "lower(slug)"),
    ("ix_services_name_lower", "services", "lower(name)"),
    ("ix_service_aliases_alias_lower", "service_aliases", "lower(alias)"),
)


def upgrade() -> None:
    """Facets column, then the new index of the database in use in place of 0002's."""
    dialect = op.get_bind().dialect.name
    for name, table, expression in NAME_INDEXES:
        op.execute(f"CREATE INDEX {name} ON {table} ({expression})")
    # Plain ALTER TABLE (no batch rebuild): a rebuild of `announcements` would drop its triggers.
    op.add_column("announcements", sa.Column("search_facets", sa.Text(), nullable=True))
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS announcements_fts_{name}")
        op.execute("DROP TABLE IF EXISTS announcements_fts")
        op.execute(f"UPDATE announcements SET search_facets = {FACETS_OF.replace('X', 'announcements.id')}")
        op.execute(
            "CREATE VIRTUAL TABLE announcements_search USING fts5(title, summary, facets, content='', "
            "detail=column, tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "INSERT INTO announcements_search(rowid, title, summary, facets) "
            f"SELECT {_sqlite_index('announcements')} FROM announcements"
        )
        create_sqlite_triggers()
    elif dialect == "postgresql":
        op.execute(f"UPDATE announcements SET search_facets = {PG_FACETS_OF.replace('X', 'announcements.id')}")
        op.execute("DROP INDEX IF EXISTS ix_announcements_fulltext")
        op.execute(PG_FUNCTION)
        # Adding a stored generated column rewrites the table: the UPDATE's old rows go with it.
        op.execute(
            "ALTER TABLE announcements ADD COLUMN search_document tsvector GENERATED ALWAYS AS "
            "(tracker_search_document(title, summary, search_facets, event_id, announced_at)) STORED"
        )
        op.execute("CREATE INDEX ix_announcements_search ON announcements USING gin (search_document)")
        # The newest first without a sort: PostgreSQL cannot read the ascending index of
        # announced_at as "DESC NULLS LAST" (SQLite can), and the rows are wider now.
        op.execute("CREATE INDEX ix_announcements_newest ON announcements (announced_at DESC NULLS LAST, id DESC)")
        op.execute(PG_TRIGGER_FUNCTION)
        for table in ("announcement_services", "announcement_regions"):
            op.execute(
                f"CREATE TRIGGER {table}_search AFTER INSERT OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION tracker_refresh_search_facets()"
            )


def downgrade() -> None:
    """Back to 0002's index."""
    dialect = op.get_bind().dialect.name
    for name, _table, _expression in NAME_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    if dialect == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS announcements_search")
        op.execute(
            "CREATE VIRTUAL TABLE announcements_fts USING fts5(title, summary, content='announcements', "
            "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
        )
        for statement in SQLITE_0002_TRIGGERS:
            op.execute(statement)
        op.execute("INSERT INTO announcements_fts(announcements_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        for table in ("announcement_services", "announcement_regions"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_search ON {table}")
        op.execute("DROP FUNCTION IF EXISTS tracker_refresh_search_facets()")
        op.execute("DROP INDEX IF EXISTS ix_announcements_search")
        op.execute("DROP INDEX IF EXISTS ix_announcements_newest")
        op.execute("ALTER TABLE announcements DROP COLUMN IF EXISTS search_document")
        op.execute("DROP FUNCTION IF EXISTS tracker_search_document(text, text, text, integer, timestamptz)")
        op.execute(
            "CREATE INDEX ix_announcements_fulltext ON announcements USING gin "
            "(to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(summary, '')))"
        )
    op.drop_column("announcements", "search_facets")
