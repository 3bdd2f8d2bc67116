"""Repository functions: every read and write the other stages make, `session` first.

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

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, selectinload

from tracker.items import (
    AnnouncementRecord,
    ConferenceSession,
    Link,
    LinkMethod,
    NormalizedAnnouncement,
    RunStatus,
    Service,
    SessionKind,
    SourceStatus,
)
from tracker.normalize.text import public_url
from tracker.redact import mask_text, strip_controls
from tracker.store.models import (
    UNDATED,
    AnnouncementRegionRow,
    AnnouncementRow,
    AnnouncementServiceRow,
    AnnouncementSessionRow,
    DocumentRow,
    EventRow,
    MentionRow,
    RegionRow,
    RobotsRow,
    RunRow,
    ServiceAliasRow,
    ServiceRow,
    SessionRow,
    SourceRow,
)
from tracker.store.queries import MAX_ROW_ID as MAX_ROW_ID
from tracker.store.queries import _records
from tracker.store.queries import _unique as _unique
from tracker.store.queries import _utc as _utc
from tracker.store.queries import announcements_per_month as announcements_per_month
from tracker.store.queries import announcements_without_services as announcements_without_services
from tracker.store.queries import get_announcement as get_announcement
from tracker.store.queries import last_runs as last_runs
from tracker.store.queries import list_events as list_events
from tracker.store.queries import list_services as list_services
from tracker.store.queries import list_sessions as list_sessions
from tracker.store.queries import list_source_states as list_source_states
from tracker.store.queries import masked_outcomes as _masked_outcomes
from tracker.store.queries import query_announcements as query_announcements
from tracker.textutil import slugify as slugify  # one definition for every stage

log = logging.getLogger(__name__)

T = TypeVar("T")

NATURAL_KEY_MAX = 600  # the width of sessions.natural_key
GENERIC_SESSION_KIND = SessionKind.SESSION

# URL prefixes of primary sources: the page that itself announces a launch.
PRIMARY_URL_PREFIXES: tuple[str, ...] = (
    "aws.amazon.com/about-aws/whats-new/",
    "aws.amazon.com/new/",
    "aws.amazon.com/blogs/",
)


# --------------------------------------------------------------------------- helpers


def _set(row: object, attr: str, value: Any) -> bool:
    """Assign only when different, so an unchanged row is never dirtied."""
    if getattr(row, attr) == value:
        return False
    setattr(row, attr, value)
    return True


def youtube_id(url: str) -> str | None:
    """The video id of a YouTube URL (watch, youtu.be, embed, shorts, live), else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    candidate: str | None = None
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
    elif host.endswith("youtube.com") or host == "youtube-nocookie.com":
        if parts.path == "/watch":
            values = parse_qs(parts.query).get("v")
            candidate = values[0] if values else None
        else:
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) >= 2 and segments[0] in {"embed", "shorts", "live", "v"}:
                candidate = segments[1]
    if candidate and re.fullmatch(r"[A-Za-z0-9_-]{6,20}", candidate):
        return candidate
    return None


def _bounded(key: str) -> str:
    if len(key) <= NATURAL_KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: NATURAL_KEY_MAX - len(digest) - 1]}#{digest}"


def session_natural_key(s: ConferenceSession, event_slug: str | None) -> str:
    """The get-or-create key of a session: code, else video, else title (within its event)."""
    event = event_slug or "-"
    if s.code and s.code.strip():
        return _bounded(f"code:{event}:{s.code.strip().upper()}")
    if s.url and s.url.strip():
        return _bounded(f"video:{youtube_id(s.url) or s.url.strip()}")
    title_slug = slugify(s.title) or hashlib.sha256(s.title.encode()).hexdigest()[:16]
    return _bounded(f"title:{event}:{title_slug}")


def _legacy_session_key(s: ConferenceSession, event_slug: str | None) -> str | None:
    """The title key this session had before slugs joined a word's inner apostrophe or colon, if different.

    Keys written then ("title:e:what-s-new-in-re-invent") are still in existing databases: an
    upsert finds the row under its old key and moves it to the new one, so nothing is stored twice.
    """
    if (s.code and s.code.strip()) or (s.url and s.url.strip()):
        return None
    old_slug = slugify(re.sub(r"['’:]", " ", s.title))
    if not old_slug or old_slug == slugify(s.title):
        return None
    return _bounded(f"title:{event_slug or '-'}:{old_slug}")


def url_rank(url: str | None) -> int:
    """How authoritative a URL is for an announcement: 2 primary source, 1 any page, 0 none."""
    if not url:
        return 0
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().removeprefix("www.")
    where = f"{host}{parts.path}"
    return 2 if where.startswith(PRIMARY_URL_PREFIXES) else 1


# --------------------------------------------------------------------------- sources


def _source(session: Session, name: str) -> SourceRow | None:
    return session.scalar(select(SourceRow).where(SourceRow.name == name))


def _source_or_placeholder(session: Session, name: str) -> SourceRow:
    row = _source(session, name)
    if row is None:
        # Callers register sources first; a placeholder keeps a stray call from failing a run.
        log.warning("source %r was not registered; recording it with an unknown kind", name)
        row = SourceRow(name=name, kind="unknown", url="", consecutive_failures=0)
        session.add(row)
        session.flush()
    return row


def get_or_create_source(session: Session, name: str, *, kind: str, url: str) -> int:
    """The id of the named source, created or updated to the given kind and URL."""
    row = _source(session, name)
    if row is None:
        row = SourceRow(name=name, kind=kind, url=url, consecutive_failures=0)
        session.add(row)
        session.flush()
        return row.id
    _set(row, "kind", kind)
    _set(row, "url", url)
    return row.id


def source_cache(session: Session, name: str) -> tuple[str | None, str | None]:
    """The ETag and Last-Modified saved for a source's conditional GET."""
    row = session.execute(select(SourceRow.etag, SourceRow.last_modified).where(SourceRow.name == name)).first()
    return (row[0], row[1]) if row else (None, None)


def record_fetch_success(
    session: Session,
    name: str,
    *,
    at: datetime,
    etag: str | None,
    last_modified: str | None,
    status: str = SourceStatus.OK,
) -> None:
    """Record a successful fetch (or a 304) and reset the failure count."""
    row = _source_or_placeholder(session, name)
    if status == SourceStatus.NOT_MODIFIED:
        # A 304 need not repeat the validators: keep the ones that produced it.
        etag = etag or row.etag
        last_modified = last_modified or row.last_modified
    _set(row, "etag", etag)
    _set(row, "last_modified", last_modified)
    _set(row, "last_status", status)
    _set(row, "last_error", None)
    _set(row, "last_error_kind", None)
    _set(row, "last_success_at", _utc(at))
    _set(row, "last_attempt_at", _utc(at))
    _set(row, "consecutive_failures", 0)


def record_fetch_failure(session: Session, name: str, *, at: datetime, kind: str, message: str) -> None:
    """Record a failed fetch and count it."""
    row = _source_or_placeholder(session, name)
    row.last_status = SourceStatus.FAILED
    # Shown by `tracker status` and the logs: no credentials, no terminal controls.
    row.last_error = mask_text(strip_controls(message))
    row.last_error_kind = kind
    row.last_attempt_at = _utc(at)
    row.consecutive_failures = (row.consecutive_failures or 0) + 1


def load_robots(session: Session, origin: str) -> tuple[bytes, str | None, str | None] | None:
    """The stored robots.txt of an origin: (body, ETag, Last-Modified), or None."""
    row = session.get(RobotsRow, origin)
    return None if row is None else (row.body, row.etag, row.last_modified)


def save_robots(
    session: Session, origin: str, body: bytes, *, etag: str | None, last_modified: str | None, at: datetime
) -> None:
    """Keep an origin's robots.txt with its validators (one row per origin)."""
    row = session.get(RobotsRow, origin)
    if row is None:
        session.add(RobotsRow(origin=origin, body=body, etag=etag, last_modified=last_modified, fetched_at=_utc(at)))
        return
    _set(row, "body", body)
    _set(row, "etag", etag)
    _set(row, "last_modified", last_modified)
    _set(row, "fetched_at", _utc(at))


# --------------------------------------------------------------------------- services and events


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
    rows = {r.slug: r for r in session.scalars(select(ServiceRow).options(selectinload(ServiceRow.aliases)))}
    added = 0
    # Partitions and Regions are stored as regions (`_link_regions`), never as services.
    for svc in (s for s in services if not s.region):
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


def _service_rows(session: Session, services: Sequence[Service]) -> list[ServiceRow]:
    """Rows for the given services by slug; unknown slugs are created from the Service."""
    slugs = _unique(s.slug for s in services)
    if not slugs:
        return []
    found = {r.slug: r for r in session.scalars(select(ServiceRow).where(ServiceRow.slug.in_(slugs)))}
    for svc in services:
        if svc.slug not in found:
            row = _new_service(svc)
            session.add(row)
            found[svc.slug] = row
    return [found[slug] for slug in slugs]


def _link_regions(session: Session, announcement_id: int, regions: Sequence[Service]) -> None:
    """Tie an announcement to its partitions and Regions (get-or-create by slug); links are only added."""
    slugs = _unique(r.slug for r in regions)
    if not slugs:
        return
    found = {r.slug: r for r in session.scalars(select(RegionRow).where(RegionRow.slug.in_(slugs)))}
    for region in regions:
        if region.slug not in found:
            row = RegionRow(slug=region.slug, name=region.name)
            session.add(row)
            found[region.slug] = row
    session.flush()
    linked = set(
        session.scalars(
            select(AnnouncementRegionRow.region_id).where(AnnouncementRegionRow.announcement_id == announcement_id)
        )
    )
    session.add_all(
        AnnouncementRegionRow(announcement_id=announcement_id, region_id=found[slug].id)
        for slug in slugs
        if found[slug].id not in linked
    )


def get_or_create_event(session: Session, slug: str, name: str, year: int | None = None) -> int:
    """The id of the event with this slug, created when new."""
    row = session.scalar(select(EventRow).where(EventRow.slug == slug))
    if row is None:
        row = EventRow(slug=slug, name=name, year=year)
        session.add(row)
        session.flush()
        return row.id
    if name:
        _set(row, "name", name)
    if year is not None:
        _set(row, "year", year)
    return row.id


def declare_event(
    session: Session,
    slug: str,
    name: str,
    year: int | None = None,
    *,
    starts_on: date | None = None,
    ends_on: date | None = None,
) -> int:
    """Get-or-create an event declared in configuration, setting its days."""
    event_id = get_or_create_event(session, slug, name, year)
    row = session.get(EventRow, event_id)
    if row is not None:
        _set(row, "starts_on", starts_on)
        _set(row, "ends_on", ends_on)
    return event_id


# --------------------------------------------------------------------------- documents


def upsert_document(
    session: Session,
    *,
    url: str,
    title: str,
    author: str | None,
    published_at: datetime | None,
    content_hash: str,
    extractor_version: str,
    archive_sha: str | None,
    source_name: str | None,
    kind: str,
    fetched_at: datetime,
) -> tuple[int, bool]:
    """Insert or refresh a document by URL; changed = new, or its content or extractor differ."""
    row = session.scalar(select(DocumentRow).where(DocumentRow.url == url))

    def source_id() -> int | None:
        # Looked up only when written: an unchanged document costs one query, not two.
        return _source_or_placeholder(session, source_name).id if source_name else None

    title = strip_controls(title or "")
    author = strip_controls(author) if author else author
    if row is None:
        row = DocumentRow(
            url=url,
            title=title or "",
            author=author,
            published_at=_utc(published_at),
            content_hash=content_hash,
            extractor_version=extractor_version,
            archive_sha=archive_sha,
            source_id=source_id(),
            kind=kind,
            fetched_at=_utc(fetched_at),
        )
        session.add(row)
        session.flush()
        return row.id, True
    if row.content_hash == content_hash and row.extractor_version == extractor_version:
        # Nothing new: leave the row (and its fetched_at) alone so a re-run writes nothing.
        return row.id, False
    _set(row, "title", title or "")
    _set(row, "author", author)
    _set(row, "published_at", _utc(published_at))
    _set(row, "content_hash", content_hash)
    _set(row, "extractor_version", extractor_version)
    if archive_sha:
        _set(row, "archive_sha", archive_sha)
    if row.source_id is None:
        row.source_id = source_id()
    _set(row, "kind", kind)
    _set(row, "fetched_at", _utc(fetched_at))
    return row.id, True


def document_states(session: Session) -> dict[str, tuple[str, str]]:
    """Every stored document's URL -> (content hash, extractor version), in one query."""
    return {
        url: (content_hash, version)
        for url, content_hash, version in session.execute(
            select(DocumentRow.url, DocumentRow.content_hash, DocumentRow.extractor_version)
        )
    }


def document_is_current(session: Session, url: str, content_hash: str, extractor_version: str) -> bool:
    """Whether a document is stored with this content hash and extractor version."""
    row = session.execute(
        select(DocumentRow.content_hash, DocumentRow.extractor_version).where(DocumentRow.url == url)
    ).first()
    return row is not None and row[0] == content_hash and row[1] == extractor_version


# --------------------------------------------------------------------------- announcements


def _published_hash(row: AnnouncementRow, service_slugs: Iterable[str]) -> str:
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


def upsert_announcement(
    session: Session,
    na: NormalizedAnnouncement,
    *,
    now: datetime,
    event_id: int | None,
    document_url: str | None = None,
) -> tuple[int, str]:
    """Get-or-create by key and merge (see the module docstring); returns (id, created|updated|unchanged).

    `document_url` is the URL of the mentioning document (None: the mention is taken as
    coming from the document at the announcement's own URL).
    """
    ann = na.announcement
    title = strip_controls(ann.title or "")
    summary = strip_controls(ann.summary or "")
    # Only a public http(s) link is stored: never javascript:, data:, a local path or credentials.
    url = na.url if na.url is not None else public_url(ann.url)
    announced_at = _utc(na.announced_at or ann.published_at)
    status = ann.status
    services = _service_rows(session, na.services)
    now = _utc(now) or datetime.now(UTC)

    row = session.scalar(select(AnnouncementRow).where(AnnouncementRow.key == na.key))
    if row is None:
        row = AnnouncementRow(
            key=na.key,
            title=title,
            summary=summary,
            url=url,
            announced_at=announced_at,
            announced_at_source=na.date_source if announced_at is not None else None,
            status=status,
            event_id=event_id,
            created_at=now,
            updated_at=now,
            content_hash="",
        )
        row.content_hash = _published_hash(row, (s.slug for s in services))
        session.add(row)
        session.flush()
        _link_services(session, row.id, [s.id for s in services], announced_at)
        _link_regions(session, row.id, na.regions)
        return row.id, "created"

    same_owner = url is not None and url == row.url and document_url in (None, url)
    takes_over = url_rank(url) > url_rank(row.url)
    if same_owner or takes_over:
        if title:
            _set(row, "title", title)
        if summary:
            _set(row, "summary", summary)
        if status:
            _set(row, "status", status)
        if takes_over:
            _set(row, "url", url)
    else:
        if not row.title and title:
            row.title = title
        if not row.summary and summary:
            row.summary = summary
        if row.status is None and status:
            row.status = status
        if row.url is None and url:
            row.url = url
    if announced_at is not None and (row.announced_at is None or announced_at < row.announced_at):
        row.announced_at = announced_at
        row.announced_at_source = na.date_source
        session.execute(
            update(AnnouncementServiceRow)
            .where(AnnouncementServiceRow.announcement_id == row.id)
            .values(sort_at=announced_at)
        )
    if row.event_id is None and event_id is not None:
        row.event_id = event_id
    linked = {
        slug: sid
        for slug, sid in session.execute(
            select(ServiceRow.slug, ServiceRow.id)
            .join(AnnouncementServiceRow, AnnouncementServiceRow.service_id == ServiceRow.id)
            .where(AnnouncementServiceRow.announcement_id == row.id)
        )
    }
    _link_services(session, row.id, [s.id for s in services if s.slug not in linked], row.announced_at)
    _link_regions(session, row.id, na.regions)
    have = set(linked) | {s.slug for s in services}

    digest = _published_hash(row, have)
    if digest == row.content_hash:
        return row.id, "unchanged"
    row.content_hash = digest
    row.updated_at = now
    session.flush()
    return row.id, "updated"


def _link_services(
    session: Session, announcement_id: int, service_ids: Iterable[int], announced_at: datetime | None
) -> None:
    """Tie an announcement to services, with its date as the sort key of each link."""
    sort_at = _utc(announced_at) or UNDATED
    session.add_all(
        AnnouncementServiceRow(announcement_id=announcement_id, service_id=sid, sort_at=sort_at)
        for sid in _unique(service_ids)
    )


def dedupe_candidates(
    session: Session, service_slugs: Iterable[str], *, around: datetime | None, days: int, limit: int = 500
) -> list[tuple[str, str, frozenset[str], datetime | None, str | None]]:
    """Stored announcements sharing a service, dated within `days` of `around` (or undated):
    (key, title, service slugs, announced_at, event name), newest first."""
    slugs = sorted(set(service_slugs))
    if not slugs:
        return []
    ids = (
        select(AnnouncementServiceRow.announcement_id)
        .join(ServiceRow, ServiceRow.id == AnnouncementServiceRow.service_id)
        .where(ServiceRow.slug.in_(slugs))
    )
    # Plain rows, not ORM objects: this runs for every new announcement of a backfill.
    query = (
        select(
            AnnouncementRow.id, AnnouncementRow.key, AnnouncementRow.title, AnnouncementRow.announced_at, EventRow.name
        )
        .outerjoin(EventRow, EventRow.id == AnnouncementRow.event_id)
        .where(AnnouncementRow.id.in_(ids))
    )
    around = _utc(around)
    if around is not None:
        window = timedelta(days=days)
        query = query.where(
            or_(
                AnnouncementRow.announced_at.is_(None),
                AnnouncementRow.announced_at.between(around - window, around + window),
            )
        )
    query = query.order_by(AnnouncementRow.announced_at.desc(), AnnouncementRow.id.desc()).limit(limit)
    rows = session.execute(query).all()
    if not rows:
        return []
    slugs_of: dict[int, set[str]] = {r[0]: set() for r in rows}
    ann_ids = list(slugs_of)
    for start in range(0, len(ann_ids), 500):
        for ann_id, slug in session.execute(
            select(AnnouncementServiceRow.announcement_id, ServiceRow.slug)
            .join(ServiceRow, ServiceRow.id == AnnouncementServiceRow.service_id)
            .where(AnnouncementServiceRow.announcement_id.in_(ann_ids[start : start + 500]))
        ):
            slugs_of[ann_id].add(slug)
    return [(r[1], r[2], frozenset(slugs_of[r[0]]), _utc(r[3]), r[4]) for r in rows]


def stored_date_and_event(session: Session, key: str) -> tuple[datetime | None, str | None] | None:
    """The date and event name of the stored announcement with this key, if there is one."""
    row = session.execute(
        select(AnnouncementRow.announced_at, EventRow.name)
        .outerjoin(EventRow, EventRow.id == AnnouncementRow.event_id)
        .where(AnnouncementRow.key == key)
    ).first()
    return None if row is None else (_utc(row[0]), row[1])


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
    mention yet and the look-up is skipped (one query less per launch in a backfill).
    """
    excerpt = strip_controls(excerpt)
    row = (
        None
        if new_announcement
        else session.scalar(
            select(MentionRow).where(
                MentionRow.announcement_id == announcement_id, MentionRow.document_id == document_id
            )
        )
    )
    if row is None:
        session.add(
            MentionRow(
                announcement_id=announcement_id, document_id=document_id, excerpt=excerpt, position=position, rule=rule
            )
        )
        session.flush()
        return True
    # The document was re-extracted: keep the mention current without counting it as new.
    _set(row, "excerpt", excerpt)
    _set(row, "position", position)
    _set(row, "rule", rule)
    return False


# --------------------------------------------------------------------------- sessions and links


def _find_session(session: Session, s: ConferenceSession, key: str, event_id: int | None) -> SessionRow | None:
    row = session.scalar(select(SessionRow).where(SessionRow.natural_key == key))
    if row is not None:
        return row
    code = s.code.strip().upper() if s.code and s.code.strip() else None
    same_event = SessionRow.event_id.is_(None) if event_id is None else SessionRow.event_id == event_id
    if code:
        # A row first stored under its video or title and given its code later.
        row = session.scalar(select(SessionRow).where(SessionRow.code == code, same_event).order_by(SessionRow.id))
        if row is not None:
            return row
    video = public_url(s.url)
    if video:
        for candidate in session.scalars(
            select(SessionRow).where(SessionRow.video_url == video).order_by(SessionRow.id)
        ):
            # The same video under another code is another session (e.g. a different event).
            if code is None or candidate.code in (None, code):
                return candidate
    return None


def upsert_session(session: Session, s: ConferenceSession, *, event_id: int | None, event_slug: str | None) -> int:
    """Get-or-create a session by its natural key; later sources only fill empty fields."""
    key = session_natural_key(s, event_slug)
    code = s.code.strip().upper() if s.code and s.code.strip() else None
    # Only a public http(s) link is stored (never javascript: or data:); text without controls.
    video = public_url(s.url)
    s = replace(
        s,
        title=strip_controls(s.title),
        speakers=tuple(strip_controls(x) for x in s.speakers),
        level=strip_controls(s.level) if s.level else s.level,
        track=strip_controls(s.track) if s.track else s.track,
        abstract=strip_controls(s.abstract) if s.abstract else s.abstract,
    )
    row = _find_session(session, s, key, event_id)
    legacy = _legacy_session_key(s, event_slug) if row is None else None
    if legacy is not None:
        row = session.scalar(select(SessionRow).where(SessionRow.natural_key == legacy))
        if row is not None:
            row.natural_key = key  # moved to today's key: found by it from now on
    if row is None:
        row = SessionRow(
            natural_key=key,
            event_id=event_id,
            code=code,
            title=s.title,
            kind=s.kind or GENERIC_SESSION_KIND,
            speakers=list(s.speakers),
            level=s.level,
            track=s.track,
            video_url=video,
            abstract=s.abstract,
            published_at=_utc(s.published_at),
        )
        session.add(row)
        session.flush()
        return row.id
    if not row.title and s.title:
        row.title = s.title
    if row.kind == GENERIC_SESSION_KIND and s.kind and s.kind != GENERIC_SESSION_KIND:
        row.kind = s.kind
    if not row.speakers and s.speakers:
        row.speakers = list(s.speakers)
    for attr, value in (
        ("event_id", event_id),
        ("code", code),
        ("level", s.level),
        ("track", s.track),
        ("video_url", video),
        ("abstract", s.abstract),
        ("published_at", _utc(s.published_at)),
    ):
        if getattr(row, attr) is None and value is not None:
            setattr(row, attr, value)
    return row.id


def link_session(session: Session, announcement_id: int, session_id: int, link: Link) -> bool:
    """Insert or update an announcement ↔ session link; True when something changed.

    An existing link is replaced by the same method's new verdict or by a higher score,
    never by a weaker link of another method (a title match does not undo a structural link).
    """
    row = session.get(AnnouncementSessionRow, (announcement_id, session_id))
    if row is None:
        session.add(
            AnnouncementSessionRow(
                announcement_id=announcement_id,
                session_id=session_id,
                method=link.method,
                score=float(link.score),
                reason=link.reason,
            )
        )
        session.flush()
        return True
    if row.method != link.method and float(link.score) <= row.score:
        return False
    changed = _set(row, "method", link.method)
    changed |= _set(row, "score", float(link.score))
    changed |= _set(row, "reason", link.reason)
    return changed


# --------------------------------------------------------------------------- runs


def start_run(session: Session, *, at: datetime, slot: datetime | None = None) -> int:
    """Record the start of a run (of a scheduled slot, or by hand); returns its id."""
    row = RunRow(started_at=_utc(at), status=RunStatus.RUNNING, counts={}, outcomes={}, slot=_utc(slot))
    session.add(row)
    session.flush()
    return row.id


def finish_run(
    session: Session,
    run_id: int,
    *,
    at: datetime,
    status: str,
    counts: dict[str, int],
    outcomes: dict[str, dict[str, object]],
    error: str | None = None,
) -> None:
    """Record the end of a run with its counts, per-source outcomes and, when it ended early, why."""
    row = session.get(RunRow, run_id)
    if row is None:
        raise LookupError(f"no run with id {run_id}")
    row.finished_at = _utc(at)
    row.status = status
    # JSON columns: plain dicts only (a Counter or defaultdict would not compare equal on reload).
    row.counts = {str(k): int(v) for k, v in counts.items()}
    row.outcomes = json.loads(json.dumps(_masked_outcomes(outcomes), default=str))
    row.error = mask_text(strip_controls(error)) if error else None


def slot_done(session: Session, slot: datetime) -> bool:
    """Whether a run of this scheduled slot finished (ok or failed); an interrupted or abandoned one did not."""
    found = session.scalar(
        select(RunRow.id)
        .where(
            RunRow.slot == _utc(slot),
            RunRow.finished_at.is_not(None),
            RunRow.status.in_((RunStatus.OK, RunStatus.FAILED)),
        )
        .limit(1)
    )
    return found is not None


def abandon_slot_runs(session: Session, slot: datetime, *, at: datetime, reason: str) -> int:
    """Mark the slot's runs left "running" as "abandoned", with the reason; returns how many.

    Only for a caller holding the run lock: every run takes it, so a run of the slot still
    "running" then is one whose process died without recording its end (SIGKILL, power loss).
    """
    result = session.execute(
        update(RunRow)
        .where(RunRow.slot == _utc(slot), RunRow.finished_at.is_(None))
        .values(status=RunStatus.ABANDONED, finished_at=_utc(at), error=mask_text(reason))
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def previous_run(session: Session, run_id: int) -> tuple[str, dict[str, int], bool] | None:
    """(status, counts, finished) of the run recorded just before this one, or None."""
    row = session.scalars(select(RunRow).where(RunRow.id < run_id).order_by(RunRow.id.desc()).limit(1)).first()
    if row is None:
        return None
    return row.status, dict(row.counts or {}), row.finished_at is not None


# --------------------------------------------------------------------------- reads (more in tracker.store.queries)


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


def announcements_for_linking(
    session: Session, event_slug: str | None = None
) -> list[tuple[int, str, tuple[str, ...], str | None]]:
    """(id, title, service slugs, event slug) of every announcement, or of one event's."""
    stmt = (
        select(AnnouncementRow.id, AnnouncementRow.title, EventRow.slug)
        .outerjoin(EventRow, EventRow.id == AnnouncementRow.event_id)
        .order_by(AnnouncementRow.id)
    )
    if event_slug is not None:
        stmt = stmt.where(EventRow.slug == event_slug)
    rows = session.execute(stmt).all()
    slugs: dict[int, list[str]] = {}
    pairs = select(AnnouncementServiceRow.announcement_id, ServiceRow.slug).join(
        ServiceRow, ServiceRow.id == AnnouncementServiceRow.service_id
    )
    if event_slug is not None:
        pairs = pairs.where(
            AnnouncementServiceRow.announcement_id.in_(
                select(AnnouncementRow.id)
                .join(EventRow, EventRow.id == AnnouncementRow.event_id)
                .where(EventRow.slug == event_slug)
            )
        )
    for ann_id, slug in session.execute(pairs):
        slugs.setdefault(ann_id, []).append(slug)
    return [(r[0], r[1], tuple(sorted(slugs.get(r[0], ()))), r[2]) for r in rows]


def title_links_of_event(session: Session, event_slug: str, method: str = LinkMethod.TITLE) -> dict[int, set[int]]:
    """The stored links of one method from the announcements of an event: announcement id -> session ids."""
    rows = session.execute(
        select(AnnouncementSessionRow.announcement_id, AnnouncementSessionRow.session_id)
        .join(AnnouncementRow, AnnouncementRow.id == AnnouncementSessionRow.announcement_id)
        .join(EventRow, EventRow.id == AnnouncementRow.event_id)
        .where(EventRow.slug == event_slug, AnnouncementSessionRow.method == method)
    ).all()
    out: dict[int, set[int]] = {}
    for ann_id, sid in rows:
        out.setdefault(ann_id, set()).add(sid)
    return out


def unlink_session(session: Session, announcement_id: int, session_id: int) -> bool:
    """Remove an announcement ↔ session link; True when there was one."""
    row = session.get(AnnouncementSessionRow, (announcement_id, session_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def sessions_for_linking(session: Session) -> list[tuple[int, str, str | None, str | None, str]]:
    """(id, title, code, event slug, kind) of every session."""
    rows = session.execute(
        select(SessionRow.id, SessionRow.title, SessionRow.code, EventRow.slug, SessionRow.kind)
        .outerjoin(EventRow, EventRow.id == SessionRow.event_id)
        .order_by(SessionRow.id)
    ).all()
    return [(r[0], r[1], r[2], r[3], r[4]) for r in rows]


def archived_bodies(session: Session, sources: Sequence[str] | None = None) -> list[tuple[str, str, str, str, int]]:
    """(archive sha, source name, source kind, URL, documents) of every archived body, oldest first.

    One row per body and source, not per document: a feed's items share their feed's body,
    which is extracted once. The URL is the document's when the body holds one document
    (a page), else the source's (a feed).
    """
    stmt = (
        select(
            DocumentRow.archive_sha,
            SourceRow.name,
            SourceRow.kind,
            SourceRow.url,
            func.count(),
            func.min(DocumentRow.id),
            func.min(DocumentRow.url),
        )
        .join(SourceRow, SourceRow.id == DocumentRow.source_id)
        .where(DocumentRow.archive_sha.is_not(None))
        .group_by(DocumentRow.archive_sha, SourceRow.name, SourceRow.kind, SourceRow.url)
    )
    if sources:
        stmt = stmt.where(SourceRow.name.in_(list(sources)))
    rows = sorted(session.execute(stmt).all(), key=lambda r: r[5])
    return [(str(r[0]), r[1], r[2], r[6] if r[4] == 1 else (r[3] or r[6]), int(r[4])) for r in rows]


def announcements_created_since(session: Session, at: datetime) -> list[AnnouncementRecord]:
    """Announcements first stored at or after `at` (a run's new ones, for webhooks), oldest first."""
    stmt = (
        select(AnnouncementRow.id)
        .where(AnnouncementRow.created_at >= _utc(at))
        .order_by(AnnouncementRow.created_at.asc(), AnnouncementRow.id.asc())
    )
    return _records(session, stmt)
