"""SQLAlchemy 2.0 typed models: sources, documents, announcements, services, sessions and their links.

The classes end in ``Row`` so they never shadow the dataclasses of `tracker.items`,
which are what the rest of the program sees: the store's domain modules convert between the two.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tracker.store.types import UNDATED as UNDATED
from tracker.store.types import UTCDateTime as UTCDateTime

log = logging.getLogger(__name__)

# Named constraints make migrations reproducible: Alembic can drop or alter a constraint
# only by name, and SQLite batch mode needs every constraint named.
NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


class SourceRow(Base):
    """A configured source and the state of its last fetches."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(50))
    url: Mapped[str] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_status: Mapped[str | None] = mapped_column(String(50))
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_kind: Mapped[str | None] = mapped_column(String(50))
    last_success_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class RobotsRow(Base):
    """The last robots.txt of an origin, kept so the next run can ask for it conditionally."""

    __tablename__ = "robots"

    origin: Mapped[str] = mapped_column(String(300), primary_key=True)  # scheme://host[:port]
    body: Mapped[bytes] = mapped_column(LargeBinary)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(String(100))
    fetched_at: Mapped[datetime]


class DocumentRow(Base):
    """One fetched post, page or feed item."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    url: Mapped[str] = mapped_column(String(2048), unique=True)
    title: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(500))
    published_at: Mapped[datetime | None]
    content_hash: Mapped[str] = mapped_column(String(64))
    extractor_version: Mapped[str] = mapped_column(String(100))
    archive_sha: Mapped[str | None] = mapped_column(String(64))
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    fetched_at: Mapped[datetime]

    source: Mapped[SourceRow | None] = relationship()


class ServiceAliasRow(Base):
    """One spelling of a service's name."""

    __tablename__ = "service_aliases"
    __table_args__ = (UniqueConstraint("service_id", "alias"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(300))


class ServiceRow(Base):
    """A canonical AWS service."""

    __tablename__ = "services"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(200))

    aliases: Mapped[list[ServiceAliasRow]] = relationship(
        cascade="all, delete-orphan", order_by=ServiceAliasRow.id, passive_deletes=True
    )


class EventRow(Base):
    """A conference, e.g. AWS re:Invent 2023."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))
    year: Mapped[int | None] = mapped_column(Integer)
    starts_on: Mapped[date | None] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)


class AnnouncementServiceRow(Base):
    """Announcement ↔ service (many-to-many), with the announcement's date as its sort key.

    `sort_at` copies `AnnouncementRow.announced_at` (or `UNDATED`) so that a service's
    newest announcements are read in index order, (service_id, sort_at, announcement_id),
    without sorting all of them: `tracker.store.announcements` keeps it in step.
    """

    __tablename__ = "announcement_services"
    __table_args__ = (Index("ix_announcement_services_by_date", "service_id", "sort_at", "announcement_id"),)

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True)
    service_id: Mapped[int] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), primary_key=True)
    sort_at: Mapped[datetime]


class RegionRow(Base):
    """An AWS partition or Region a launch is about ("AWS GovCloud (US)"): filterable, not a service."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(300))


class AnnouncementRegionRow(Base):
    """Announcement ↔ region (many-to-many)."""

    __tablename__ = "announcement_regions"
    __table_args__ = (Index("ix_announcement_regions_region", "region_id", "announcement_id"),)

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id", ondelete="CASCADE"), primary_key=True)


class MentionRow(Base):
    """An announcement seen in one document."""

    __tablename__ = "mentions"
    __table_args__ = (UniqueConstraint("announcement_id", "document_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    excerpt: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    rule: Mapped[str] = mapped_column(String(200), default="")

    document: Mapped[DocumentRow] = relationship()


class SessionRow(Base):
    """A talk at an event."""

    __tablename__ = "sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Computed by `tracker.store.sessions` (code, else video, else title): the get-or-create key.
    natural_key: Mapped[str] = mapped_column(String(600), unique=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"), index=True)
    code: Mapped[str | None] = mapped_column(String(50), index=True)
    title: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(50))
    speakers: Mapped[list[str]] = mapped_column(JSON, default=list)
    level: Mapped[str | None] = mapped_column(String(100))
    track: Mapped[str | None] = mapped_column(String(300))
    video_url: Mapped[str | None] = mapped_column(Text)
    abstract: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None]
    # The store's revision (`tracker.store.changes`) at which it was stored or what linking reads
    # of it (title, code, kind, event) last changed: linking across documents reads again only
    # the announcements of the events whose sessions changed.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)

    event: Mapped[EventRow | None] = relationship()


class AnnouncementSessionRow(Base):
    """Announcement ↔ session link, with how it was found."""

    __tablename__ = "announcement_sessions"

    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcements.id", ondelete="CASCADE"), primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True, index=True)
    method: Mapped[str] = mapped_column(String(50))
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")

    session: Mapped[SessionRow] = relationship()


class AnnouncementRow(Base):
    """The normalised announcement."""

    __tablename__ = "announcements"
    # An event's newest announcements in index order (the event's feed and `--event` queries).
    __table_args__ = (Index("ix_announcements_by_event_date", "event_id", "announced_at", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(512), unique=True)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str | None] = mapped_column(Text)
    announced_at: Mapped[datetime | None] = mapped_column(index=True)
    # Where announced_at comes from (tracker.normalize.dating): item, document:<how>, keynote, event.
    announced_at_source: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str | None] = mapped_column(String(20))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="SET NULL"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Hash of the published fields: "updated" means this changed.
    content_hash: Mapped[str] = mapped_column(String(64))
    # "s12 s40 r3": the ids of its services and regions, for the full-text index to hold the
    # filters (tracker.store.search). Kept by database triggers on the link tables
    # (migration 0010_search_index): never written from Python.
    search_facets: Mapped[str | None] = mapped_column(Text)
    # The store's revision (`tracker.store.changes`) at which what the feeds show of it last
    # changed: its fields, services, sessions, mentions, or the names of those. Publishing reads
    # only the announcements above the revision it last published.
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)

    event: Mapped[EventRow | None] = relationship()
    # Read-only: `tracker.store.announcements` writes `AnnouncementServiceRow` rows itself, with their sort key.
    services: Mapped[list[ServiceRow]] = relationship(
        secondary="announcement_services", order_by=ServiceRow.id, viewonly=True
    )
    mentions: Mapped[list[MentionRow]] = relationship(
        order_by=MentionRow.id, cascade="all, delete-orphan", passive_deletes=True
    )
    session_links: Mapped[list[AnnouncementSessionRow]] = relationship(
        order_by=(AnnouncementSessionRow.score.desc(), AnnouncementSessionRow.session_id),
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class RunRow(Base):
    """One pipeline run."""

    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20))
    counts: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    outcomes: Mapped[dict[str, dict[str, object]]] = mapped_column(JSON, default=dict)
    # Why the run ended before finishing its work (disk full, a signal, a crash); URLs masked.
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The cron time a scheduled run is for (NULL: started by hand); one finished run per slot.
    slot: Mapped[datetime | None] = mapped_column(nullable=True, index=True)


class StoreRevisionRow(Base):
    """The store's revision counter: one row, bumped once by each transaction that changes what a feed shows."""

    __tablename__ = "store_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[int] = mapped_column(Integer)


class LinkStateRow(Base):
    """Up to which store revision, and with which settings, links across documents were made (one row)."""

    __tablename__ = "link_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    settings: Mapped[str] = mapped_column(String(64))  # threshold, taxonomy, matcher


class PublishStateRow(Base):
    """What the last publish to a folder was: where, from which store revision, with which settings.

    One row. `token` and `revision` are also written beside the feeds (`tracker.publish.writer`):
    feeds and state that do not match (a folder emptied or restored, another folder, a database
    restored from a backup) make the next publish a full one.
    """

    __tablename__ = "publish_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(Text)
    token: Mapped[str] = mapped_column(String(64))
    revision: Mapped[int] = mapped_column(Integer)
    settings: Mapped[str] = mapped_column(String(64))  # digest of what every file is rendered with
    published_at: Mapped[datetime]


class PublishedFeedRow(Base):
    """A feed the last publish wrote: its spec, its number of entries and its newest `updated`."""

    __tablename__ = "published_feeds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(600), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    slug: Mapped[str | None] = mapped_column(String(200))
    event_slug: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(200))
    entries: Mapped[int] = mapped_column(Integer)
    updated: Mapped[datetime]


# Entry keys compare as Python compares str (code points): SQLite's BINARY collation does,
# PostgreSQL's "C" collation does; a language collation would order "bench:10" elsewhere.
_ENTRY_KEY = String(512).with_variant(String(512, collation="C"), "postgresql")


class PublishedEntryRow(Base):
    """One entry of a published feed, at its place in the feed's order.

    The primary key is the feed's order, newest first: `order_ts` is minus the entry's
    published time in Unix seconds (`UNDATED_ORDER` when it has none), then the key, as
    `tracker.publish.feeds.sort_records` orders. An announcement deleted from the store keeps
    its rows with `announcement_id` NULL, so the next publish knows where it was.
    """

    __tablename__ = "published_entries"
    __table_args__ = {"sqlite_with_rowid": False}

    feed_id: Mapped[int] = mapped_column(ForeignKey("published_feeds.id", ondelete="CASCADE"), primary_key=True)
    order_ts: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(_ENTRY_KEY, primary_key=True)
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcements.id", ondelete="SET NULL"), nullable=True, index=True
    )
