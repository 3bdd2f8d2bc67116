"""Full-text search over announcements: SQLite FTS5 and PostgreSQL text search, one behaviour.

Both databases see the same query: the words of the text (letters and digits), English stop
words dropped, every word required, stemmed ("functions" finds "function"), the last word
also as a prefix ("serverl" finds "serverless", for search-as-you-type) when it has at least
MIN_PREFIX (3) characters: a last word of one or two letters is a whole word ("s3", not every
word starting with "s3"; "l" is not nearly every announcement). Operators and quotes are never
passed through, so no input is a syntax error.

`matching_ids` gives the newest (or oldest) matches first, reading the index in date order
with the service, event and region filters inside it, so a page costs about the same for a
word in every announcement as for a word in a few (migration 0010_search_index):

* SQLite: the FTS5 table's rowid is the announcement's search key, (minute << 31) + id, so
  `ORDER BY rowid DESC LIMIT n` reads n entries of the posting lists. Announcements of the
  same minute come out by id, not by second: the matches of the last minute read are sorted
  exactly by (announced_at, id) before the page is cut. FTS5 would merge every posting of
  every term of a prefix before returning anything, so the last word is asked as itself OR
  the index's longer terms that start with it (its vocabulary, remembered while the index is
  unchanged), read newest first like any term.
* PostgreSQL: every lexeme is qualified by its announcement's month ('202502:snapshot'). The
  newest 7 days are asked first (the months they touch, narrowed to the days by the date
  index), then 35, 120 and 400 days, each read only if the ones before left the page short,
  then the rest of time by the plain lexemes, where the prefix is spelled out from
  `search_terms` (migration 0011): each query reads about the rows of its page.

Services, events and regions are terms of the index too ("s12", "e3", "r2", kept in step by
triggers from the link tables), so a word within one service intersects two posting lists.
`fulltext_condition` is the same search as a plain WHERE condition, for counting matches.
The statements are built once per shape of filters and run with their values bound (`Prepared`).
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, column, func, or_, select, table, text, union_all
from sqlalchemy.types import Integer, LargeBinary, String

from tracker.store.prepared import Prepared, all_together
from tracker.store.tables import (
    ANNOUNCEMENT_REGIONS,
    ANNOUNCEMENT_SERVICES,
    ANNOUNCEMENT_SESSIONS,
    ANNOUNCEMENTS,
    SESSIONS,
    Reader,
    dialect_name,
)

log = logging.getLogger(__name__)

FTS_TABLE = "announcements_search"
OLD_FTS_TABLE = "announcements_fts"  # 0002's, replaced by 0010
# The FTS5 tables and their shadow tables are not models: schema comparisons must skip them.
FTS_TABLES = frozenset(
    name
    for base in (FTS_TABLE, OLD_FTS_TABLE)
    for name in (base, *(f"{base}_{s}" for s in ("data", "idx", "docsize", "config", "content")))
)
# The GIN indexes, and the expression indexes of the name lookups (tracker.store.names), which
# Alembic cannot compare: created by migrations 0002 and 0010, not declared by the models.
OTHER_INDEXES = frozenset(
    {
        "ix_announcements_search",
        "ix_announcements_fulltext",
        "ix_announcements_newest",
        "ix_services_slug_lower",
        "ix_services_name_lower",
        "ix_service_aliases_alias_lower",
    }
)
PG_COLUMN = "search_document"  # generated: not a model column
TERMS_TABLE = "search_terms"  # PostgreSQL's plain lexemes, kept by triggers (migration 0011): not a model
MAX_WORDS = 16  # longer queries are cut: each word is one more index probe
MIN_PREFIX = 3  # a shorter last word is a whole word, not a prefix: "l" is not every word in l
ID_BITS = 31  # ids are below 2**31 (INTEGER on PostgreSQL): the low bits of a search key
_ID_MASK = (1 << ID_BITS) - 1
_NO_KEY = (1 << 63) - 1  # above every search key: no upper bound
_EPOCH = datetime(1900, 1, 1, tzinfo=UTC)  # minute 0 of the search key (tracker.store.types.UNDATED)

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

# Letters and digits: both databases' tokenizers split words at underscores and punctuation,
# so one word here is one token there (a phrase would be a different query).
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def search_words(query: str) -> list[str]:
    """The words a search looks for: lowercased, stop words dropped, at most MAX_WORDS."""
    words = [w.lower() for w in _WORD.findall(query or "")]
    return [w for w in words if w not in STOP_WORDS][:MAX_WORDS]


def is_prefix(word: str) -> bool:
    """Whether a search's last word is also a prefix: when it has at least MIN_PREFIX characters."""
    return len(word) >= MIN_PREFIX


def include_name(name: str | None, type_: str, _parent_names: object = None) -> bool:
    """Alembic `include_name` hook: leave the full-text tables, index and column out of schema comparisons."""
    return not (
        (type_ == "table" and (name in FTS_TABLES or name == TERMS_TABLE))
        or (type_ == "index" and name in OTHER_INDEXES)
        or (type_ == "column" and name == PG_COLUMN)
    )


@dataclass(frozen=True)
class Facets:
    """The filters the index holds as terms: each tuple is "any of these ids"; empty is no filter."""

    services: tuple[int, ...] = ()
    events: tuple[int, ...] = ()
    regions: tuple[int, ...] = ()

    def groups(self) -> list[list[str]]:
        """The facet terms, one list per filter (OR within, AND between)."""
        return [
            [f"{prefix}{i}" for i in sorted(set(ids))]
            for prefix, ids in (("s", self.services), ("e", self.events), ("r", self.regions))
            if ids
        ]


@dataclass(frozen=True)
class Bounds:
    """The dates the other conditions allow: [since, until) and the keyset cursor, to narrow the index range."""

    since: datetime | None = None
    until: datetime | None = None
    after: tuple[datetime | None, int] | None = None

    @property
    def dated_only(self) -> bool:
        """Whether undated announcements are excluded (a date range never holds them)."""
        return self.since is not None or self.until is not None


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def matching_ids(
    session: Reader,
    words: Sequence[str],
    *,
    facets: Facets,
    bounds: Bounds,
    order: str,
    limit: int | None,
    session_code: str | None = None,
) -> list[int]:
    """Ids of the announcements with every word that meet the facets, the dates and cursor of
    `bounds` and the session code, in `order` of (announced_at, id), undated last, at most `limit`.

    The statements are built once per shape of filters, with the values bound (`Prepared`).
    """
    if order not in {"asc", "desc"}:
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")
    if not words:
        return []
    exact = _Exact.of(bounds, session_code)
    dialect = dialect_name(session)
    if dialect == "sqlite":
        return _sqlite_ids(session, list(words), facets, exact, bounds, order, limit)
    if dialect == "postgresql":
        return _pg_ids(session, list(words), facets, exact, bounds, order, limit)
    # Any other database: a plain substring match on every word (slow, but correct enough).
    log.warning("no full-text index on %s: falling back to substring search", dialect)
    stmt = select(ANNOUNCEMENTS.c.id).where(_substring(words), *exact.clauses(order))
    if facets.services:
        stmt = stmt.where(
            ANNOUNCEMENTS.c.id.in_(
                select(ANNOUNCEMENT_SERVICES.c.announcement_id).where(
                    ANNOUNCEMENT_SERVICES.c.service_id.in_(facets.services)
                )
            )
        )
    if facets.events:
        stmt = stmt.where(ANNOUNCEMENTS.c.event_id.in_(facets.events))
    if facets.regions:
        stmt = stmt.where(
            ANNOUNCEMENTS.c.id.in_(
                select(ANNOUNCEMENT_REGIONS.c.announcement_id).where(
                    ANNOUNCEMENT_REGIONS.c.region_id.in_(facets.regions)
                )
            )
        )
    at = ANNOUNCEMENTS.c.announced_at
    if order == "desc":
        stmt = stmt.order_by(at.desc().nulls_last(), ANNOUNCEMENTS.c.id.desc())
    else:
        stmt = stmt.order_by(at.asc().nulls_last(), ANNOUNCEMENTS.c.id.asc())
    if limit is not None:
        stmt = stmt.limit(limit)
    return [int(i) for i in session.execute(stmt, exact.values).scalars()]


@dataclass(frozen=True)
class _Exact:
    """The exact conditions on `announcements` besides the words and facets (dates, session code,
    cursor): their shape, which picks a prepared statement, and the values bound to it."""

    since: bool
    until: bool
    session_code: bool
    cursor: str | None  # "dated", "undated" (the cursor's announcement has no date) or None
    values: dict[str, Any]

    @classmethod
    def of(cls, bounds: Bounds, session_code: str | None) -> _Exact:
        """The conditions of these bounds and session code."""
        values: dict[str, Any] = {}
        if bounds.since is not None:
            values["since"] = _utc(bounds.since)
        if bounds.until is not None:
            values["until"] = _utc(bounds.until)
        if session_code:  # as `query_announcements` compares it: "  " is a code nothing has
            values["session_code"] = session_code.strip().upper()
        cursor = None
        if bounds.after is not None:
            at, values["after_id"] = bounds.after
            cursor = "undated" if at is None else "dated"
            if at is not None:
                values["after_at"] = _utc(at)
        return cls(bounds.since is not None, bounds.until is not None, bool(session_code), cursor, values)

    @property
    def shape(self) -> tuple[bool, bool, bool, str | None]:
        """What picks the statement: which conditions there are."""
        return (self.since, self.until, self.session_code, self.cursor)

    def clauses(self, order: str) -> list[ColumnElement[bool]]:
        """The conditions, with bound parameters named as in `values`."""
        at = ANNOUNCEMENTS.c.announced_at
        ann_id = ANNOUNCEMENTS.c.id
        out: list[ColumnElement[bool]] = []
        if self.since:
            out.append(at >= bindparam("since", type_=at.type))
        if self.until:
            out.append(at < bindparam("until", type_=at.type))
        if self.session_code:
            out.append(
                ann_id.in_(
                    select(ANNOUNCEMENT_SESSIONS.c.announcement_id)
                    .join(SESSIONS, SESSIONS.c.id == ANNOUNCEMENT_SESSIONS.c.session_id)
                    .where(func.upper(SESSIONS.c.code) == bindparam("session_code", type_=String()))
                )
            )
        # Strictly after the cursor in (announced_at nulls last, id) order.
        after_id = bindparam("after_id", type_=Integer())
        if self.cursor == "undated":  # already among the undated rows, which come last: only the id moves on
            out.append(at.is_(None) & (ann_id < after_id if order == "desc" else ann_id > after_id))
        elif self.cursor == "dated":
            after_at = bindparam("after_at", type_=at.type)
            if order == "desc":
                out.append(or_(at < after_at, (at == after_at) & (ann_id < after_id), at.is_(None)))
            else:
                out.append(or_(at > after_at, (at == after_at) & (ann_id > after_id), at.is_(None)))
        return out


def fulltext_condition(session: Reader, query: str, facets: Facets = Facets()) -> ColumnElement[bool] | None:
    """A WHERE condition matching announcements whose title or summary has every word of `query`.

    None when the query has no searchable word (only stop words or punctuation): the
    caller decides what that means (the query returns no result).
    """
    words = search_words(query)
    if not words:
        return None
    dialect = dialect_name(session)
    if dialect == "sqlite":
        fts = _fts()
        matches = select(fts.c.rowid.op("&", return_type=Integer)(_ID_MASK)).where(
            _sqlite_match(session, words, facets)
        )
        return ANNOUNCEMENTS.c.id.in_(matches)
    if dialect == "postgresql":
        terms = _pg_terms(session, words)
        if terms is None:
            return ANNOUNCEMENTS.c.id.is_(None)  # no word left after stemming: nothing matches
        return and_(
            text(f"announcements.{PG_COLUMN} @@ CAST(:tsquery AS tsquery)").bindparams(
                tsquery=_pg_query(terms, facets, None, _pg_longer_terms(session, terms))
            )
        )
    return _substring(words)


def _substring(words: Sequence[str]) -> ColumnElement[bool]:
    condition: ColumnElement[bool] | None = None
    for word in words:
        one = ANNOUNCEMENTS.c.title.icontains(word, autoescape=True) | ANNOUNCEMENTS.c.summary.icontains(
            word, autoescape=True
        )
        condition = one if condition is None else condition & one
    assert condition is not None
    return condition


# --------------------------------------------------------------------------- SQLite


def _fts() -> Any:
    return table(FTS_TABLE, column("rowid", Integer))


def _sqlite_match(session: Reader, words: Sequence[str], facets: Facets) -> ColumnElement[bool]:
    return and_(text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=_sqlite_expression(session, words, facets)))


def _sqlite_expression(session: Reader, words: Sequence[str], facets: Facets) -> str:
    """The FTS5 query: every word double-quoted, so FTS5 operators (AND, NEAR, *, -, :) in the
    input are plain text; words only in title and summary, facet terms only in facets."""
    parts = [_fts_string(w) for w in words]
    if is_prefix(words[-1]):
        parts[-1] = _sqlite_prefix(session, words[-1])
    expression = "{title summary} : (" + " AND ".join(parts) + ")"
    for group in facets.groups():
        expression += " AND facets : (" + " OR ".join(_fts_string(term) for term in group) + ")"
    return expression


def _fts_string(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


# FTS5 answers `"word"*` by reading every posting of every term that starts with the word and
# merging them into one list before it returns the first match: 7 ms for a word in one
# announcement of 22 at 1,000,000 (even when no longer term exists), 60 ms for "serv". A list
# of whole terms, `("word" OR "term" ...)`, is read newest first and stops after the page: its
# terms are the index's own, from its vocabulary (`fts5vocab`), kept per database while the
# index is unchanged (its structure record, which every write rewrites, is the same).
MAX_EXPANSION = 64  # longer terms a prefix is spelled out as; with more, FTS5's own prefix query
TOKENIZE = "porter unicode61 remove_diacritics 2"  # announcements_search's tokenizer (migration 0010)
_STRUCTURE_ROWID = 10  # FTS5's structure record in the %_data table
_TOKENS_TABLE = "tracker_search_tokens"  # a temporary FTS5 table: words in, the index's terms out
_VOCABULARY_LIMIT = 10_000  # prefixes remembered per database; more empties the list


@dataclass
class _Vocabulary:
    """The longer terms of prefixes, for one state of one database's index."""

    version: bytes
    longer: dict[str, tuple[str, ...] | None]  # None: too many, or not a term as typed: FTS5's prefix


_VOCABULARIES: weakref.WeakKeyDictionary[Any, _Vocabulary] = weakref.WeakKeyDictionary()
_VOCABULARIES_LOCK = threading.Lock()
_TOKENS: dict[str, tuple[str, ...]] = {}  # word -> the terms the tokenizer makes of it (never changes)
_TOKENS_LOCK = threading.Lock()
_STRUCTURE = Prepared(
    select(column("block", LargeBinary))
    .select_from(table(f"{FTS_TABLE}_data"))
    .where(column("id", Integer) == bindparam("rowid"))
)


def _sqlite_prefix(session: Reader, word: str) -> str:
    """`word` and every longer term of the index starting with its term, as an FTS5 OR of whole
    terms; FTS5's own prefix query when that cannot be spelled out (too many, odd tokens)."""
    longer = _longer_terms(session, word)
    if longer is None:
        return _fts_string(word) + "*"
    if not longer:
        return _fts_string(word)
    return "(" + " OR ".join([_fts_string(word), *(_fts_string(t) for t in longer)]) + ")"


def _longer_terms(session: Reader, word: str) -> tuple[str, ...] | None:
    found = _sqlite_tokens(session, [word])[word]
    if len(found) != 1:
        return None  # FTS5 makes a phrase of it: its prefix query, as before
    stem = found[0]
    rows = _STRUCTURE.all(session, {"rowid": _STRUCTURE_ROWID})
    version = bytes(rows[0][0]) if rows and rows[0][0] is not None else b""
    engine = _engine(session)
    with _VOCABULARIES_LOCK:
        vocabulary = _VOCABULARIES.get(engine)
        if vocabulary is None or vocabulary.version != version:
            vocabulary = _VOCABULARIES[engine] = _Vocabulary(version, {})
        if stem in vocabulary.longer:
            return vocabulary.longer[stem]
    _temporary_tables(session)
    # The terms after the stem that start with it (a term has no NUL, so stem || char(1) is the
    # first string after the stem itself), in the title and summary; the vocabulary counts each
    # term's postings as it reads it, so the stem's own long list is not asked for.
    terms = [
        str(t)
        for (t,) in session.execute(
            text(
                f"SELECT DISTINCT term FROM temp.{FTS_TABLE}_terms WHERE term >= :low AND term < :high "
                "AND col <> 'facets' LIMIT :limit"
            ).bindparams(low=stem + "\x01", high=stem + "\U0010ffff", limit=MAX_EXPANSION + 1)
        )
    ]
    longer: tuple[str, ...] | None = tuple(terms)
    if len(terms) > MAX_EXPANSION:
        longer = None
    elif terms:
        # A term is looked up as the tokenizer makes it: only those it leaves as they are can be named.
        tokens = _sqlite_tokens(session, terms)
        if any(tokens[t] != (t,) for t in terms):
            longer = None
    with _VOCABULARIES_LOCK:
        if vocabulary.version == version:
            if len(vocabulary.longer) >= _VOCABULARY_LIMIT:
                vocabulary.longer.clear()
            vocabulary.longer[stem] = longer
    return longer


def _temporary_tables(session: Reader) -> None:
    """This connection's tokenizer table and vocabularies (temporary: nothing is written to the
    database, and a read-only transaction may create them)."""
    for statement in (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_TOKENS_TABLE} USING fts5(word, tokenize='{TOKENIZE}')",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{_TOKENS_TABLE}_terms USING fts5vocab(temp, {_TOKENS_TABLE}, instance)",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{FTS_TABLE}_terms USING fts5vocab(main, {FTS_TABLE}, col)",
    ):
        session.execute(text(statement))


def _engine(session: Reader) -> Any:
    bind = session.get_bind() if hasattr(session, "get_bind") else session
    return bind.engine


def _sqlite_tokens(session: Reader, words: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """The terms announcements_search's tokenizer makes of each word (cached: they never change),
    read from a temporary FTS5 table with the same tokenizer."""
    with _TOKENS_LOCK:
        missing = [w for w in dict.fromkeys(words) if w not in _TOKENS]
    if missing:
        _temporary_tables(session)
        session.execute(
            text(f"INSERT INTO temp.{_TOKENS_TABLE}(rowid, word) VALUES (:rowid, :word)"),
            [{"rowid": n, "word": w} for n, w in enumerate(missing, 1)],
        )
        found: dict[int, list[str]] = {}
        for doc, term in session.execute(
            text(f"SELECT doc, term FROM temp.{_TOKENS_TABLE}_terms ORDER BY doc, offset")
        ):
            found.setdefault(int(doc), []).append(str(term))
        session.execute(text(f"DELETE FROM temp.{_TOKENS_TABLE}"))
        with _TOKENS_LOCK:
            if len(_TOKENS) > _VOCABULARY_LIMIT:
                _TOKENS.clear()
            _TOKENS.update({w: tuple(found.get(n, ())) for n, w in enumerate(missing, 1)})
    with _TOKENS_LOCK:
        return {w: _TOKENS.get(w, ()) for w in words}


def minute_of(moment: datetime) -> int:
    """The minute part of a search key: minutes since 1900-01-01 (UTC) plus one, at least 1."""
    return max(1, int((_utc(moment) - _EPOCH).total_seconds() // 60) + 1)


def _sqlite_ids(
    session: Reader,
    words: list[str],
    facets: Facets,
    exact: _Exact,
    bounds: Bounds,
    order: str,
    limit: int | None,
) -> list[int]:
    values = {**exact.values, "fts_query": _sqlite_expression(session, words, facets)}
    dated, undated = _sqlite_ranges(bounds, order)
    out: list[int] = []
    # The dated keys, then the undated ones (whose keys are their ids, below every dated key):
    # newest first, one range read down through both (each read evaluates the whole query).
    phases = [("dated", dated), ("undated", undated)]
    if order == "desc" and dated is not None and undated is not None and undated[1] == dated[0]:
        phases = [("dated", (undated[0], dated[1]))]
    for kind, key_range in phases:
        if key_range is None or (limit is not None and len(out) >= limit):
            continue
        want = None if limit is None else limit - len(out)
        out += _sqlite_phase(session, exact, values, key_range, order, want, exact_by_key=kind == "undated")
    return out


_SQLITE_STATEMENTS: dict[tuple[Any, ...], Prepared] = {}
_SQLITE_STATEMENTS_LOCK = threading.Lock()
# Read after the `limit` asked, to see past the minute of the last one needed (whose
# announcements may be in another order by second than by id); a minute with more is read whole.
_EXTRA = 10


def _sqlite_statement(exact: _Exact, order: str, bounded: bool) -> Prepared:
    """The search keys, ids and dates of the matches within [low, high) (`bounded`; else from
    low), in key order, at most `limit` (-1: all): one statement per shape of filters."""
    key = (*exact.shape, order, bounded)
    prepared = _SQLITE_STATEMENTS.get(key)
    if prepared is None:
        fts = _fts()
        rowid = fts.c.rowid
        joined = fts.join(ANNOUNCEMENTS, ANNOUNCEMENTS.c.id == rowid.op("&", return_type=Integer)(_ID_MASK))
        stmt = (
            select(rowid, ANNOUNCEMENTS.c.id, ANNOUNCEMENTS.c.announced_at)
            .select_from(joined)
            .where(text(f"{FTS_TABLE} MATCH :fts_query"), rowid >= bindparam("low", type_=Integer()))
            .where(*exact.clauses(order))
        )
        if bounded:
            stmt = stmt.where(rowid < bindparam("high", type_=Integer()))
        stmt = stmt.order_by(rowid.desc() if order == "desc" else rowid.asc()).limit(bindparam("limit"))
        with _SQLITE_STATEMENTS_LOCK:
            prepared = _SQLITE_STATEMENTS.setdefault(key, Prepared(stmt))
    return prepared


def _sqlite_read(
    session: Reader, exact: _Exact, values: dict[str, Any], key_range: tuple[int, int], order: str, limit: int
) -> list[tuple[Any, ...]]:
    """(key, id, announced_at) of the matches in [low, high), in key order, at most `limit` (-1: all)."""
    low, high = key_range
    bounded = high < _NO_KEY  # keys are 64-bit signed: no upper condition for _NO_KEY
    given = {**values, "low": low, "limit": limit}
    if bounded:
        given["high"] = high
    return _sqlite_statement(exact, order, bounded).all(session, given)


def _sqlite_phase(
    session: Reader,
    exact: _Exact,
    values: dict[str, Any],
    key_range: tuple[int, int],
    order: str,
    limit: int | None,
    *,
    exact_by_key: bool,
) -> list[int]:
    """One key range in key order; the rows of the last minute read are sorted exactly."""
    descending = order == "desc"
    if limit is None:
        return [r[1] for r in _exact(_sqlite_read(session, exact, values, key_range, order, -1), descending)]
    fetch = limit + _EXTRA
    rows = _sqlite_read(session, exact, values, key_range, order, fetch)
    if exact_by_key or len(rows) <= limit:
        return [r[1] for r in _exact(rows, descending)[:limit]]
    boundary = rows[limit - 1][0] >> ID_BITS
    # Minute 0 is the undated, ordered by id as their keys are: nothing more to read.
    if len(rows) == fetch and boundary and rows[-1][0] >> ID_BITS == boundary:
        # That minute holds more than were read: read all of it (and what comes before it).
        edge = (boundary << ID_BITS, key_range[1]) if descending else (key_range[0], (boundary + 1) << ID_BITS)
        edge = (max(edge[0], key_range[0]), min(edge[1], key_range[1]))
        rows = _sqlite_read(session, exact, values, edge, order, -1)
    return [r[1] for r in _exact(rows, descending)[:limit]]


def _sqlite_ranges(bounds: Bounds, order: str) -> tuple[tuple[int, int] | None, tuple[int, int] | None]:
    """[low, high) search keys of the dated and of the undated announcements the bounds allow.

    A superset: the minute of a bound is widened by one each way (SQLite computes the keys with
    floating-point julianday), and the exact conditions are applied as well.
    """
    first_dated = 1 << ID_BITS
    low, high = first_dated, _NO_KEY
    if bounds.since is not None:
        low = max(low, (minute_of(bounds.since) - 1) << ID_BITS)
    if bounds.until is not None:
        high = min(high, (minute_of(bounds.until) + 2) << ID_BITS)
    undated: tuple[int, int] | None = (0, first_dated)
    if bounds.dated_only:
        undated = None
    if bounds.after is not None:
        at, last_id = bounds.after
        if at is None:  # the cursor is among the undated, which come last either way
            return None, (0, last_id) if order == "desc" else (last_id + 1, first_dated)
        if order == "desc":
            high = min(high, (minute_of(at) + 2) << ID_BITS)
        else:
            low = max(low, (minute_of(at) - 1) << ID_BITS)
    return ((low, high) if low < high else None), undated


def _exact(rows: Sequence[tuple[Any, ...]], descending: bool) -> list[tuple[Any, ...]]:
    """(key, id, announced_at) rows in the exact order: (announced_at, id), undated last."""
    dated = sorted((r for r in rows if r[2] is not None), key=lambda r: (_utc(r[2]), r[1]))
    undated = sorted((r for r in rows if r[2] is None), key=lambda r: r[1])
    if descending:
        dated.reverse()
        undated.reverse()
    return dated + undated


# --------------------------------------------------------------------------- PostgreSQL


def _month_index(moment: datetime) -> int:
    moment = _utc(moment)
    return moment.year * 12 + moment.month - 1


def _month_label(index: int) -> str:
    return f"{index // 12}{index % 12 + 1:02d}"


_STEMS: dict[str, tuple[str, ...]] = {}
_STEMS_LOCK = threading.Lock()
_STEMS_MAX = 10_000


def _pg_stems(session: Reader, words: Sequence[str]) -> list[tuple[str, ...]]:
    """The lexemes PostgreSQL's English configuration makes of each word (cached: they never change)."""
    with _STEMS_LOCK:
        missing = [w for w in dict.fromkeys(words) if w not in _STEMS]
    if missing:
        found: dict[str, list[str]] = {w: [] for w in missing}
        rows = session.execute(
            text(
                "SELECT w.word, t.lexeme FROM unnest(CAST(:words AS text[])) AS w(word) "
                "CROSS JOIN LATERAL unnest(to_tsvector('english'::regconfig, w.word)) AS t"
            ).bindparams(words=missing)
        )
        for word, lexeme in rows:
            found[word].append(lexeme)
        with _STEMS_LOCK:
            if len(_STEMS) > _STEMS_MAX:
                _STEMS.clear()
            _STEMS.update({w: tuple(sorted(lexemes)) for w, lexemes in found.items()})
    with _STEMS_LOCK:
        return [_STEMS.get(w, ()) for w in words]


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def _pg_terms(session: Reader, words: Sequence[str]) -> list[tuple[str, bool]] | None:
    """The lexemes of the words, each with whether it is a prefix (the last, of a long enough last
    word); None when none is left."""
    stems = _pg_stems(session, words)
    prefix = is_prefix(words[-1])
    terms: list[tuple[str, bool]] = []
    for n, lexemes in enumerate(stems):
        for i, lexeme in enumerate(lexemes):
            terms.append((lexeme, prefix and n == len(stems) - 1 and i == len(lexemes) - 1))
    return terms or None


def _pg_query(
    terms: Sequence[tuple[str, bool]], facets: Facets, month: str | None, longer: Sequence[str] | None = None
) -> str:
    """The tsquery text of the terms and facets, all required: within one month (labels such as
    '202502', '0' undated: 'M:lexeme', 'M~s12'), or over all time ('lexeme', '~s12').

    `longer`, over all time: the lexemes that start with the prefix term, which is then asked
    as those whole lexemes (`_pg_longer_terms`) instead of as a prefix."""
    qualify = f"{month}:" if month is not None else ""
    mark = f"{month}~" if month is not None else "~"
    parts = []
    for lexeme, prefix in terms:
        if not prefix:
            parts.append(_quote(f"{qualify}{lexeme}"))
        elif month is None and longer is not None:
            parts.append("(" + " | ".join(_quote(t) for t in (lexeme, *longer)) + ")")
        else:
            parts.append(_quote(f"{qualify}{lexeme}") + ":*")
    parts += ["(" + " | ".join(_quote(f"{mark}{term}") for term in group) + ")" for group in facets.groups()]
    return " & ".join(parts)


_TERMS = table(TERMS_TABLE, column("term", String()))
_STORED_TERMS = Prepared(
    select(_TERMS.c.term).where(_TERMS.c.term.in_(bindparam("terms", expanding=True, type_=String())))
)
_LONGER_TERMS = Prepared(
    select(_TERMS.c.term)
    .where(_TERMS.c.term > bindparam("stem", type_=String()), _TERMS.c.term < bindparam("end", type_=String()))
    .order_by(_TERMS.c.term)
    .limit(bindparam("limit"))
)


def _pg_longer_terms(session: Reader, terms: Sequence[tuple[str, bool]]) -> tuple[str, ...] | None:
    """The stored lexemes that start with the prefix term and are longer (`search_terms`, in
    byte order); None when there is no prefix term or more than MAX_EXPANSION of them."""
    stems = [lexeme for lexeme, prefix in terms if prefix]
    if not stems:
        return None
    values = {"stem": stems[0], "end": stems[0] + "\U0010ffff", "limit": MAX_EXPANSION + 1}
    found = tuple(str(r[0]) for r in _LONGER_TERMS.all(session, values))
    return None if len(found) > MAX_EXPANSION else found


def _pg_vocabulary(session: Reader, terms: Sequence[tuple[str, bool]]) -> tuple[bool, tuple[str, ...] | None]:
    """Whether every term is stored (the prefix term: itself or a longer lexeme), and the longer
    lexemes of the prefix term (`_pg_longer_terms`); both statements sent together."""
    whole = sorted({lexeme for lexeme, _prefix in terms})
    prefix = [lexeme for lexeme, is_prefix in terms if is_prefix]
    calls: list[tuple[Prepared, dict[str, Any]]] = [(_STORED_TERMS, {"terms": whole})]
    if prefix:
        values = {"stem": prefix[0], "end": prefix[0] + "\U0010ffff", "limit": MAX_EXPANSION + 1}
        calls.append((_LONGER_TERMS, values))
    stored_rows, *longer_rows = all_together(session, calls)
    stored = {str(r[0]) for r in stored_rows}
    longer = tuple(str(r[0]) for r in longer_rows[0]) if longer_rows else ()
    every = all(lexeme in stored or (is_prefix and longer) for lexeme, is_prefix in terms)
    if not prefix or len(longer) > MAX_EXPANSION:
        return every, None
    return every, longer


def _pg_matches(names: Sequence[str]) -> ColumnElement[bool]:
    """Any of the tsqueries bound to these names (one per month): one index scan each, OR-ed as
    bitmaps. (One tsquery OR-ing the months would make GIN test every row of every month's
    terms against all of it.)"""
    # Text, not the postgresql dialect's TSQUERY type: the CLI's queries on SQLite import no
    # other dialect (tests/test_startup.py).
    return or_(*(text(f"announcements.{PG_COLUMN} @@ CAST(:{name} AS tsquery)") for name in names))


_PG_SPAN = Prepared(select(func.min(ANNOUNCEMENTS.c.announced_at), func.max(ANNOUNCEMENTS.c.announced_at)))

# Days from the newest match the bounds allow (from the oldest, for "asc"): each window asks the
# month-qualified lexemes of the months it touches and is narrowed to its days by the date index
# (a bitmap AND), so a page of a word in one announcement of 22 reads about a week of its rows,
# not months of them; a word too rare to fill a page in 400 days is then looked for in the
# rest of time by its plain lexemes, reading only its few rows.
WINDOW_DAYS = (7, 35, 120, 400)


@dataclass(frozen=True)
class _Window:
    """Dates [low, high) (None: open on that side) and the month indexes they touch."""

    low: datetime | None
    high: datetime | None
    months: tuple[int, ...]


def _pg_windows(span: tuple[Any, ...], bounds: Bounds, order: str) -> tuple[list[_Window], bool]:
    """The windows, newest first (oldest first for "asc"), and whether they hold every dated
    announcement the bounds allow (then only the undated are left); `span` is the oldest and
    newest date stored (`_PG_SPAN`)."""
    if bounds.after is not None and bounds.after[0] is None:
        return [], False  # the cursor is among the undated: no dated one comes after it
    first, last = span
    if first is None or last is None:
        return [], False
    first, last = _utc(first), _utc(last)
    if bounds.since is not None:
        first = max(first, _utc(bounds.since))
    if bounds.until is not None:
        last = min(last, _utc(bounds.until))
    if bounds.after is not None and bounds.after[0] is not None:
        if order == "desc":
            last = min(last, _utc(bounds.after[0]))
        else:
            first = max(first, _utc(bounds.after[0]))
    if last < first:
        return [], True
    windows: list[_Window] = []
    edge: datetime | None = None
    for days in WINDOW_DAYS:
        if order == "desc":
            low: datetime | None = last - timedelta(days=days)
            if low is not None and low <= first:
                low = None
            months = range(_month_index(low or first), _month_index(edge or last) + 1)
            windows.append(_Window(low, edge, tuple(months)))
            edge = low
        else:
            high: datetime | None = first + timedelta(days=days)
            if high is not None and high > last:
                high = None
            months = range(_month_index(edge or first), _month_index(high or last) + 1)
            windows.append(_Window(edge, high, tuple(months)))
            edge = high
        if edge is None:
            return windows, True
    return windows, False


def _month_start(index: int) -> datetime:
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


_PG_STATEMENTS: dict[tuple[Any, ...], Prepared] = {}
_PG_STATEMENTS_LOCK = threading.Lock()


def _pg_statement(windows: Sequence[_Window], rest: str | None, exact: _Exact, order: str, limited: bool) -> Prepared:
    """Ids and dates of the matches: the windows' (each its newest `limit`, newest first) and then
    the rest's, in one statement whose parts are read only until `limit` rows have come.

    `rest` is "older" (all time by the plain lexemes, older than the last window, or undated),
    "undated" (the windows hold every dated one), "all" (no window) or None (no rest). Each part
    is a materialized CTE: planned on its own, the index scans of its terms (never a walk through
    the date index hoping to meet matches); PostgreSQL evaluates a CTE only when its rows are
    asked for, so a page that the first window fills reads nothing else. The rows come in the
    order of the parts (their Append is not parallel: CTE scans are parallel-restricted) and are
    sorted again exactly by the caller.
    """
    shape = tuple((len(w.months), w.low is not None, w.high is not None) for w in windows)
    key = (shape, rest, *exact.shape, order, limited)
    prepared = _PG_STATEMENTS.get(key)
    if prepared is not None:
        return prepared
    at = ANNOUNCEMENTS.c.announced_at
    conditions = exact.clauses(order)

    def part(name: str, matches: ColumnElement[bool], extra: Sequence[ColumnElement[bool]]) -> Any:
        found = select(ANNOUNCEMENTS.c.id, at).where(matches, *conditions, *extra).cte(name)
        found = found.prefix_with("MATERIALIZED")
        if order == "desc":
            ordering = (found.c.announced_at.desc().nulls_last(), found.c.id.desc())
        else:
            ordering = (found.c.announced_at.asc().nulls_last(), found.c.id.asc())
        stmt = select(found.c.id, found.c.announced_at).order_by(*ordering)
        return stmt.limit(bindparam("limit")) if limited else stmt

    parts = []
    for k, window in enumerate(windows):
        extra = []
        if window.low is not None:
            extra.append(at >= bindparam(f"low_{k}", type_=at.type))
        if window.high is not None:
            extra.append(at < bindparam(f"high_{k}", type_=at.type))
        names = [f"tsquery_{k}_{j}" for j in range(len(window.months))]
        parts.append(part(f"window_{k}", _pg_matches(names), extra))
    if rest == "older":
        edge = bindparam("rest_edge", type_=at.type)
        older = or_(at < edge if order == "desc" else at >= edge, at.is_(None))
        parts.append(part("rest", _pg_matches(["tsquery_rest"]), [older]))
    elif rest == "undated":
        parts.append(part("rest", _pg_matches(["tsquery_rest"]), [at.is_(None)]))
    elif rest == "all":
        parts.append(part("rest", _pg_matches(["tsquery_rest"]), []))
    if len(parts) == 1:
        stmt = parts[0]
    else:
        union = union_all(*parts).subquery("parts")
        stmt = select(union.c.id, union.c.announced_at)
        if limited:
            stmt = stmt.limit(bindparam("limit"))
    with _PG_STATEMENTS_LOCK:
        return _PG_STATEMENTS.setdefault(key, Prepared(stmt, plan_each_time=True))


# The windows asked in the first statement; the later ones and the rest are a second statement,
# run only when those leave the page short (planning every window each time cost more than a
# common word's page).
NEAR_WINDOWS = 3


def _pg_ids(
    session: Reader,
    words: list[str],
    facets: Facets,
    exact: _Exact,
    bounds: Bounds,
    order: str,
    limit: int | None,
) -> list[int]:
    terms = _pg_terms(session, words)
    if terms is None:
        return []
    if limit is None:
        longer = _pg_longer_terms(session, terms)
        given = {**exact.values, "tsquery_rest": _pg_query(terms, facets, None, longer)}
        rows = _pg_statement([], "all", exact, order, False).all(session, given)
        return [int(r[0]) for r in _exact_order(rows, order == "desc")]
    # The oldest and newest dates stored, which place the windows: the ones last seen by this
    # process, checked by the same round trip as the first window's statement (a pipeline);
    # asked first when there are none, asked again when they were not the same.
    engine = _engine(session)
    with _PG_SPANS_LOCK:
        span = _PG_SPANS.get(engine)
    checked = span is None
    if span is None:
        span = _PG_SPAN.all(session, {})[0]
    while True:
        found, fresh = _pg_page(session, terms, facets, exact, bounds, order, limit, span, checked)
        if fresh is None or fresh == span:
            break
        span, checked = fresh, True  # written since: the windows placed again
    with _PG_SPANS_LOCK:
        _PG_SPANS[engine] = span
    return [int(r[0]) for r in _exact_order(found, order == "desc")][:limit]


_PG_SPANS: weakref.WeakKeyDictionary[Any, tuple[Any, ...]] = weakref.WeakKeyDictionary()
_PG_SPANS_LOCK = threading.Lock()


def _pg_page(
    session: Reader,
    terms: Sequence[tuple[str, bool]],
    facets: Facets,
    exact: _Exact,
    bounds: Bounds,
    order: str,
    limit: int,
    span: tuple[Any, ...],
    checked: bool,
) -> tuple[list[tuple[Any, ...]], tuple[Any, ...] | None]:
    """The (id, announced_at) rows of a page with the windows `span` places, and the span read
    together with the first statement when it was not `checked` (else None)."""
    windows, complete = _pg_windows(span, bounds, order)
    if complete:
        rest = "undated"
    elif windows:
        rest = "older"
    else:
        rest = "all"
    found: list[tuple[Any, ...]] = []
    fresh: tuple[Any, ...] | None = None
    for first, chunk in ((0, windows[:NEAR_WINDOWS]), (NEAR_WINDOWS, windows[NEAR_WINDOWS:])):
        last = first + len(chunk) >= len(windows)
        if first and not chunk:
            break
        values: dict[str, Any] = {**exact.values, "limit": limit - len(found)}
        for k, window in enumerate(chunk):
            for j, month in enumerate(window.months):
                values[f"tsquery_{k}_{j}"] = _pg_query(terms, facets, _month_label(month))
            if window.low is not None:
                values[f"low_{k}"] = window.low
            if window.high is not None:
                values[f"high_{k}"] = window.high
        if last:
            if rest == "undated":  # the undated are the month '0': their own lexemes, a few rows
                values["tsquery_rest"] = _pg_query(terms, facets, "0")
            else:  # all time by the plain lexemes: the prefix spelled out, a bitmap of its rows not built
                every, longer = _pg_vocabulary(session, terms)
                if not every:
                    break  # a word no announcement has: the windows found nothing either
                values["tsquery_rest"] = _pg_query(terms, facets, None, longer)
            if rest == "older":
                values["rest_edge"] = windows[-1].low if order == "desc" else windows[-1].high
        statement = _pg_statement(chunk, rest if last else None, exact, order, True)
        if checked:
            found += statement.all(session, values)
        else:
            (fresh, *_), rows = all_together(session, [(_PG_SPAN, {}), (statement, values)])
            checked = True
            if fresh != span:
                return [], fresh
            found += rows
        if len(found) >= limit or last:
            break
    return found, fresh


def _exact_order(rows: Sequence[tuple[Any, ...]], descending: bool) -> list[tuple[Any, ...]]:
    """(id, announced_at) rows in the exact order: (announced_at, id), undated last."""
    dated = sorted((r for r in rows if r[1] is not None), key=lambda r: (_utc(r[1]), r[0]))
    undated = sorted((r for r in rows if r[1] is None), key=lambda r: r[0])
    if descending:
        dated.reverse()
        undated.reverse()
    return dated + undated
