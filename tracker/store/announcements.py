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

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, selectinload

from tracker.items import AnnouncementRecord, NormalizedAnnouncement, Service
from tracker.normalize.dedupe import Known
from tracker.normalize.text import public_url
from tracker.redact import strip_controls
from tracker.store._common import _set
from tracker.store.models import (
    UNDATED,
    AnnouncementRegionRow,
    AnnouncementRow,
    AnnouncementServiceRow,
    EventRow,
    MentionRow,
    RegionRow,
    ServiceAliasRow,
    ServiceRow,
)
from tracker.store.queries import _records, _unique, _utc

log = logging.getLogger(__name__)


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


@dataclass(frozen=True, slots=True)
class UpsertedAnnouncement:
    """A stored announcement's id and what storing it did."""

    id: int
    status: str  # "created", "updated" (merged into the stored one with changes) or "unchanged"


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
        return UpsertedAnnouncement(row.id, "created")

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
        return UpsertedAnnouncement(row.id, "unchanged")
    row.content_hash = digest
    row.updated_at = now
    session.flush()
    return UpsertedAnnouncement(row.id, "updated")


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
) -> list[Known]:
    """Stored announcements sharing a service, dated within `days` of `around` (or undated), newest first."""
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
    return [Known(r[1], r[2], frozenset(slugs_of[r[0]]), _utc(r[3]), r[4]) for r in rows]


@dataclass(frozen=True, slots=True)
class StoredDateAndEvent:
    """The date and event of a stored announcement: whether a new one under its key is another launch."""

    announced_at: datetime | None
    event: str | None  # the event's display name


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
