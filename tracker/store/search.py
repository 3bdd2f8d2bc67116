"""Full-text search over announcements: SQLite FTS5 and PostgreSQL text search, one behaviour.

Both databases see the same query: the words of the text (letters and digits), English stop
words dropped, every word required, stemmed ("functions" finds "function"), the last word
also as a prefix ("serverl" finds "serverless", for search-as-you-type). Operators and quotes
are never passed through, so no input is a syntax error.

`matching_ids` gives the newest (or oldest) matches first, reading the index in date order
with the service, event and region filters inside it, so a page costs about the same for a
word in every announcement as for a word in a few (migration 0010_search_index):

* SQLite: the FTS5 table's rowid is the announcement's search key, (minute << 31) + id, so
  `ORDER BY rowid DESC LIMIT n` reads n entries of the posting lists. Announcements of the
  same minute come out by id, not by second: the matches of the last minute read are sorted
  exactly by (announced_at, id) before the page is cut.
* PostgreSQL: every lexeme is qualified by its announcement's month ('202502:snapshot'), so
  the newest month is asked first, then a few more, and so on: each query reads only the
  rows of its months.

Services, events and regions are terms of the index too ("s12", "e3", "r2", kept in step by
triggers from the link tables), so a word within one service intersects two posting lists.
`fulltext_condition` is the same search as a plain WHERE condition, for counting matches.
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, column, func, or_, select, table, text
from sqlalchemy.types import Integer, LargeBinary, String

from tracker.store.prepared import Prepared
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
        (type_ == "table" and name in FTS_TABLES)
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
        return _pg_matches([_pg_query(terms, facets, None)])
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


def _pg_query(terms: Sequence[tuple[str, bool]], facets: Facets, month: str | None) -> str:
    """The tsquery text of the terms and facets, all required: within one month (labels such as
    '202502', '0' undated: 'M:lexeme', 'M~s12'), or over all time ('lexeme', '~s12')."""
    qualify = f"{month}:" if month is not None else ""
    mark = f"{month}~" if month is not None else "~"
    parts = [_quote(f"{qualify}{lexeme}") + (":*" if prefix else "") for lexeme, prefix in terms]
    parts += ["(" + " | ".join(_quote(f"{mark}{term}") for term in group) + ")" for group in facets.groups()]
    return " & ".join(parts)


def _pg_matches(tsqueries: Sequence[str]) -> ColumnElement[bool]:
    """Any of the queries (one per month): one index scan each, OR-ed as bitmaps. (One tsquery
    OR-ing the months would make GIN test every row of every month's terms against all of it.)"""
    # Text, not the postgresql dialect's TSQUERY type: the CLI's queries on SQLite import no
    # other dialect (tests/test_startup.py).
    return or_(
        *(
            text(f"announcements.{PG_COLUMN} @@ CAST(:tsquery_{n} AS tsquery)").bindparams(**{f"tsquery_{n}": q})
            for n, q in enumerate(tsqueries)
        )
    )


def _pg_month_range(session: Reader, bounds: Bounds, order: str) -> list[int]:
    """The month indexes the dated announcements within the bounds span, in `order`."""
    first, last = session.execute(
        select(func.min(ANNOUNCEMENTS.c.announced_at), func.max(ANNOUNCEMENTS.c.announced_at))
    ).one()
    if first is None or last is None:
        return []
    low, high = _month_index(first), _month_index(last)
    if bounds.since is not None:
        low = max(low, _month_index(bounds.since))
    if bounds.until is not None:
        high = min(high, _month_index(bounds.until))
    if bounds.after is not None and bounds.after[0] is not None:
        if order == "desc":
            high = min(high, _month_index(bounds.after[0]))
        else:
            low = max(low, _month_index(bounds.after[0]))
    if bounds.after is not None and bounds.after[0] is None:
        return []  # the cursor is among the undated: no dated one comes after it
    months = list(range(low, high + 1))
    return months[::-1] if order == "desc" else months


# Months asked one by one (as OR-ed index scans) before the rest is asked at once: the first
# month holds a page of a common word; a word too rare to fill a page in a year is found in
# all time by its plain lexemes, reading only its few rows.
WINDOWS = (1, 3, 8)


def _month_start(index: int) -> datetime:
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


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
    conditions = exact.clauses(order)
    if terms is None:
        return []
    out: list[int] = []
    at = ANNOUNCEMENTS.c.announced_at

    def probe(tsqueries: Sequence[str], extra: Sequence[ColumnElement[bool]], want: int | None) -> int:
        # Materialized: planned on its own, the index scans of the terms; never a walk through
        # the date index hoping to meet matches.
        found = select(ANNOUNCEMENTS.c.id, at).where(_pg_matches(tsqueries), *conditions, *extra)
        matches = found.cte("matches").prefix_with("MATERIALIZED")
        if order == "desc":
            stmt = select(matches.c.id).order_by(matches.c.announced_at.desc().nulls_last(), matches.c.id.desc())
        else:
            stmt = select(matches.c.id).order_by(matches.c.announced_at.asc().nulls_last(), matches.c.id.asc())
        if want is not None:
            stmt = stmt.limit(want)
        ids = [int(i) for i in session.execute(stmt, exact.values).scalars()]
        out.extend(ids)
        return len(ids)

    rest: list[ColumnElement[bool]] = []  # what the months asked leave for the all-time query
    if limit is not None:
        months = _pg_month_range(session, bounds, order)
        start = 0
        for span in WINDOWS:
            window = months[start : start + span]
            if not window or len(out) >= limit:
                break
            probe([_pg_query(terms, facets, _month_label(m)) for m in window], (), limit - len(out))
            start += len(window)
        if len(out) >= limit:
            return out
        if start:
            # Older (newer, for asc) than the months asked, or undated.
            edge = months[start - 1]
            rest.append(
                or_(at < _month_start(edge), at.is_(None))
                if order == "desc"
                else or_(at >= _month_start(edge + 1), at.is_(None))
            )
    probe([_pg_query(terms, facets, None)], rest, None if limit is None else limit - len(out))
    return out
