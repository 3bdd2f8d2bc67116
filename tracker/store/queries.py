"""The read path of queries: SQLAlchemy Core statements only, no ORM import.

`tracker announcements`, `show`, `services`, `sessions` and `status` start in a fresh
process each time, where importing `sqlalchemy.orm` and building the declarative models cost
more than the query (issue 15). These functions read with Core `select()`s on lightweight
tables (`tracker.store.tables`) and take either a Core `Connection` or an ORM `Session`, so
the API, the feeds and the pipeline read the same way.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import BindParameter, ColumnElement, String, bindparam, func, or_, select, tuple_, type_coerce

from tracker.items import (
    AnnouncementRecord,
    EventCount,
    Link,
    MonthCount,
    MonthlyCounts,
    RunRecord,
    Service,
    ServiceCount,
    SessionLinkRecord,
    SessionRecord,
    SourceState,
)
from tracker.normalize.text import public_url
from tracker.redact import mask_text, mask_url, strip_controls
from tracker.store.names import Resolved, resolve_event, resolve_region, resolve_service
from tracker.store.prepared import Prepared, all_together
from tracker.store.search import Bounds, Facets, fulltext_condition, matching_ids, search_words
from tracker.store.tables import (
    ANNOUNCEMENT_REGIONS,
    ANNOUNCEMENT_SERVICES,
    ANNOUNCEMENT_SESSIONS,
    ANNOUNCEMENTS,
    DOCUMENTS,
    EVENTS,
    MENTIONS,
    REGIONS,
    RUNS,
    SERVICE_ALIASES,
    SERVICES,
    SESSIONS,
    SOURCES,
    Reader,
    dialect_name,
)
from tracker.store.types import UNDATED

log = logging.getLogger(__name__)

T = TypeVar("T")

MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits on PostgreSQL

# --------------------------------------------------------------------------- helpers


def utc(value: datetime | None) -> datetime | None:
    """Aware UTC (naive values are taken as UTC), microseconds kept."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def unique(values: Iterable[T]) -> list[T]:
    """The values in their order, each once."""
    seen: set[T] = set()
    out: list[T] = []
    for value in values:
        if value not in seen:
            seen.add(value)
            out.append(value)
    return out


_utc = utc
_unique = unique


def masked_outcomes(outcomes: dict[str, dict[str, object]]) -> dict[str, dict[str, object]]:
    """Per-source outcomes with their error messages masked (no credentials, no controls)."""
    out: dict[str, dict[str, object]] = {}
    for name, outcome in outcomes.items():
        if isinstance(outcome, dict) and isinstance(outcome.get("error"), str):
            outcome = {**outcome, "error": mask_text(strip_controls(str(outcome["error"])))}
        out[name] = outcome
    return out


# --------------------------------------------------------------------------- sources and runs


def list_source_states(session: Reader) -> list[SourceState]:
    """Every source with its cache validators, last success, last error and failure count."""
    # Text is sorted in Python: PostgreSQL collations and SQLite's binary order disagree.
    rows = sorted(session.execute(select(*SOURCES.c)), key=lambda r: r.name)
    return [
        SourceState(
            id=r.id,
            name=r.name,
            kind=r.kind,
            url=mask_url(r.url),
            etag=r.etag,
            last_modified=r.last_modified,
            last_status=r.last_status,
            last_error=mask_text(r.last_error) if r.last_error else r.last_error,
            last_error_kind=r.last_error_kind,
            last_success_at=r.last_success_at,
            last_attempt_at=r.last_attempt_at,
            consecutive_failures=r.consecutive_failures,
        )
        for r in rows
    ]


def last_runs(session: Reader, limit: int = 10) -> list[RunRecord]:
    """The most recent runs, newest first."""
    rows = session.execute(select(*RUNS.c).order_by(RUNS.c.started_at.desc(), RUNS.c.id.desc()).limit(limit)).all()
    return [
        RunRecord(
            id=r.id,
            started_at=r.started_at,
            finished_at=r.finished_at,
            status=r.status,
            counts=dict(r.counts or {}),
            # Masked again on the way out: rows stored before masking existed.
            outcomes=masked_outcomes(dict(r.outcomes or {})),
            error=mask_text(r.error) if r.error else None,
            slot=r.slot,
        )
        for r in rows
    ]


# --------------------------------------------------------------------------- reads


def _aliases(session: Reader, service_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Every alias of the given services, in their relationship order (by alias id)."""
    ids = sorted(set(service_ids))
    out: dict[int, list[str]] = {sid: [] for sid in ids}
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(SERVICE_ALIASES.c.service_id, SERVICE_ALIASES.c.alias)
            .where(SERVICE_ALIASES.c.service_id.in_(ids[start : start + _CHUNK]))
            .order_by(SERVICE_ALIASES.c.id)
        )
        for sid, alias in rows:
            out[sid].append(alias)
    return {sid: tuple(names) for sid, names in out.items()}


def _session_record(row: Any) -> SessionRecord:
    return SessionRecord(
        id=row.id,
        title=row.title,
        kind=row.kind,
        code=row.code,
        url=public_url(row.video_url),
        event=row.event_name,
        event_slug=row.event_slug,
        speakers=tuple(row.speakers or ()),
        level=row.level,
    )


# Ids per `IN (...)` list: well under SQLite's bound-parameter limit.
_CHUNK = 500


_IDS: BindParameter[list[int]] = bindparam("ids", expanding=True)
_SESSION_EVENTS = EVENTS.alias("session_events")
# The columns of a record's own row, in the order `_RecordReader._record` unpacks them.
_RECORD_COLUMNS = (
    ANNOUNCEMENTS.c.id,
    ANNOUNCEMENTS.c.key,
    ANNOUNCEMENTS.c.title,
    ANNOUNCEMENTS.c.summary,
    ANNOUNCEMENTS.c.url,
    ANNOUNCEMENTS.c.announced_at,
    ANNOUNCEMENTS.c.updated_at,
    ANNOUNCEMENTS.c.status,
    ANNOUNCEMENTS.c.announced_at_source,
    ANNOUNCEMENTS.c.created_at,
    EVENTS.c.name.label("event_name"),
    EVENTS.c.slug.label("event_slug"),
)
# The columns of an API item's own row (`_RecordReader.items`): the datetimes as the driver gives
# them (SQLite's stored text is turned into ISO 8601 without making a datetime of it).
_ITEM_COLUMNS = (
    ANNOUNCEMENTS.c.id,
    ANNOUNCEMENTS.c.key,
    ANNOUNCEMENTS.c.title,
    ANNOUNCEMENTS.c.summary,
    ANNOUNCEMENTS.c.url,
    type_coerce(ANNOUNCEMENTS.c.announced_at, String).label("announced_at"),
    ANNOUNCEMENTS.c.announced_at_source,
    type_coerce(ANNOUNCEMENTS.c.updated_at, String).label("updated_at"),
    ANNOUNCEMENTS.c.status,
    EVENTS.c.name.label("event_name"),
    EVENTS.c.slug.label("event_slug"),
)
# The statements of a page of records, compiled once (tracker.store.prepared): building a
# select() costs as much as running it on SQLite, and so did SQLAlchemy's execution of it.
_ROWS = Prepared(
    select(*_RECORD_COLUMNS)
    .outerjoin(EVENTS, EVENTS.c.id == ANNOUNCEMENTS.c.event_id)
    .where(ANNOUNCEMENTS.c.id.in_(_IDS))
)
_SERVICES_OF = Prepared(
    select(ANNOUNCEMENT_SERVICES.c.announcement_id, SERVICES.c.slug, SERVICES.c.name, SERVICES.c.category)
    .join(SERVICES, SERVICES.c.id == ANNOUNCEMENT_SERVICES.c.service_id)
    .where(ANNOUNCEMENT_SERVICES.c.announcement_id.in_(_IDS))
)
_REGIONS_OF = Prepared(
    select(ANNOUNCEMENT_REGIONS.c.announcement_id, REGIONS.c.name)
    .join(REGIONS, REGIONS.c.id == ANNOUNCEMENT_REGIONS.c.region_id)
    .where(ANNOUNCEMENT_REGIONS.c.announcement_id.in_(_IDS))
    .order_by(REGIONS.c.name)
)
_SOURCES_OF = Prepared(
    select(MENTIONS.c.announcement_id, DOCUMENTS.c.url)
    .join(DOCUMENTS, DOCUMENTS.c.id == MENTIONS.c.document_id)
    .where(MENTIONS.c.announcement_id.in_(_IDS))
    .order_by(MENTIONS.c.id)
)
_SESSIONS_OF = Prepared(
    select(
        ANNOUNCEMENT_SESSIONS.c.announcement_id,
        ANNOUNCEMENT_SESSIONS.c.method,
        ANNOUNCEMENT_SESSIONS.c.score,
        ANNOUNCEMENT_SESSIONS.c.reason,
        SESSIONS.c.id,
        SESSIONS.c.title,
        SESSIONS.c.kind,
        SESSIONS.c.code,
        SESSIONS.c.video_url,
        SESSIONS.c.speakers,
        SESSIONS.c.level,
        _SESSION_EVENTS.c.name,
        _SESSION_EVENTS.c.slug,
    )
    .join(SESSIONS, SESSIONS.c.id == ANNOUNCEMENT_SESSIONS.c.session_id)
    .outerjoin(_SESSION_EVENTS, _SESSION_EVENTS.c.id == SESSIONS.c.event_id)
    .where(ANNOUNCEMENT_SESSIONS.c.announcement_id.in_(_IDS))
    .order_by(ANNOUNCEMENT_SESSIONS.c.score.desc(), ANNOUNCEMENT_SESSIONS.c.session_id)
)

# What an API item shows of its services and session links, and no more (`_RecordReader.items`):
# a record's services also carry their category, its sessions their speakers, level and event.
_SERVICE_NAMES_OF = Prepared(
    select(ANNOUNCEMENT_SERVICES.c.announcement_id, SERVICES.c.slug, SERVICES.c.name)
    .join(SERVICES, SERVICES.c.id == ANNOUNCEMENT_SERVICES.c.service_id)
    .where(ANNOUNCEMENT_SERVICES.c.announcement_id.in_(_IDS))
)
_SESSION_LINKS_OF = Prepared(
    select(
        ANNOUNCEMENT_SESSIONS.c.announcement_id,
        ANNOUNCEMENT_SESSIONS.c.method,
        ANNOUNCEMENT_SESSIONS.c.score,
        ANNOUNCEMENT_SESSIONS.c.reason,
        SESSIONS.c.title,
        SESSIONS.c.kind,
        SESSIONS.c.code,
        SESSIONS.c.video_url,
    )
    .join(SESSIONS, SESSIONS.c.id == ANNOUNCEMENT_SESSIONS.c.session_id)
    .where(ANNOUNCEMENT_SESSIONS.c.announcement_id.in_(_IDS))
    .order_by(ANNOUNCEMENT_SESSIONS.c.score.desc(), ANNOUNCEMENT_SESSIONS.c.session_id)
)


# What `_RecordReader` reads of a page's announcements, in the order of `_grouped_links`.
_LINKED = (_SERVICES_OF, _REGIONS_OF, _SOURCES_OF, _SESSIONS_OF)
_ITEM_LINKED = (_SERVICE_NAMES_OF, _REGIONS_OF, _SOURCES_OF, _SESSION_LINKS_OF)


def _service_order(service: Service) -> tuple[str, str]:
    return (service.name.lower(), service.slug)


def _named_order(named: tuple[str, str]) -> tuple[str, str]:
    """`_service_order` of a (slug, name) row."""
    return (named[1].lower(), named[0])


def _public_sources(urls: list[str]) -> list[str]:
    """The public addresses among the documents' URLs, each once: a saved file's path is where
    it was read, not a link."""
    if len(urls) == 1:
        only = public_url(urls[0])
        return [only] if only else []
    return _unique(u for u in (public_url(x) for x in urls) if u)


class _RecordReader:
    """Builds `AnnouncementRecord`s from plain rows: five queries per 500 announcements, no ORM objects.

    A page of results used to be loaded as ORM objects with their relationships; building
    and tracking those objects cost ten times the SQL itself. The events and services come
    joined to the rows that name them (no query per kind of row); a record's services carry
    slug, name and category, not their aliases, which no record shows (`list_services` has them).
    """

    def __init__(self, session: Reader) -> None:
        self.session = session
        self.services: dict[tuple[str, str, str | None], Service] = {}  # one object per service

    def read(self, ids: Sequence[int]) -> list[AnnouncementRecord]:
        """Records of these announcements, in this order (ids not found are left out)."""
        out: list[AnnouncementRecord] = []
        for start in range(0, len(ids), _CHUNK):
            out.extend(self._chunk(list(ids[start : start + _CHUNK])))
        return out

    def from_rows(self, rows: Sequence[tuple[Any, ...]]) -> list[AnnouncementRecord]:
        """Records of rows already read (the columns of `_RECORD_COLUMNS`), in their order."""
        out: list[AnnouncementRecord] = []
        for start in range(0, len(rows), _CHUNK):
            out.extend(self._build(rows[start : start + _CHUNK]))
        return out

    def _service(self, slug: str, name: str, category: str | None) -> Service:
        key = (slug, name, category)
        found = self.services.get(key)
        if found is None:
            found = self.services[key] = Service(slug=slug, name=name, aliases=(), category=category)
        return found

    def _chunk(self, ids: list[int]) -> list[AnnouncementRecord]:
        if not ids:
            return []
        # The rows and what they link to, sent together (one round trip on PostgreSQL).
        found, *linked = all_together(self.session, [(p, {"ids": ids}) for p in (_ROWS, *_LINKED)])
        rows = {r[0]: r for r in found}
        return self._build([rows[i] for i in ids if i in rows], self._grouped_links(*linked))

    def items(self, rows: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
        """`AnnouncementRecord.as_dict()` of each row read with `_ITEM_COLUMNS`, without the record."""
        out: list[dict[str, Any]] = []
        for start in range(0, len(rows), _CHUNK):
            chunk = rows[start : start + _CHUNK]
            if not chunk:
                continue
            services, regions, sources, links = self._linked([r[0] for r in chunk], items=True)
            iso = _iso_utc
            # Most launches name one service and no region or session: those cases skip the
            # sort and the comprehensions (a page builds fifty of these).
            for ann_id, key, title, summary, url, announced_at, date_source, updated_at, status, event, slug in chunk:
                named = services.get(ann_id)  # (slug, name)
                if named is None:
                    names, slugs = [], []
                elif len(named) == 1:
                    names, slugs = [named[0][1]], [named[0][0]]
                else:
                    named = sorted(named, key=_named_order)
                    names, slugs = [s[1] for s in named], [s[0] for s in named]
                found = sources.get(ann_id)
                in_regions = regions.get(ann_id)
                linked = links.get(ann_id)
                out.append(
                    {
                        "id": ann_id,
                        "key": key,
                        "title": title,
                        "summary": summary or "",
                        "url": public_url(url),
                        "announced_at": iso(announced_at),
                        "announced_at_source": date_source,
                        "updated_at": iso(updated_at),
                        "status": status,
                        "event": event,
                        "event_slug": slug,
                        "services": names,
                        "service_slugs": slugs,
                        "regions": list(in_regions) if in_regions else [],
                        "sessions": [
                            {
                                "code": code,
                                "title": s_title,
                                "url": public_url(video),
                                "kind": kind,
                                "method": method,
                                "score": score,
                                "reason": reason,
                            }
                            for _a, method, score, reason, s_title, kind, code, video in linked
                        ]
                        if linked
                        else [],
                        "sources": _public_sources(found) if found else [],
                    }
                )
        return out

    def _linked(
        self, ids: list[int], *, items: bool = False
    ) -> tuple[dict[int, list[Any]], dict[int, list[Any]], dict[int, list[Any]], dict[int, list[Any]]]:
        """The services (slug, name, category), regions, source URLs and session links of these
        announcements, by announcement; with `items`, only what an API item shows of them. The
        four statements are sent together (one round trip on PostgreSQL)."""
        given = {"ids": ids}
        return self._grouped_links(
            *all_together(self.session, [(p, given) for p in (_ITEM_LINKED if items else _LINKED)])
        )

    @staticmethod
    def _grouped_links(
        services_of: list[tuple[Any, ...]],
        regions_of: list[tuple[Any, ...]],
        sources_of: list[tuple[Any, ...]],
        sessions_of: list[tuple[Any, ...]],
    ) -> tuple[dict[int, list[Any]], dict[int, list[Any]], dict[int, list[Any]], dict[int, list[Any]]]:
        services: dict[int, list[Any]] = {}
        for row in services_of:
            services.setdefault(row[0], []).append(row[1:])
        links: dict[int, list[Any]] = {}
        for link in sessions_of:
            links.setdefault(link[0], []).append(link)
        return services, _grouped(regions_of), _grouped(sources_of), links

    def _build(
        self,
        rows: Sequence[tuple[Any, ...]],
        linked: tuple[dict[int, list[Any]], dict[int, list[Any]], dict[int, list[Any]], dict[int, list[Any]]]
        | None = None,
    ) -> list[AnnouncementRecord]:
        if not rows:
            return []
        services, regions, sources, links = linked or self._linked([r[0] for r in rows])
        empty: list[Any] = []
        return [
            self._record(
                row,
                [self._service(*named) for named in services.get(row[0], empty)],
                sources.get(row[0], empty),
                links.get(row[0], empty),
                regions.get(row[0], empty),
            )
            for row in rows
        ]

    def _record(
        self, row: tuple[Any, ...], services: list[Service], sources: list[str], links: list[Any], regions: list[str]
    ) -> AnnouncementRecord:
        (ann_id, key, title, summary, url, announced_at, updated_at, status, date_source, created_at, event, slug) = row
        sessions = []
        for _ann, method, score, reason, sid, s_title, kind, code, video, speakers, level, s_event, s_slug in links:
            sessions.append(
                SessionLinkRecord(
                    session=SessionRecord(
                        id=sid,
                        title=s_title,
                        kind=kind,
                        code=code,
                        url=public_url(video),
                        event=s_event,
                        event_slug=s_slug,
                        speakers=tuple(speakers or ()),
                        level=level,
                    ),
                    link=Link(method, score, reason),
                )
            )
        if len(services) > 1:
            services = sorted(services, key=_service_order)
        return AnnouncementRecord(
            id=ann_id,
            key=key,
            title=title,
            summary=summary or "",
            url=public_url(url),
            announced_at=announced_at,
            updated_at=updated_at,
            announced_at_source=date_source,
            created_at=created_at,
            status=status,
            event=event,
            event_slug=slug,
            services=tuple(services),
            sessions=tuple(sessions),
            # Only public addresses: a saved file's path is where it was read, not a link.
            sources=tuple(_public_sources(sources)) if sources else (),
            mentioned_in=tuple(_unique(sources)) if sources else (),
            regions=tuple(regions),
        )


# How SQLAlchemy stores a datetime in SQLite (its DATETIME's storage format), UTC here (UTCDateTime).
# ([0-9], not \d: ASCII digits only, and matched faster.)
_SQLITE_STORED = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}")


def _iso_utc(value: Any) -> str | None:
    """ISO 8601 of a stored datetime read as the driver gives it, as `AnnouncementRecord.as_dict`
    writes the UTCDateTime value: SQLite's stored text is rewritten ("2025-01-02 03:04:05.000000"
    is "2025-01-02T03:04:05+00:00"), anything else read as a datetime and turned to UTC."""
    if value is None:
        return None
    if isinstance(value, str):
        if _SQLITE_STORED.fullmatch(value):
            fraction = value[19:]
            return value[:10] + "T" + value[11:19] + ("" if fraction == ".000000" else fraction) + "+00:00"
        value = datetime.fromisoformat(value)  # what SQLAlchemy's SQLite DATETIME reads it with
    moment = utc(value)
    assert moment is not None
    return moment.isoformat()


def _grouped(rows: Iterable[Any]) -> dict[int, list[Any]]:
    """(announcement id, value) rows grouped by announcement, values in the rows' order."""
    grouped: dict[int, list[Any]] = {}
    for ann_id, value in rows:
        grouped.setdefault(ann_id, []).append(value)
    return grouped


def _records(session: Reader, stmt: Any) -> list[AnnouncementRecord]:
    """Records of the announcements whose ids a statement selects (first column), in its order."""
    return _RecordReader(session).read([row[0] for row in session.execute(stmt)])


def _service_ids(session: Reader, service: str | Resolved) -> list[int]:
    """Ids of the stored services a name means (tracker.store.names); UnknownNameError when none is known."""
    resolved = service if isinstance(service, Resolved) else resolve_service(session, service)
    return list(resolved.ids)


def _event_ids(session: Reader, event: str | Resolved) -> list[int]:
    """Ids of the stored events a name means (tracker.store.names); UnknownNameError when none is known."""
    resolved = event if isinstance(event, Resolved) else resolve_event(session, event)
    return list(resolved.ids)


def _check_order(order: str) -> None:
    if order not in {"asc", "desc"}:
        raise ValueError(f"order must be 'asc' or 'desc', not {order!r}")


def _ordering(order: str) -> tuple[ColumnElement[Any], ...]:
    _check_order(order)
    if order == "asc":
        return (ANNOUNCEMENTS.c.announced_at.asc().nulls_last(), ANNOUNCEMENTS.c.id.asc())
    return (ANNOUNCEMENTS.c.announced_at.desc().nulls_last(), ANNOUNCEMENTS.c.id.desc())


def _after(cursor: tuple[datetime | None, int], order: str) -> ColumnElement[bool]:
    """Rows strictly after the cursor in (announced_at nulls last, id) order."""
    at, last_id = _utc(cursor[0]), cursor[1]
    column = ANNOUNCEMENTS.c.announced_at
    if at is None:
        # Already among the undated rows, which come last: only the id moves on.
        same_id = ANNOUNCEMENTS.c.id < last_id if order == "desc" else ANNOUNCEMENTS.c.id > last_id
        return column.is_(None) & same_id
    if order == "desc":
        later = or_(column < at, (column == at) & (ANNOUNCEMENTS.c.id < last_id), column.is_(None))
    else:
        later = or_(column > at, (column == at) & (ANNOUNCEMENTS.c.id > last_id), column.is_(None))
    return later


def query_announcements(
    session: Reader,
    *,
    service: str | Resolved | None = None,
    event: str | Resolved | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    session_code: str | None = None,
    limit: int | None = None,
    order: str = "desc",
    after: tuple[datetime | None, int] | None = None,
    region: str | Resolved | None = None,
) -> list[AnnouncementRecord]:
    """Announcements filtered by service, event, date range [since, until), full text and session code.

    `service` and `event` are names as people type them, resolved by `tracker.store.names`
    (or already resolved there): an unknown name raises `UnknownNameError` with suggestions;
    a known service nothing is stored for gives no records.

    `search` is full-text (every word, stemmed, the last one as a prefix: see
    `tracker.store.search`). `after` is a keyset cursor: (announced_at, id) of the last
    record of the previous page, in the same `order`; undated records come last.
    """
    _check_order(order)  # before any query
    found = _filters(
        session,
        service=service,
        event=event,
        since=since,
        until=until,
        search=search,
        session_code=session_code,
        region=region,
    )
    if found is None:
        return []
    page = _service_page_values(found, order=order, limit=limit, after=after)
    if page is not None:
        # One statement gives the page's rows (announcement and event), four more what they link to.
        shape, values = page
        return _RecordReader(session).from_rows(_service_page(*shape, items=False).all(session, values))
    return _found_records(session, found, limit=limit, order=order, after=after)


def announcement_items(
    session: Reader,
    *,
    service: str | Resolved | None = None,
    event: str | Resolved | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    session_code: str | None = None,
    limit: int | None = None,
    order: str = "desc",
    after: tuple[datetime | None, int] | None = None,
    region: str | Resolved | None = None,
) -> list[dict[str, Any]]:
    """`[r.as_dict() for r in query_announcements(...)]` with the same arguments: the API's items.

    The by-service page (one service, newest first, a limit, dates and cursor at most) is built
    from its rows straight into that shape, without the records, their datetimes and the fields
    no item shows (tests/store/test_items.py checks the two ways give the same items).
    """
    _check_order(order)
    found = _filters(
        session,
        service=service,
        event=event,
        since=since,
        until=until,
        search=search,
        session_code=session_code,
        region=region,
    )
    if found is None:
        return []
    page = _service_page_values(found, order=order, limit=limit, after=after)
    if page is not None:
        shape, values = page
        return _RecordReader(session).items(_service_page(*shape, items=True).all(session, values))
    return [r.as_dict() for r in _found_records(session, found, limit=limit, order=order, after=after)]


def _service_page_values(
    found: _Found, *, order: str, limit: int | None, after: tuple[datetime | None, int] | None
) -> tuple[tuple[bool, bool, bool], dict[str, Any]] | None:
    """The shape and values of `_service_page` when the filters are one service's newest page, else None."""
    plain = not (found.words or found.event_ids or found.region_ids or found.session_code)
    if len(found.service_ids) != 1 or order != "desc" or not plain or limit is None:
        return None
    since, until = found.since, found.until
    shape = (since is not None, until is not None, after is not None)
    values: dict[str, Any] = {"service_id": found.service_ids[0], "limit": limit}
    if since is not None:
        values["since"] = _utc(since)
    if until is not None:
        values["until"] = _utc(until)
    if after is not None:
        values["after_at"], values["after_id"] = _utc(after[0]) or UNDATED, after[1]
    return shape, values


def _found_records(
    session: Reader, found: _Found, *, limit: int | None, order: str, after: tuple[datetime | None, int] | None
) -> list[AnnouncementRecord]:
    """The records of `query_announcements` for filters other than one service's newest page."""
    if found.words:
        # The full-text index, read in date order with the service, event and region inside it.
        ids = matching_ids(
            session,
            found.words,
            facets=Facets(tuple(found.service_ids), tuple(found.event_ids), tuple(found.region_ids)),
            bounds=Bounds(since=found.since, until=found.until, after=after),
            order=order,
            limit=limit,
            session_code=found.session_code,
        )
        return _RecordReader(session).read(ids)
    service_ids = found.service_ids
    conditions = found.all_conditions
    if len(service_ids) == 1 and order == "desc":
        stmt = _newest_of_service(service_ids[0], conditions, after)
    else:
        stmt = _of_services(select(ANNOUNCEMENTS.c.id).where(*conditions), service_ids)
        if after is not None:
            stmt = stmt.where(_after(after, order))
        stmt = stmt.order_by(*_ordering(order))
    if limit is not None:
        stmt = stmt.limit(limit)
    return _records(session, stmt)


@dataclass(frozen=True)
class _Found:
    """What the filters of `query_announcements` mean in the store."""

    service_ids: list[int]
    event_ids: list[int]
    region_ids: list[int]
    since: datetime | None
    until: datetime | None
    session_code: str | None
    words: list[str]  # the full-text words; empty when there is no search

    @property
    def conditions(self) -> list[ColumnElement[bool]]:
        """Dates and session code as conditions on `announcements` (built on demand: the
        by-service page binds its values to a prebuilt statement instead)."""
        conditions: list[ColumnElement[bool]] = []
        if self.since is not None:
            conditions.append(ANNOUNCEMENTS.c.announced_at >= _utc(self.since))
        if self.until is not None:
            conditions.append(ANNOUNCEMENTS.c.announced_at < _utc(self.until))
        if self.session_code:
            code = self.session_code.strip().upper()
            conditions.append(
                ANNOUNCEMENTS.c.id.in_(
                    select(ANNOUNCEMENT_SESSIONS.c.announcement_id)
                    .join(SESSIONS, SESSIONS.c.id == ANNOUNCEMENT_SESSIONS.c.session_id)
                    .where(func.upper(SESSIONS.c.code) == code)
                )
            )
        return conditions

    @property
    def all_conditions(self) -> list[ColumnElement[bool]]:
        """The conditions with the event and the region as conditions (the path without the full-text index)."""
        out = list(self.conditions)
        if self.event_ids:
            out.append(ANNOUNCEMENTS.c.event_id.in_(self.event_ids))
        if self.region_ids:
            out.append(
                ANNOUNCEMENTS.c.id.in_(
                    select(ANNOUNCEMENT_REGIONS.c.announcement_id).where(
                        ANNOUNCEMENT_REGIONS.c.region_id.in_(self.region_ids)
                    )
                )
            )
        return out


def _filters(
    session: Reader,
    *,
    service: str | Resolved | None,
    event: str | Resolved | None,
    since: datetime | None,
    until: datetime | None,
    search: str | None,
    session_code: str | None,
    region: str | Resolved | None,
) -> _Found | None:
    """What `query_announcements`' filters mean: ids, conditions and search words; None when nothing
    can match (a known name with nothing stored, a search of stop words only)."""
    service_ids: list[int] = []
    if service:
        service_ids = _service_ids(session, service)
        if not service_ids:
            return None
    event_ids: list[int] = []
    if event:
        event_ids = _event_ids(session, event)
        if not event_ids:
            return None
    region_ids: list[int] = []
    if region:
        resolved = region if isinstance(region, Resolved) else resolve_region(session, region)
        if not resolved.ids:
            return None
        region_ids = list(resolved.ids)
    words: list[str] = []
    if search is not None and search.strip():
        # Full-text search (tracker.store.search): FTS5 on SQLite, tsvector on PostgreSQL.
        words = search_words(search)
        if not words:
            return None  # nothing searchable in the text (only stop words or punctuation)
    return _Found(service_ids, event_ids, region_ids, since, until, session_code, words)


def _of_services(stmt: Any, service_ids: list[int]) -> Any:
    """`stmt` narrowed to the announcements of any of the services."""
    if not service_ids:
        return stmt
    return stmt.where(
        ANNOUNCEMENTS.c.id.in_(
            select(ANNOUNCEMENT_SERVICES.c.announcement_id).where(ANNOUNCEMENT_SERVICES.c.service_id.in_(service_ids))
        )
    )


def announcements_per_month(
    session: Reader,
    *,
    service: str | Resolved | None = None,
    event: str | Resolved | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    search: str | None = None,
    session_code: str | None = None,
    region: str | Resolved | None = None,
) -> MonthlyCounts:
    """How many of the announcements `query_announcements` gives for these filters fall in each
    calendar month (UTC), oldest first, months without any left out; and how many have no date."""
    found = _filters(
        session,
        service=service,
        event=event,
        since=since,
        until=until,
        search=search,
        session_code=session_code,
        region=region,
    )
    if found is None:
        return MonthlyCounts((), 0)
    conditions = found.all_conditions
    if found.words:
        matches = fulltext_condition(session, " ".join(found.words))
        if matches is None:
            return MonthlyCounts((), 0)
        conditions.append(matches)
    if dialect_name(session) == "postgresql":
        month: ColumnElement[Any] = func.to_char(func.timezone("UTC", ANNOUNCEMENTS.c.announced_at), "YYYY-MM")
    else:
        # SQLite keeps naive UTC text, "YYYY-MM-DD HH:MM:SS[.ffffff]" (tracker.store.models.UTCDateTime).
        month = func.substr(ANNOUNCEMENTS.c.announced_at, 1, 7)
    # Grouped outside a subquery: PostgreSQL would see the month expression's two bound
    # parameters in SELECT and GROUP BY as different expressions.
    months = _of_services(select(month.label("month")).where(*conditions), found.service_ids).subquery()
    rows = session.execute(select(months.c.month, func.count()).group_by(months.c.month)).all()
    dated = sorted((str(m), int(n)) for m, n in rows if m is not None)
    undated = sum(int(n) for m, n in rows if m is None)
    return MonthlyCounts(tuple(MonthCount(m, n) for m, n in dated), undated)


def _newest_of_service(
    service_id: int, conditions: list[ColumnElement[bool]], after: tuple[datetime | None, int] | None
) -> Any:
    """Ids of one service's announcements, newest first, read in the order of its index.

    The order (sort_at desc, id desc) is `_ordering("desc")`: `sort_at` is the announcement's
    date, or `UNDATED` (earlier than any) when it has none, so undated ones still come last.
    """
    link = ANNOUNCEMENT_SERVICES.c
    stmt = select(link.announcement_id).where(link.service_id == service_id)
    if conditions:
        stmt = stmt.join(ANNOUNCEMENTS, ANNOUNCEMENTS.c.id == link.announcement_id).where(*conditions)
    if after is not None:
        at = _utc(after[0]) or UNDATED
        stmt = stmt.where(tuple_(link.sort_at, link.announcement_id) < tuple_(at, after[1]))
    return stmt.order_by(link.sort_at.desc(), link.announcement_id.desc())


_SERVICE_PAGES: dict[tuple[bool, bool, bool, bool], Prepared] = {}


def _service_page(since: bool, until: bool, after: bool, *, items: bool) -> Prepared:
    """The rows of `_newest_of_service` with a limit, for one shape of filters: built and compiled
    once with bound parameters (building, keying and executing a statement through SQLAlchemy
    per request cost as much as running it on SQLite). Their columns are `_RECORD_COLUMNS`, or
    with `items` `_ITEM_COLUMNS`."""
    key = (since, until, after, items)
    prepared = _SERVICE_PAGES.get(key)
    if prepared is None:
        link = ANNOUNCEMENT_SERVICES.c
        at = ANNOUNCEMENTS.c.announced_at
        stmt = (
            select(*(_ITEM_COLUMNS if items else _RECORD_COLUMNS))
            .select_from(ANNOUNCEMENT_SERVICES)
            .join(ANNOUNCEMENTS, ANNOUNCEMENTS.c.id == link.announcement_id)
            .outerjoin(EVENTS, EVENTS.c.id == ANNOUNCEMENTS.c.event_id)
            .where(link.service_id == bindparam("service_id"))
        )
        if since:
            # sort_at is the date of a dated announcement (and undated ones fail `at >=` anyway):
            # the same rows, and the index is entered at the bound instead of walked down to it.
            since_value = bindparam("since", type_=at.type)
            stmt = stmt.where(at >= since_value, link.sort_at >= since_value)
        if until:
            until_value = bindparam("until", type_=at.type)
            stmt = stmt.where(at < until_value, link.sort_at < until_value)
        if after:
            stmt = stmt.where(
                tuple_(link.sort_at, link.announcement_id)
                < tuple_(bindparam("after_at", type_=link.sort_at.type), bindparam("after_id"))
            )
        stmt = stmt.order_by(link.sort_at.desc(), link.announcement_id.desc()).limit(bindparam("limit"))
        prepared = _SERVICE_PAGES[key] = Prepared(stmt)
    return prepared


def get_announcement(session: Reader, id_or_key: int | str) -> AnnouncementRecord | None:
    """One announcement by id (int) or stable key (str); None for an id no row can have."""
    if isinstance(id_or_key, int) and not isinstance(id_or_key, bool):
        if not 1 <= id_or_key <= MAX_ROW_ID:
            return None  # PostgreSQL would refuse the comparison ("integer out of range")
        where = ANNOUNCEMENTS.c.id == id_or_key
    else:
        where = ANNOUNCEMENTS.c.key == str(id_or_key)
    found = _records(session, select(ANNOUNCEMENTS.c.id).where(where))
    return found[0] if found else None


def list_services(session: Reader, *, with_counts: bool = True) -> list[ServiceCount]:
    """Every service with its announcement count, most announced first, then by name.

    With ``with_counts=False`` the counts are not computed (0) and the list is by name.
    """
    counts: dict[int, int] = {}
    if with_counts:
        counts = {
            sid: n
            for sid, n in session.execute(
                select(ANNOUNCEMENT_SERVICES.c.service_id, func.count()).group_by(ANNOUNCEMENT_SERVICES.c.service_id)
            )
        }
    rows = session.execute(select(SERVICES.c.id, SERVICES.c.slug, SERVICES.c.name, SERVICES.c.category)).all()
    aliases = _aliases(session, [r.id for r in rows])
    result = [
        ServiceCount(
            Service(slug=r.slug, name=r.name, aliases=aliases.get(r.id, ()), category=r.category), counts.get(r.id, 0)
        )
        for r in rows
    ]
    result.sort(key=lambda item: (-item.announcements, item.service.name.lower(), item.service.slug))
    return result


def list_events(session: Reader) -> list[EventCount]:
    """Every event with its number of announcements, by slug."""
    counts = {
        event_id: n
        for event_id, n in session.execute(
            select(ANNOUNCEMENTS.c.event_id, func.count())
            .where(ANNOUNCEMENTS.c.event_id.is_not(None))
            .group_by(ANNOUNCEMENTS.c.event_id)
        )
    }
    rows = sorted(session.execute(select(EVENTS.c.id, EVENTS.c.slug, EVENTS.c.name)), key=lambda r: r.slug)
    return [EventCount(r.slug, r.name, int(counts.get(r.id, 0))) for r in rows]


def list_sessions(session: Reader, *, event: str | Resolved | None = None) -> list[SessionRecord]:
    """Stored sessions, optionally of one event (any name `tracker.store.names` resolves), by event, code and title."""
    stmt = select(*SESSIONS.c, EVENTS.c.name.label("event_name"), EVENTS.c.slug.label("event_slug")).outerjoin(
        EVENTS, EVENTS.c.id == SESSIONS.c.event_id
    )
    if event:
        ids = _event_ids(session, event)
        if not ids:
            return []
        stmt = stmt.where(SESSIONS.c.event_id.in_(ids))
    records = [_session_record(r) for r in session.execute(stmt)]
    records.sort(key=lambda r: (r.event_slug is None, r.event_slug or "", r.code is None, r.code or "", r.title, r.id))
    return records


def announcements_without_services(session: Reader) -> list[AnnouncementRecord]:
    """Announcements that no service matched (to improve the taxonomy)."""
    stmt = (
        select(ANNOUNCEMENTS.c.id)
        .where(~ANNOUNCEMENTS.c.id.in_(select(ANNOUNCEMENT_SERVICES.c.announcement_id)))
        .order_by(*_ordering("desc"))
    )
    return _records(session, stmt)
