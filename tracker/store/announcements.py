"""Announcements: get-or-create and merge, their services, regions, events and mentions, dedupe look-ups.

Writes are get-or-create on natural keys and compare before they assign, so running
the same input twice changes nothing. Nothing here commits: the caller owns the
transaction (`tracker.store.db.unit_of_work`). Reads return the dataclasses of
`tracker.items`, never ORM objects.

Merge rule when several documents mention the same announcement (same key):

* the *owner* of the published fields is the document at the announcement's URL (the
  launch's own page or feed item). A mention from the owner may change title, summary
  and status: that is a real edit at the source. A mention that only links to that URL
  (a roundup, a recap) is not the owner: otherwise owner and roundup would overwrite each
  other's summary whenever both are re-read;
* a mention whose URL ranks higher (What's New or the AWS News Blog over any other
  page, any page over none; see `url_rank`) takes ownership and its non-empty fields win;
* any other mention only fills fields that are still empty, so two sources never
  overwrite each other on every run (no flip-flop);
* announced_at keeps the earliest date seen; services are the union of every
  mention's services; the event is set once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Integer,
    String,
    and_,
    bindparam,
    cast,
    column,
    func,
    insert,
    null,
    select,
    text,
    true,
    union,
    union_all,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, selectinload

from tracker.items import AnnouncementRecord, Link, NormalizedAnnouncement, Service
from tracker.normalize.dedupe import Known
from tracker.normalize.text import public_url
from tracker.redact import strip_controls
from tracker.store._common import _link_wins, _set, table_of
from tracker.store.changes import mark_changed, transaction_revision, written_at_revision
from tracker.store.ids import IdCache, event_names, region_ids, service_ids, upsert_insert
from tracker.store.ids import event_id as event_id_of
from tracker.store.models import (
    UNDATED,
    AnnouncementRegionRow,
    AnnouncementRow,
    AnnouncementServiceRow,
    AnnouncementSessionRow,
    EventRow,
    MentionRow,
    ServiceAliasRow,
    ServiceRow,
)
from tracker.store.queries import _records, _unique, _utc, unique
from tracker.store.types import UTCDateTime

log = logging.getLogger(__name__)

A = table_of(AnnouncementRow)
LINKS = table_of(AnnouncementServiceRow)  # announcement <-> service, with the sort key
REGION_LINKS = table_of(AnnouncementRegionRow)
SERVICES = table_of(ServiceRow)
M = table_of(MentionRow)
S = table_of(AnnouncementSessionRow)


# URL prefixes of primary sources: the page that itself announces a launch.
PRIMARY_URL_PREFIXES: tuple[str, ...] = (
    "aws.amazon.com/about-aws/whats-new/",
    "aws.amazon.com/new/",
    "aws.amazon.com/blogs/",
)


def url_rank(url: str | None) -> int:
    """How authoritative a URL is for an announcement: 2 primary source, 1 any page, 0 none."""
    if not url:
        return 0
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    where = f"{host}{parts.path}"
    return 2 if where.startswith(PRIMARY_URL_PREFIXES) else 1


def _apply_service(row: ServiceRow, svc: Service) -> None:
    _set(row, "name", svc.name)
    _set(row, "category", svc.category)
    wanted = _unique(a for a in svc.aliases if a)
    have = {a.alias: a for a in row.aliases}
    for alias in wanted:
        if alias not in have:
            row.aliases.append(ServiceAliasRow(alias=alias))
    keep = set(wanted)
    for alias, alias_row in have.items():
        if alias not in keep:
            row.aliases.remove(alias_row)


def _new_service(svc: Service) -> ServiceRow:
    return ServiceRow(
        slug=svc.slug,
        name=svc.name,
        category=svc.category,
        aliases=[ServiceAliasRow(alias=a) for a in _unique(a for a in svc.aliases if a)],
    )


def sync_services(session: Session, services: Sequence[Service]) -> None:
    """Make the services and their aliases match the taxonomy (services are never deleted)."""
    # Partitions and Regions are stored as regions (`_link_regions`), never as services.
    wanted = [s for s in services if not s.region]
    # A slug listed twice is applied twice in its order, as always.
    differ = _services_to_sync(session, wanted) if len({s.slug for s in wanted}) == len(wanted) else wanted
    if not differ:
        return  # the common case (every run starts with this): read as plain rows, nothing loaded
    stmt = select(ServiceRow).options(selectinload(ServiceRow.aliases))
    if len(differ) <= 500:  # else (a first sync) every row
        stmt = stmt.where(ServiceRow.slug.in_(sorted({s.slug for s in differ})))
    rows = {r.slug: r for r in session.scalars(stmt)}
    added = 0
    for svc in differ:
        row = rows.get(svc.slug)
        if row is None:
            row = _new_service(svc)
            session.add(row)
            rows[svc.slug] = row
            added += 1
        else:
            _apply_service(row, svc)
    session.flush()
    if added:
        log.info("services synchronised: %d added, %d in the taxonomy", added, len(services))


def _services_to_sync(session: Session, services: Sequence[Service]) -> list[Service]:
    """The services whose row is missing or differs (name, category, the set of aliases)."""
    stored = {
        slug: (sid, name, category)
        for sid, slug, name, category in session.execute(
            select(ServiceRow.id, ServiceRow.slug, ServiceRow.name, ServiceRow.category)
        )
    }
    aliases: dict[int, set[str]] = {}
    for sid, alias in session.execute(select(ServiceAliasRow.service_id, ServiceAliasRow.alias)):
        aliases.setdefault(sid, set()).add(alias)
    differ = []
    for svc in services:
        row = stored.get(svc.slug)
        if (
            row is None
            or (row[1], row[2]) != (svc.name, svc.category)
            or aliases.get(row[0], set()) != {a for a in svc.aliases if a}
        ):
            differ.append(svc)
    return differ


def get_or_create_event(
    session: Session, slug: str, name: str, year: int | None = None, *, ids: IdCache | None = None
) -> int:
    """The id of the event with this slug, created when new (`ids`: answered from memory when known)."""
    return event_id_of(session, slug, name, year, ids)


def declare_event(
    session: Session,
    slug: str,
    name: str,
    year: int | None = None,
    *,
    starts_on: date | None = None,
    ends_on: date | None = None,
    ids: IdCache | None = None,
) -> int:
    """Get-or-create an event declared in configuration, setting its days."""
    event_id = get_or_create_event(session, slug, name, year, ids=ids)
    row = session.get(EventRow, event_id)
    if row is not None:
        _set(row, "starts_on", starts_on)
        _set(row, "ends_on", ends_on)
    return event_id


def _published_hash(row: _Row, service_slugs: Iterable[str]) -> str:
    announced = _utc(row.announced_at)
    payload = [
        row.title,
        row.summary,
        row.url,
        row.status,
        announced.isoformat() if announced else None,
        sorted(set(service_slugs)),
        row.event_id,
    ]
    return hashlib.sha256(json.dumps(payload, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class UpsertedAnnouncement:
    """A stored announcement's id and what storing it did."""

    id: int
    status: str  # "created", "updated" (merged into the stored one with changes) or "unchanged"


# Sort position of a row made by a writer: after every stored id, in the order made, as the
# ids the INSERT gives them will be.
_NEW_ORDER = 1 << 62
# Bound parameters per statement stay well under SQLite's 32,766 and PostgreSQL's 65,535.
_CHUNK = 2000
# "No date window" as a window: every date falls inside (an undated announcement's candidates).
_EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
_LATEST = datetime(9999, 12, 30, tzinfo=UTC)


@dataclass(slots=True)
class _Row:
    """An announcement as a writer sees it: loaded from the store, or made by the writer (id None until flushed)."""

    id: int | None
    key: str
    title: str
    summary: str
    url: str | None
    announced_at: datetime | None
    announced_at_source: str | None
    status: str | None
    event_id: int | None
    content_hash: str
    order: int  # its place in "newest first, then highest id": its id, or _NEW_ORDER + n
    slugs: set[str] = field(default_factory=set)  # its services, stored and to link
    new: bool = False  # to INSERT
    dirty: bool = False  # a stored row to UPDATE
    date_moved: bool = False  # a stored row whose announced_at moved earlier: its links' sort_at follow
    created_at: datetime | None = None
    updated_at: datetime | None = None
    to_link: list[str] = field(default_factory=list)  # service slugs to link
    region_ids: set[int] = field(default_factory=set)  # its regions, stored and to link
    regions: dict[str, int] = field(default_factory=dict)  # region slug -> id, to link

    def assign(self, attr: str, value: Any) -> None:
        """Set a field; a stored row that changes is written back."""
        if getattr(self, attr) != value:
            setattr(self, attr, value)
            self.dirty = True


@dataclass(slots=True)
class _Mention:
    excerpt: str
    position: int
    rule: str
    stored: bool = False  # in the database, else to INSERT
    dirty: bool = False  # stored, and to UPDATE


@dataclass(slots=True)
class _LinkState:
    method: str
    score: float
    reason: str
    stored: bool  # in the database (else to INSERT)


def _row_values(r: _Row, revision: int | None) -> dict[str, object]:
    """An announcement's columns that both its INSERT and its UPDATE write."""
    return {
        "title": r.title,
        "summary": r.summary,
        "url": r.url,
        "announced_at": r.announced_at,
        "announced_at_source": r.announced_at_source,
        "status": r.status,
        "event_id": r.event_id,
        "updated_at": r.updated_at,
        "content_hash": r.content_hash,
        "revision": revision,
    }


def _mention_rows(mentions: Iterable[tuple[_Row, int, _Mention]], a_key: str, d_key: str) -> list[dict[str, object]]:
    """The parameters of the mention statements, the two ids under the statement's names."""
    return [
        {a_key: r.id, d_key: d, "excerpt": m.excerpt, "position": m.position, "rule": m.rule} for r, d, m in mentions
    ]


def _link_rows(
    pairs: Iterable[tuple[int, int]], state: dict[tuple[int, int], _LinkState], a_key: str, s_key: str
) -> list[dict[str, object]]:
    """The parameters of the session-link statements, the two ids under the statement's names."""
    return [
        {
            a_key: a,
            s_key: s,
            "method": state[(a, s)].method,
            "score": state[(a, s)].score,
            "reason": state[(a, s)].reason,
        }
        for a, s in pairs
    ]


@dataclass(frozen=True, slots=True)
class StoredDateAndEvent:
    """The date and event of a stored announcement: whether a new one under its key is another launch."""

    announced_at: datetime | None
    event: str | None  # the event's display name


@dataclass(frozen=True, slots=True)
class CandidateRequest:
    """Stored announcements wanted as dedupe candidates: sharing a service, dated within `days` of `around`."""

    service_slugs: frozenset[str]
    around: datetime | None
    days: int
    limit: int = 500


class PendingAnnouncement:
    """What `AnnouncementWriter.upsert` did to one announcement; its id is known once the writer is flushed."""

    __slots__ = ("_row", "status")

    def __init__(self, row: _Row, status: str) -> None:
        self._row = row
        self.status = status  # "created", "updated" or "unchanged"

    @property
    def id(self) -> int:
        """The announcement's id (after `flush` for one the writer creates)."""
        if self._row.id is None:
            raise RuntimeError("the announcement is not written yet: flush the writer first")
        return self._row.id


@dataclass(frozen=True, slots=True)
class Written:
    """What a writer's flush stored: new mentions, and links made or changed (with each
    document's share, by document id, for a writer that stored several documents)."""

    mentions: int
    links: int
    by_document: dict[int | None, tuple[int, int]] = field(default_factory=dict)  # id -> (mentions, links)


def _with_links(announcements: Any) -> Any:
    """Announcements (joined in `announcements`) with a row per service slug and region id they are linked to."""
    return (
        announcements.outerjoin(LINKS, LINKS.c.announcement_id == A.c.id)
        .outerjoin(SERVICES, SERVICES.c.id == LINKS.c.service_id)
        .outerjoin(REGION_LINKS, REGION_LINKS.c.announcement_id == A.c.id)
    )


# The announcement columns a writer reads, with a row per linked service slug and region id.
_COLUMNS = (
    A.c.id,
    A.c.key,
    A.c.title,
    A.c.summary,
    A.c.url,
    A.c.announced_at,
    A.c.announced_at_source,
    A.c.status,
    A.c.event_id,
    A.c.content_hash,
    SERVICES.c.slug,
    REGION_LINKS.c.region_id,
)
_BY_KEYS = select(*_COLUMNS).select_from(_with_links(A)).where(A.c.key.in_(bindparam("keys", expanding=True)))
# The dedupe requests as a table (n, slug, lo, hi), one row per request and service, read from
# one JSON parameter: the statement's text never changes, so it is compiled once (a VALUES list
# would be compiled again for every document).
_WANTED = {
    "postgresql": "SELECT n, slug, lo, hi, lim FROM jsonb_to_recordset(CAST(:wanted AS jsonb))"
    " AS w(n integer, slug text, lo timestamptz, hi timestamptz, lim integer)",
    "sqlite": "SELECT json_extract(value, '$.n') AS n, json_extract(value, '$.slug') AS slug,"
    " json_extract(value, '$.lo') AS lo, json_extract(value, '$.hi') AS hi,"
    " json_extract(value, '$.lim') AS lim FROM json_each(:wanted)",
}


_INSERT_ANNOUNCEMENTS = insert(A).returning(A.c.key, A.c.id)
_UPDATE_ANNOUNCEMENTS = (
    update(A)
    .where(A.c.id == bindparam("row_id"))
    .values(
        title=bindparam("title"),
        summary=bindparam("summary"),
        url=bindparam("url"),
        announced_at=bindparam("announced_at"),
        announced_at_source=bindparam("announced_at_source"),
        status=bindparam("status"),
        event_id=bindparam("event_id"),
        updated_at=bindparam("updated_at"),
        content_hash=bindparam("content_hash"),
        revision=bindparam("revision"),
    )
)
_UPDATE_SORT_AT = update(LINKS).where(LINKS.c.announcement_id == bindparam("row_id")).values(sort_at=bindparam("at"))
_MENTIONS_OF_DOCUMENT = select(M.c.announcement_id, M.c.excerpt, M.c.position, M.c.rule).where(
    M.c.document_id == bindparam("document_id")
)
_MENTIONS_OF_DOCUMENTS = select(M.c.document_id, M.c.announcement_id, M.c.excerpt, M.c.position, M.c.rule).where(
    M.c.document_id.in_(bindparam("document_ids", expanding=True))
)
_INSERT_MENTIONS = insert(M)
_UPDATE_MENTIONS = (
    update(M)
    .where(M.c.announcement_id == bindparam("a_id"), M.c.document_id == bindparam("d_id"))
    .values(excerpt=bindparam("excerpt"), position=bindparam("position"), rule=bindparam("rule"))
)
_INSERT_SESSION_LINKS = insert(S)
_UPDATE_SESSION_LINKS = (
    update(S)
    .where(S.c.announcement_id == bindparam("a_id"), S.c.session_id == bindparam("s_id"))
    .values(method=bindparam("method"), score=bindparam("score"), reason=bindparam("reason"))
)


@functools.cache
def _link_services_statement(dialect: str) -> Any:
    """INSERT of service links that skips a link already stored."""
    return upsert_insert(dialect, LINKS).on_conflict_do_nothing(index_elements=["announcement_id", "service_id"])


@functools.cache
def _link_regions_statement(dialect: str) -> Any:
    """INSERT of region links that skips a link already stored."""
    return upsert_insert(dialect, REGION_LINKS).on_conflict_do_nothing(index_elements=["announcement_id", "region_id"])


def _candidates_parts(dialect: str) -> tuple[Any, Any]:
    """Each request's candidates: announcements linked to one of its services, dated in its window
    or undated, its newest `limit` ranked in the database (undated ones last on SQLite, first on
    PostgreSQL, as the one-request query orders them). Two selects to UNION ALL: the rows of
    the candidates, each announcement once whatever number of requests it answers (n and rank
    NULL, as `_BY_KEYS` reads them), and a row per request with the ids of its candidates.

    A group's requests share services and overlapping windows: the same announcement is the
    candidate of many of them, and its row (with its summary, once per service and region
    linked) was read and sent again for each."""
    wanted = (
        text(_WANTED[dialect])
        .columns(
            column("n", Integer),
            column("slug", String),
            column("lo", String),
            column("hi", String),
            column("lim", Integer),
        )
        .cte("wanted")
    )
    # The links are read in index order (service, sort_at): a link's sort_at is its
    # announcement's date, or UNDATED for an undated one (this module keeps them equal), so a
    # window of dates is a range of the index, not every announcement of the service.
    if dialect == "postgresql":
        # A LATERAL subquery behind OFFSET 0, planned on its own: PostgreSQL then reads the
        # range of the index for each request (joined flat, it scanned every link of the
        # service and filtered the dates).
        ranged: Any = (
            select(LINKS.c.announcement_id.label("aid"))
            .where(LINKS.c.service_id == SERVICES.c.id, LINKS.c.sort_at.between(wanted.c.lo, wanted.c.hi))
            .offset(0)
            .lateral("ranged")
        )
        links = wanted.join(SERVICES, SERVICES.c.slug == wanted.c.slug).join(ranged, true())
        aid = ranged.c.aid
    else:
        ranged = LINKS
        links = wanted.join(SERVICES, SERVICES.c.slug == wanted.c.slug).join(
            LINKS, and_(LINKS.c.service_id == SERVICES.c.id, LINKS.c.sort_at.between(wanted.c.lo, wanted.c.hi))
        )
        aid = LINKS.c.announcement_id
    dated = (
        select(wanted.c.n, aid.label("aid"), wanted.c.lim)
        .select_from(links.join(A, A.c.id == aid))
        .where(A.c.announced_at.between(wanted.c.lo, wanted.c.hi))
    )
    undated = (
        select(wanted.c.n, LINKS.c.announcement_id.label("aid"), wanted.c.lim)
        .select_from(
            wanted.join(SERVICES, SERVICES.c.slug == wanted.c.slug)
            .join(LINKS, and_(LINKS.c.service_id == SERVICES.c.id, LINKS.c.sort_at == bindparam("undated")))
            .join(A, A.c.id == LINKS.c.announcement_id)
        )
        .where(A.c.announced_at.is_(None))
    )
    hits = union(dated, undated).subquery("hits")  # each (request, announcement) once (lim is the request's)
    ranked = (
        select(
            hits.c.n,
            hits.c.aid,
            hits.c.lim,
            func.row_number()
            .over(partition_by=hits.c.n, order_by=(A.c.announced_at.desc(), A.c.id.desc()))
            .label("rank"),
        )
        .select_from(hits.join(A, A.c.id == hits.c.aid))
        .subquery("ranked")
    )
    kept = select(ranked.c.n, ranked.c.rank, ranked.c.aid).where(ranked.c.rank <= ranked.c.lim).cte("kept")
    rows = (
        select(cast(null(), Integer).label("n"), cast(null(), Integer).label("rank"), *_COLUMNS)
        .select_from(_with_links(A))
        .where(A.c.id.in_(select(kept.c.aid)))
    )
    # The first select of the UNION types the result's columns (a date is read back as one):
    # the rows come first, the requests' lists after, one row per request with the ids of its
    # candidates joined by commas in the key's column (a text column), its other columns NULL.
    # A row per (request, candidate) was most of what a backfill read: each new launch has
    # a few dozen candidates, and fetching each pair was a row through the driver.
    if dialect == "postgresql":
        ids: Any = func.string_agg(cast(kept.c.aid, String), ",")
    else:
        ids = func.group_concat(kept.c.aid, ",")
    lists = select(kept.c.n, null(), null(), ids, *(null() for _ in _COLUMNS[2:])).group_by(kept.c.n)
    return rows, lists


@functools.cache
def _candidates_statement(dialect: str) -> Any:
    """The candidates of some requests (`_candidates_parts`), in one statement."""
    return union_all(*_candidates_parts(dialect))


@functools.cache
def _keys_and_candidates_statement(dialect: str) -> Any:
    """The rows under some keys (n and rank NULL) and the candidates of some requests, in one statement."""
    by_keys = (
        select(cast(null(), Integer).label("n"), cast(null(), Integer).label("rank"), *_COLUMNS)
        .select_from(_with_links(A))
        .where(A.c.key.in_(bindparam("keys", expanding=True)))
    )
    return union_all(by_keys, *_candidates_parts(dialect))


class AnnouncementWriter:
    """Get-or-create and merge of one document's announcements (see the module docstring), with
    their services, regions, mentions and session links, written in bulk.

    The announcements are read first, a few statements for all of them (`load`, `load_candidates`),
    merged in memory one after the other exactly as the rules say (`stored`, `candidates` and
    `upsert` see what the earlier ones did), then `flush` writes each table in one statement:
    an INSERT of the new rows, an executemany UPDATE of the changed ones. Nothing commits.
    """

    def __init__(
        self,
        session: Session,
        *,
        now: datetime,
        ids: IdCache | None = None,
        document_id: int | None = None,
        document_url: str | None = None,
        document_is_new: bool = False,
    ) -> None:
        self.session = session
        self.now = _utc(now) or datetime.now(UTC)
        self.ids = ids if ids is not None else IdCache()
        self.document_id = document_id
        # The URL of the mentioning document (None: taken as the document at the announcement's own URL).
        self.document_url = document_url
        self.document_is_new = document_is_new
        self._rows: dict[str, _Row | None] = {}  # key -> row, or None when no row has it
        self._by_id: dict[int, _Row] = {}
        self._touched: dict[str, _Row] = {}  # rows this writer made or merged into, in order
        # The same rows by each of their services: a request's candidates among them are read
        # from its services' entries, not from every row the writer touched (a writer stores a
        # group of documents, and scanning all of its rows for each launch grew with the square).
        self._touched_by_slug: dict[str, dict[int, _Row]] = defaultdict(dict)
        self._candidates: dict[CandidateRequest, list[_Row]] = {}
        self._service_ids: dict[str, int] = {}
        # (id(row), document id) -> the document's mention of the row; the pairs to write, in order.
        self._mentions: dict[tuple[int, int], _Mention] = {}
        self._mention_rows: list[tuple[_Row, int]] = []
        # document id -> its stored mentions by announcement id, read on first use.
        self._stored_mentions: dict[int, dict[int, _Mention]] = {}
        self._links: list[tuple[_Row, int, Link, int | None]] = []  # with the linking document's id
        self._link_state: dict[tuple[int, int], _LinkState] = {}
        self._made_ids: set[int] = set()  # rows this writer inserted
        self._made = 0
        self._dialect = session.get_bind().dialect.name
        self._nulls_first = self._dialect == "postgresql"
        self._connection: Connection | None = None

    def for_document(self, document_id: int, *, document_url: str | None, document_is_new: bool) -> None:
        """Make the following upserts and mentions those of this document: one writer may store the
        announcements of several documents, one after the other, and write them all in one flush."""
        self.document_id = document_id
        self.document_url = document_url
        self.document_is_new = document_is_new

    def _execute(self, statement: Any, params: Any = None) -> Any:
        # On the session's connection: a Core statement needs none of the ORM's execution steps.
        # Asked for once: a writer lives inside one transaction (savepoints keep the connection).
        if self._connection is None:
            self._connection = self.session.connection()
        return self._connection.execute(statement, params)

    # ------------------------------------------------------------------ reads

    def _keep(self, record: Any) -> _Row:
        """The row of a result record, made once per id (later records add their service slug)."""
        row = self._by_id.get(record.id)
        if row is None:
            row = _Row(
                id=record.id,
                key=record.key,
                title=record.title,
                summary=record.summary,
                url=record.url,
                announced_at=_utc(record.announced_at),
                announced_at_source=record.announced_at_source,
                status=record.status,
                event_id=record.event_id,
                content_hash=record.content_hash,
                order=record.id,
            )
            self._by_id[row.id] = row  # type: ignore[index]
            self._rows[row.key] = row
        elif record.key in self._touched:
            return row  # merged in memory already: what was read is older than the model
        if record.slug is not None:
            row.slugs.add(record.slug)
        if record.region_id is not None:
            row.region_ids.add(record.region_id)
        return row

    def load(self, keys: Iterable[str], candidates: Iterable[CandidateRequest] = ()) -> None:
        """Read the stored announcements with these keys, for `stored` and `upsert`, and with them, in
        the same statement, the dedupe candidates of these requests (see `candidates`)."""
        wanted = [k for k in unique(keys) if k not in self._rows]
        requests = [r for r in unique(candidates) if r.service_slugs and r not in self._candidates]
        chunks = [wanted[start : start + _CHUNK] for start in range(0, len(wanted), _CHUNK)] or [[]]
        for number, chunk in enumerate(chunks):
            for key in chunk:
                self._rows[key] = None
            if number == 0 and requests:
                self._load_candidates(requests, keys=chunk)
            elif chunk:
                for record in self._execute(_BY_KEYS, {"keys": chunk}):
                    self._keep(record)

    def load_candidates(self, requests: Iterable[CandidateRequest]) -> None:
        """Read the dedupe candidates of these requests, all in one statement (see `candidates`)."""
        wanted = [r for r in unique(requests) if r.service_slugs and r not in self._candidates]
        if wanted:
            self._load_candidates(wanted)

    def _load_candidates(self, requests: Sequence[CandidateRequest], keys: list[str] | None = None) -> None:
        dialect = self.session.get_bind().dialect
        bind = UTCDateTime().dialect_impl(dialect).bind_processor(dialect)
        assert bind is not None

        def stored(at: datetime) -> str:
            # As the column stores it: SQLite compares these strings ("2030-12-05 12:00:00.000000"),
            # PostgreSQL reads ISO 8601.
            value = bind(at)
            return value.isoformat() if isinstance(value, datetime) else str(value)

        wanted: list[dict[str, object]] = []
        for n, request in enumerate(requests):
            around = _utc(request.around)
            window = timedelta(days=request.days)
            lo, hi = (_EARLIEST, _LATEST) if around is None else (around - window, around + window)
            wanted.extend(
                {"n": n, "slug": slug, "lo": stored(lo), "hi": stored(hi), "lim": request.limit}
                for slug in sorted(request.service_slugs)
            )
        lists: dict[int, dict[int, _Row]] = {n: {} for n in range(len(requests))}
        params: dict[str, object] = {"wanted": json.dumps(wanted), "undated": UNDATED}
        if keys is None:
            statement = _candidates_statement(dialect.name)
        else:
            statement = _keys_and_candidates_statement(dialect.name)
            params["keys"] = keys
        listed: list[tuple[int, str]] = []
        for record in self._execute(statement, params):
            if record.n is None:
                self._keep(record)  # a row under one of the keys, or a candidate's
            else:
                listed.append((record.n, record.key))  # the ids of a request's candidates
        by_id = self._by_id
        for n, ids in listed:
            lists[n] = {aid: by_id[aid] for aid in map(int, ids.split(","))}
        for n, request in enumerate(requests):
            self._candidates[request] = list(lists[n].values())

    def _row(self, key: str) -> _Row | None:
        if key not in self._rows:
            self.load([key])
        return self._rows[key]

    def stored(self, key: str) -> StoredDateAndEvent | None:
        """The date and event name of the announcement with this key (stored, or upserted by this writer)."""
        row = self._row(key)
        if row is None:
            return None
        return StoredDateAndEvent(row.announced_at, self._event_names([row]).get(row.event_id or 0))

    def _event_names(self, rows: Iterable[_Row]) -> dict[int, str]:
        return event_names(self.session, (r.event_id for r in rows if r.event_id is not None), self.ids)

    def candidates(self, request: CandidateRequest) -> list[Known]:
        """Stored announcements sharing a service, dated within `days` of `around` (or undated), newest first,
        at most `limit`: as stored before this writer, with what it upserted since (`dedupe_candidates`)."""
        if request not in self._candidates:
            self.load_candidates([request])
        slugs = request.service_slugs
        around = _utc(request.around)
        window = timedelta(days=request.days)
        rows = {id(r): r for r in self._candidates.get(request, [])}
        for slug in slugs:
            rows.update(self._touched_by_slug.get(slug, {}))
        if around is None:
            kept = [r for r in rows.values() if not r.slugs.isdisjoint(slugs)]
        else:
            lo, hi = around - window, around + window  # once, not for every row
            kept = [
                r
                for r in rows.values()
                if not r.slugs.isdisjoint(slugs) and (r.announced_at is None or lo <= r.announced_at <= hi)
            ]
        kept = self._newest_first(kept)[: request.limit]
        names = self._event_names(kept)
        return [Known(r.key, r.title, frozenset(r.slugs), r.announced_at, names.get(r.event_id or 0)) for r in kept]

    def _newest_first(self, rows: list[_Row]) -> list[_Row]:
        # ORDER BY announced_at DESC, id DESC, as the database orders it: NULL sorts above every
        # date on PostgreSQL and below on SQLite.
        undated = 1 if self._nulls_first else 0

        def rank(r: _Row) -> tuple[int, datetime, int]:
            if r.announced_at is None:
                return (undated, _EARLIEST, r.order)
            return (1 - undated, r.announced_at, r.order)

        return sorted(rows, key=rank, reverse=True)

    # ------------------------------------------------------------------ merge, in memory

    def upsert(self, na: NormalizedAnnouncement, *, event_id: int | None) -> PendingAnnouncement:
        """Get-or-create by key and merge (see the module docstring), in memory until `flush`."""
        ann = na.announcement
        title = strip_controls(ann.title or "")
        summary = strip_controls(ann.summary or "")
        # Only a public http(s) link is stored: never javascript:, data:, a local path or credentials.
        url = na.url if na.url is not None else public_url(ann.url)
        announced_at = _utc(na.announced_at or ann.published_at)
        status = ann.status
        slugs = unique(s.slug for s in na.services)
        missing = [s for s in na.services if s.slug not in self._service_ids]
        if missing:
            self._service_ids.update(service_ids(self.session, missing, self.ids))
        regions = region_ids(self.session, na.regions, self.ids) if na.regions else {}

        row = self._row(na.key)
        if row is None:
            row = _Row(
                id=None,
                key=na.key,
                title=title,
                summary=summary,
                url=url,
                announced_at=announced_at,
                announced_at_source=na.date_source if announced_at is not None else None,
                status=status,
                event_id=event_id,
                content_hash="",
                order=_NEW_ORDER + self._made,
                slugs=set(slugs),
                new=True,
                created_at=self.now,
                updated_at=self.now,
                to_link=list(slugs),
                region_ids=set(regions.values()),
                regions=dict(regions),
            )
            self._made += 1
            row.content_hash = _published_hash(row, slugs)
            self._rows[row.key] = row
            self._touch(row)
            return PendingAnnouncement(row, "created")

        document_url = self.document_url
        same_owner = url is not None and url == row.url and document_url in (None, url)
        takes_over = url_rank(url) > url_rank(row.url)
        if same_owner or takes_over:
            if title:
                row.assign("title", title)
            if summary:
                row.assign("summary", summary)
            if status:
                row.assign("status", status)
            if takes_over:
                row.assign("url", url)
        else:
            if not row.title and title:
                row.assign("title", title)
            if not row.summary and summary:
                row.assign("summary", summary)
            if row.status is None and status:
                row.assign("status", status)
            if row.url is None and url:
                row.assign("url", url)
        if announced_at is not None and (row.announced_at is None or announced_at < row.announced_at):
            row.assign("announced_at", announced_at)
            row.assign("announced_at_source", na.date_source)
            row.date_moved = not row.new
        if row.event_id is None and event_id is not None:
            row.assign("event_id", event_id)
        for slug in slugs:
            if slug not in row.slugs:
                row.slugs.add(slug)
                row.to_link.append(slug)
        for slug, rid in regions.items():
            if rid not in row.region_ids:
                row.region_ids.add(rid)
                row.regions[slug] = rid
        self._touch(row)

        digest = _published_hash(row, row.slugs)
        if digest == row.content_hash:
            return PendingAnnouncement(row, "unchanged")
        row.assign("content_hash", digest)
        row.assign("updated_at", self.now)
        return PendingAnnouncement(row, "updated")

    def _touch(self, row: _Row) -> None:
        # Once its services are merged: a row's services only grow, and each upsert indexes them all.
        self._touched[row.key] = row
        for slug in row.slugs:
            self._touched_by_slug[slug][id(row)] = row

    def mention(self, pending: PendingAnnouncement, *, excerpt: str, position: int, rule: str) -> bool:
        """Record that the writer's document mentions an announcement; True when the mention is new."""
        document_id = self.document_id
        if document_id is None:
            raise ValueError("a writer without a document records no mentions")
        row = pending._row
        excerpt = strip_controls(excerpt)
        pair = (id(row), document_id)
        mention = self._mentions.get(pair)
        if mention is None:
            mention = self._stored_mention(row, document_id)
            self._mention_rows.append((row, document_id))
            if mention is None:
                self._mentions[pair] = _Mention(excerpt, position, rule)
                return True
            self._mentions[pair] = mention
        # The document was re-extracted: keep the mention current without counting it as new.
        for attr, value in (("excerpt", excerpt), ("position", position), ("rule", rule)):
            if getattr(mention, attr) != value:
                setattr(mention, attr, value)
                mention.dirty = mention.stored
        return False

    def load_mentions(self, document_ids: Iterable[int]) -> None:
        """Read the stored mentions of these documents (stored before: a new one has none), all in
        one statement, instead of one per document when its first mention is recorded."""
        wanted = [d for d in unique(document_ids) if d not in self._stored_mentions]
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            found: dict[int, dict[int, _Mention]] = {d: {} for d in chunk}
            for r in self._execute(_MENTIONS_OF_DOCUMENTS, {"document_ids": chunk}):
                found[r.document_id][r.announcement_id] = _Mention(r.excerpt, r.position, r.rule, stored=True)
            self._stored_mentions.update(found)

    def _stored_mention(self, row: _Row, document_id: int) -> _Mention | None:
        if row.new or row.id is None or self.document_is_new:
            # A launch or a document new in this transaction has no mention stored yet.
            return None
        stored = self._stored_mentions.get(document_id)
        if stored is None:
            # Every mention the document has, in one statement, the first time one is asked for.
            stored = self._stored_mentions[document_id] = {
                r.announcement_id: _Mention(r.excerpt, r.position, r.rule, stored=True)
                for r in self._execute(_MENTIONS_OF_DOCUMENT, {"document_id": document_id})
            }
        return stored.get(row.id)

    def link(self, pending: PendingAnnouncement, session_id: int, link: Link) -> None:
        """Link an announcement to a session (insert, or update by `_link_wins`); counted by `flush`."""
        self._links.append((pending._row, session_id, link, self.document_id))

    # ------------------------------------------------------------------ writes

    def flush(self) -> Written:
        """Write what was upserted: one INSERT and at most one executemany UPDATE per table.

        Keeps the store's revision as the ORM's flush events do (`tracker.store.changes`): new and
        changed announcements are written at this transaction's revision; those that only gained
        a service, a mention or a session link (or a changed one) are marked after.
        """
        new = [r for r in self._touched.values() if r.new and r.id is None]
        changed = [r for r in self._touched.values() if r.dirty and not r.new]
        revision = transaction_revision(self.session) if new or changed else None
        # Stored announcements whose links or mentions this flush adds or changes.
        touched: set[int] = {r.id for r in self._touched.values() if r.to_link and not r.new and r.id is not None}
        if new:
            rows = [{"key": r.key, "created_at": r.created_at, **_row_values(r, revision)} for r in new]
            if self._dialect == "postgresql":
                # Inserted with the facets its links will give it (as the trigger spells them, in
                # byte order): the trigger of each link then leaves the row as it is, instead of
                # writing it and its full-text document again (migration 0012).
                for values, r in zip(rows, new, strict=True):
                    values["search_facets"] = self._facets(r)
            made: dict[str, int] = dict(self._execute(_INSERT_ANNOUNCEMENTS, rows).all())
            for r in new:
                r.id = made[r.key]
                self._by_id[r.id] = r
                self._made_ids.add(r.id)
            written_at_revision(self.session, made.values())
        if changed:
            self._execute(
                _UPDATE_ANNOUNCEMENTS,
                [{"row_id": r.id, **_row_values(r, revision)} for r in changed],
            )
            written_at_revision(self.session, (r.id for r in changed))
            moved = [r for r in changed if r.date_moved]
            if moved:
                # The links' sort key follows the announcement's (earlier) date.
                self._execute(_UPDATE_SORT_AT, [{"row_id": r.id, "at": r.announced_at or UNDATED} for r in moved])
        links = [
            {"announcement_id": r.id, "service_id": self._service_ids[slug], "sort_at": r.announced_at or UNDATED}
            for r in self._touched.values()
            for slug in r.to_link
        ]
        if links:
            self._execute(_link_services_statement(self._dialect), links)
        regions = [
            {"announcement_id": r.id, "region_id": rid} for r in self._touched.values() for rid in r.regions.values()
        ]
        if regions:
            self._execute(_link_regions_statement(self._dialect), regions)
        for r in self._touched.values():
            r.new = r.dirty = r.date_moved = False
            r.to_link.clear()
            r.regions.clear()
        by_document: dict[int | None, list[int]] = {}
        mentions = self._flush_mentions(touched, by_document)
        session_links = self._flush_links(touched, by_document)
        # One UPDATE at most: those written above are at this revision already.
        mark_changed(self.session, touched)
        return Written(
            mentions=mentions, links=session_links, by_document={d: (m, n) for d, (m, n) in by_document.items()}
        )

    def _facets(self, r: _Row) -> str | None:
        """A new row's `search_facets` once its links are written: "s<service id>" and "r<region id>", sorted."""
        facets = [f"s{self._service_ids[slug]}" for slug in r.to_link] + [f"r{rid}" for rid in r.regions.values()]
        return " ".join(sorted(facets, key=lambda f: f.encode())) if facets else None

    def _flush_mentions(self, touched: set[int], by_document: dict[int | None, list[int]]) -> int:
        # Written by their natural key (announcement, document): no ids to read back.
        fresh = [(r, d, m) for r, d in self._mention_rows if not (m := self._mentions[(id(r), d)]).stored]
        if fresh:
            self._execute(_INSERT_MENTIONS, _mention_rows(fresh, "announcement_id", "document_id"))
            for r, d, m in fresh:
                m.stored = True
                touched.add(r.id)  # type: ignore[arg-type]
                by_document.setdefault(d, [0, 0])[0] += 1
        changed = [(r, d, m) for r, d in self._mention_rows if (m := self._mentions[(id(r), d)]).dirty]
        if changed:
            self._execute(_UPDATE_MENTIONS, _mention_rows(changed, "a_id", "d_id"))
            for _, _, m in changed:
                m.dirty = False
        self._mention_rows.clear()
        return len(fresh)

    def _flush_links(self, touched: set[int], by_document: dict[int | None, list[int]]) -> int:
        if not self._links:
            return 0
        state = self._link_state
        # The stored links of the pairs not seen yet, in one statement (a launch made by this
        # writer has none).
        unknown = [
            (r.id, sid) for r, sid, _, _ in self._links if r.id not in self._made_ids and (r.id, sid) not in state
        ]
        ann_ids = unique(a for a, _ in unknown)
        session_ids = unique(sid for _, sid in unknown)
        for start in range(0, len(ann_ids), _CHUNK // 2):
            chunk = ann_ids[start : start + _CHUNK // 2]
            narrow = S.c.session_id.in_(session_ids) if len(session_ids) <= _CHUNK // 2 else true()
            for record in self._execute(
                select(S.c.announcement_id, S.c.session_id, S.c.method, S.c.score, S.c.reason).where(
                    S.c.announcement_id.in_(chunk), narrow
                )
            ):
                pair = (record.announcement_id, record.session_id)
                state[pair] = _LinkState(record.method, float(record.score), record.reason, stored=True)
        changed = 0
        inserts: dict[tuple[int, int], None] = {}
        updates: dict[tuple[int, int], None] = {}
        for row, session_id, link, document_id in self._links:
            assert row.id is not None
            pair = (row.id, session_id)
            score = float(link.score)
            had = state.get(pair)
            if had is None:
                state[pair] = _LinkState(link.method, score, link.reason, stored=False)
                inserts[pair] = None
                changed += 1
                by_document.setdefault(document_id, [0, 0])[1] += 1
                continue
            if not _link_wins(link.method, score, had.method, had.score):
                continue
            if (had.method, had.score, had.reason) != (link.method, score, link.reason):
                had.method, had.score, had.reason = link.method, score, link.reason
                if had.stored:
                    updates[pair] = None
                changed += 1
                by_document.setdefault(document_id, [0, 0])[1] += 1
        self._links.clear()
        touched.update(a for a, _ in inserts)
        touched.update(a for a, _ in updates)
        if inserts:
            self._execute(_INSERT_SESSION_LINKS, _link_rows(inserts, state, "announcement_id", "session_id"))
            for pair in inserts:
                state[pair].stored = True
        if updates:
            self._execute(_UPDATE_SESSION_LINKS, _link_rows(updates, state, "a_id", "s_id"))
        return changed


def upsert_announcement(
    session: Session,
    na: NormalizedAnnouncement,
    *,
    now: datetime,
    event_id: int | None,
    document_url: str | None = None,
) -> UpsertedAnnouncement:
    """Get-or-create by key and merge (see the module docstring): its id and what storing it did.

    `document_url` is the URL of the mentioning document (None: the mention is taken as
    coming from the document at the announcement's own URL). One announcement through
    `AnnouncementWriter`; a document's announcements go through one writer together.
    """
    writer = AnnouncementWriter(session, now=now, document_url=document_url)
    pending = writer.upsert(na, event_id=event_id)
    writer.flush()
    return UpsertedAnnouncement(pending.id, pending.status)


def dedupe_candidates(
    session: Session, service_slugs: Iterable[str], *, around: datetime | None, days: int, limit: int = 500
) -> list[Known]:
    """Stored announcements sharing a service, dated within `days` of `around` (or undated), newest first."""
    request = CandidateRequest(frozenset(service_slugs), around, days, limit)
    if not request.service_slugs:
        return []
    return AnnouncementWriter(session, now=datetime.now(UTC)).candidates(request)


def stored_date_and_event(session: Session, key: str) -> StoredDateAndEvent | None:
    """The date and event name of the stored announcement with this key, if there is one."""
    row = session.execute(
        select(AnnouncementRow.announced_at, EventRow.name)
        .outerjoin(EventRow, EventRow.id == AnnouncementRow.event_id)
        .where(AnnouncementRow.key == key)
    ).first()
    return None if row is None else StoredDateAndEvent(_utc(row[0]), row[1])


def keys_mentioned_by(session: Session, document_id: int) -> list[str]:
    """The keys of the announcements a stored document mentions."""
    return list(
        session.scalars(
            select(AnnouncementRow.key)
            .join(MentionRow, MentionRow.announcement_id == AnnouncementRow.id)
            .where(MentionRow.document_id == document_id)
            .order_by(MentionRow.position)
        )
    )


def keys_mentioned_by_documents(session: Session, document_ids: Iterable[int]) -> dict[int, list[str]]:
    """`keys_mentioned_by` for several documents, in one statement (per 2,000 documents)."""
    wanted = unique(document_ids)
    out: dict[int, list[str]] = {d: [] for d in wanted}
    conn = session.connection()
    for start in range(0, len(wanted), _CHUNK):
        for document_id, key in conn.execute(_KEYS_OF_DOCUMENTS, {"document_ids": wanted[start : start + _CHUNK]}):
            out[document_id].append(key)
    return out


_KEYS_OF_DOCUMENTS = (
    select(M.c.document_id, A.c.key)
    .join(A, A.c.id == M.c.announcement_id)
    .where(M.c.document_id.in_(bindparam("document_ids", expanding=True)))
    .order_by(M.c.document_id, M.c.position)
)


def add_mention(
    session: Session,
    announcement_id: int,
    document_id: int,
    *,
    excerpt: str,
    position: int,
    rule: str,
    new_announcement: bool = False,
) -> bool:
    """Record that a document mentions an announcement; True when the mention is new.

    `new_announcement`: the announcement was created in this transaction, so it has no
    mention yet and the look-up is skipped.
    """
    excerpt = strip_controls(excerpt)
    row = (
        None
        if new_announcement
        else session.execute(
            select(M.c.id, M.c.excerpt, M.c.position, M.c.rule).where(
                M.c.announcement_id == announcement_id, M.c.document_id == document_id
            )
        ).first()
    )
    if row is None:
        session.execute(
            insert(M).values(
                announcement_id=announcement_id, document_id=document_id, excerpt=excerpt, position=position, rule=rule
            )
        )
        mark_changed(session, [announcement_id])  # its entry lists the documents that mention it
        return True
    # The document was re-extracted: keep the mention current without counting it as new.
    if (row.excerpt, row.position, row.rule) != (excerpt, position, rule):
        session.execute(update(M).where(M.c.id == row.id).values(excerpt=excerpt, position=position, rule=rule))
    return False


def feed_groups(session: Session) -> dict[str, list[str]]:
    """The service and event slugs that have at least one announcement (one feed each)."""
    services = session.scalars(
        select(ServiceRow.slug)
        .join(AnnouncementServiceRow, AnnouncementServiceRow.service_id == ServiceRow.id)
        .distinct()
    ).all()
    events = session.scalars(
        select(EventRow.slug).join(AnnouncementRow, AnnouncementRow.event_id == EventRow.id).distinct()
    ).all()
    return {"services": sorted(services), "events": sorted(events)}


def announcements_created_since(session: Session, at: datetime) -> list[AnnouncementRecord]:
    """Announcements first stored at or after `at` (a run's new ones, for webhooks), oldest first."""
    stmt = (
        select(AnnouncementRow.id)
        .where(AnnouncementRow.created_at >= _utc(at))
        .order_by(AnnouncementRow.created_at.asc(), AnnouncementRow.id.asc())
    )
    return _records(session, stmt)
