"""Full-text search over announcements: SQLite FTS5 and PostgreSQL text search, one behaviour.

`fulltext_condition` turns what a person typed into a SQL condition on `announcements`.
Both databases see the same query: the words of the text (letters and digits), English
stop words dropped, every word required, stemmed ("functions" finds "function"), the last
word also as a prefix ("serverl" finds "serverless", for search-as-you-type). Operators
and quotes are never passed through, so no input is a syntax error.

The index lives in migration 0002_fulltext_search: on SQLite an external-content FTS5 table
kept in step by triggers, on PostgreSQL a GIN expression index (the expression below must
stay identical to the index's, or the planner does not use it).
"""

from __future__ import annotations

import logging
import re

from sqlalchemy import ColumnElement, and_, literal_column, select, table, text
from sqlalchemy.types import Integer

from tracker.store.tables import ANNOUNCEMENTS, Reader, dialect_name

log = logging.getLogger(__name__)

FTS_TABLE = "announcements_fts"
# The FTS5 table and its shadow tables are not models: schema comparisons must skip them.
FTS_TABLES = frozenset({FTS_TABLE} | {f"{FTS_TABLE}_{s}" for s in ("data", "idx", "docsize", "config", "content")})
PG_INDEX = "ix_announcements_fulltext"
PG_DOCUMENT = "to_tsvector('english'::regconfig, coalesce(title, '') || ' ' || coalesce(summary, ''))"
MAX_WORDS = 16  # longer queries are cut: each word is one more index probe

# The English stop words PostgreSQL drops, so SQLite (which keeps every word) behaves the same.
STOP_WORDS = frozenset(
    """
a about above after again against all am an and any are as at be because been before being below
between both but by can did do does doing down during each few for from further had has have having
he her here hers herself him himself his how i if in into is it its itself just me more most my
myself no nor not now of off on once only or other our ours ourselves out over own s same she should
so some such t than that the their theirs them themselves then there these they this those through
to too under until up very was we were what when where which while who whom why will with you your
yours yourself yourselves
""".split()
)

_WORD = re.compile(r"\w+", re.UNICODE)


def search_words(query: str) -> list[str]:
    """The words a search looks for: lowercased, stop words dropped, at most MAX_WORDS."""
    words = [w.lower() for w in _WORD.findall(query or "")]
    words = [w for w in words if w not in STOP_WORDS and w.strip("_")]
    return words[:MAX_WORDS]


def include_name(name: str | None, type_: str, _parent_names: object = None) -> bool:
    """Alembic `include_name` hook: leave the full-text tables and index out of schema comparisons."""
    return not ((type_ == "table" and name in FTS_TABLES) or (type_ == "index" and name == PG_INDEX))


def _sqlite_match(words: list[str]) -> str:
    # Every word double-quoted, so FTS5 operators (AND, NEAR, *, -, :) in the input are plain text.
    parts = [f'"{w}"' for w in words]
    parts[-1] += "*"
    return " ".join(parts)


def _pg_tsquery(words: list[str]) -> str:
    # Words are \w+ only, so single-quoting them is safe; ':*' makes the last one a prefix.
    parts = [f"'{w}'" for w in words]
    parts[-1] += ":*"
    return " & ".join(parts)


def fulltext_condition(session: Reader, query: str) -> ColumnElement[bool] | None:
    """A WHERE condition matching announcements whose title or summary has every word of `query`.

    None when the query has no searchable word (only stop words or punctuation): the
    caller decides what that means (the query returns no result).
    """
    words = search_words(query)
    if not words:
        return None
    dialect = dialect_name(session)
    if dialect == "sqlite":
        matches = (
            select(literal_column("rowid", Integer))
            .select_from(table(FTS_TABLE))
            .where(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=_sqlite_match(words)))
        )
        return ANNOUNCEMENTS.c.id.in_(matches)
    if dialect == "postgresql":
        document = PG_DOCUMENT.replace("title", "announcements.title").replace("summary", "announcements.summary")
        # and_() of one clause renders as that clause: typed as a boolean condition, SQL unchanged.
        return and_(
            text(f"{document} @@ to_tsquery('english'::regconfig, :fts_query)").bindparams(fts_query=_pg_tsquery(words))
        )
    # Any other database: a plain substring match on every word (slow, but correct enough).
    log.warning("no full-text index on %s: falling back to substring search", dialect)
    condition: ColumnElement[bool] | None = None
    for word in words:
        one = ANNOUNCEMENTS.c.title.icontains(word, autoescape=True) | ANNOUNCEMENTS.c.summary.icontains(
            word, autoescape=True
        )
        condition = one if condition is None else condition & one
    return condition
