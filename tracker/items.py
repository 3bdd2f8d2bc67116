"""Frozen dataclasses passed between the pipeline's stages.

Nothing here knows SQL, HTML or the network: extractors build these from text, the
normaliser enriches them, the store persists them and the publishers read them back.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

# --------------------------------------------------------------------------- kinds, statuses, provenance
# StrEnums: each member is its string, so stored values, JSON and comparisons with strings read
# back from the database are unchanged; the names are what the code compares against.


class DocumentKind(StrEnum):
    """What an extracted document is."""

    PAGE = "page"
    POST = "post"
    RECAP = "recap"
    FEED_ITEM = "feed-item"
    WHATS_NEW = "whats-new"
    SESSION_LISTING = "session-listing"


class SessionKind(StrEnum):
    """What a conference session is."""

    KEYNOTE = "keynote"
    BREAKOUT = "breakout"
    INNOVATION = "innovation"
    CHALK_TALK = "chalk-talk"
    WORKSHOP = "workshop"
    SESSION = "session"  # nothing more specific is known


class LinkMethod(StrEnum):
    """How an announcement was linked to a session."""

    STRUCTURAL = "structural"  # announced in the session's section of the document
    TITLE = "title"  # the session's title names the launch's service or words


class DateSource(StrEnum):
    """Where an announcement's date comes from (stored as announced_at_source)."""

    ITEM = "item"  # its own date (a feed item, a dated line)
    DOCUMENT = "document"  # stored as "document:<where the document's date was read>"
    HEADING = "heading"  # a dated heading above it, within the event's days
    KEYNOTE = "keynote"  # the day of the keynote that announced it
    EVENT = "event"  # the first day of the event it was announced at


class RunStatus(StrEnum):
    """How a run ended (the runs table)."""

    RUNNING = "running"  # not ended yet, or killed
    OK = "ok"
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # stopped by a signal between sources
    ABANDONED = "abandoned"  # its process died; another scheduler took its slot over


class SourceStatus(StrEnum):
    """What happened to one source in a run (a run's outcomes, sources.last_status)."""

    OK = "ok"
    NOT_MODIFIED = "not-modified"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


@dataclass(frozen=True, slots=True)
class RawDocument:
    """Bytes fetched from a source, exactly as received."""

    url: str
    body: bytes
    source: str = "local"
    content_type: str | None = None
    fetched_at: datetime | None = None
    etag: str | None = None
    last_modified: str | None = None
    not_modified: bool = False  # a 304: the source has not changed since the last fetch

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the body, the key under which it is archived."""
        return hashlib.sha256(self.body).hexdigest()


@dataclass(frozen=True, slots=True)
class CachedRobots:
    """An origin's robots.txt kept between runs, with the validators to ask for it conditionally."""

    body: bytes
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class CacheValidators:
    """The ETag and Last-Modified kept for a source's conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True, slots=True)
class ConferenceSession:
    """A talk at an event: a keynote, a breakout session, an innovation talk."""

    key: str  # stable within its document: the code, else the video id, else a slug of the title
    title: str
    kind: str = SessionKind.SESSION  # a SessionKind
    url: str | None = None  # the video, canonical form https://www.youtube.com/watch?v=ID when on YouTube
    # The link as the document gives it (an embed or short link) where that is not `url`: what
    # `tracker extract` names the session by, so a reader finds it in the document.
    written_url: str | None = None
    code: str | None = None  # e.g. DAT342 (repeats' -R suffix removed)
    speakers: tuple[str, ...] = ()
    level: str | None = None  # e.g. "300 – Advanced"
    track: str | None = None
    event: str | None = None  # display name, e.g. "AWS re:Invent 2023"
    published_at: datetime | None = None
    abstract: str | None = None


@dataclass(frozen=True, slots=True)
class Announcement:
    """One launch as found in one document, before it is tied to services or stored."""

    title: str
    summary: str = ""
    url: str | None = None  # where the launch itself is described (a post, a What's New item)
    published_at: datetime | None = None
    # Service evidence, strongest first: explicit tags (What's New product categories,
    # News Blog categories), then the enclosing bullets/headings, innermost first.
    service_tags: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    sessions: tuple[str, ...] = ()  # keys of sessions of the same document that cover it
    rule: str = ""  # the rule that matched, e.g. "marker:announcing+strong"
    marker: str | None = None  # the marker word that matched, e.g. "Announcing"
    excerpt: str = ""  # the text it was found in, for mentions
    position: int = 0  # order in its document, 0-based
    status: str | None = None  # "preview" | "ga" when the text says so
    event: str | None = None


@dataclass(frozen=True, slots=True)
class Document:
    """One logical document: a post, a page, a recap or one item of a feed."""

    url: str
    title: str = ""
    author: str | None = None
    published_at: datetime | None = None
    categories: tuple[str, ...] = ()
    event: str | None = None
    announcements: tuple[Announcement, ...] = ()
    sessions: tuple[ConferenceSession, ...] = ()
    kind: str = DocumentKind.PAGE
    # Where published_at was read: "front-matter", "file-name", "byline", "time", "meta", "feed".
    published_source: str | None = None
    # The document's public address when `url` is not one (a saved file): its front matter's
    # canonical_url or permalink, its <link rel="canonical"> or og:url.
    canonical_url: str | None = None


@dataclass(frozen=True, slots=True)
class Service:
    """A canonical AWS service."""

    slug: str
    name: str
    aliases: tuple[str, ...] = ()
    category: str | None = None
    region: bool = False  # a partition or Region ("AWS GovCloud (US)"): filterable, not a service
    successor: str | None = None  # a retired product's current service, by name

    def __hash__(self) -> int:
        # By its slug alone (equal services have equal slugs): services are the keys of the
        # caches of a backfill's title comparisons, hashed hundreds of thousands of times, and
        # the generated hash went through every field, the aliases' tuple with it.
        return hash(self.slug)


@dataclass(frozen=True, slots=True)
class Link:
    """Why an announcement is covered by a session."""

    method: str  # a LinkMethod
    score: float
    reason: str


@dataclass(frozen=True, slots=True)
class ServicesNamed:
    """How much of a text names services: the taxonomy's answer to the extractor's candidate features."""

    services: int  # how many distinct services it names
    coverage: float  # the share of its words that are service names, 0.0 to 1.0


@dataclass(frozen=True, slots=True)
class NormalizedAnnouncement:
    """An announcement after normalisation: a stable key and its canonical services."""

    key: str
    announcement: Announcement
    services: tuple[Service, ...] = ()
    url: str | None = None
    announced_at: datetime | None = None
    event: str | None = None
    # Where announced_at comes from: a DateSource ("document" as "document:<how>"); None: no date.
    date_source: str | None = None
    regions: tuple[Service, ...] = ()  # AWS partitions and Regions the launch is about


@dataclass(frozen=True, slots=True)
class SessionRecord:
    """A stored session, as read back from the store."""

    id: int
    title: str
    kind: str
    code: str | None = None
    url: str | None = None
    event: str | None = None  # event display name
    event_slug: str | None = None
    speakers: tuple[str, ...] = ()
    level: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape of `sessions --format json` and the API."""
        return {
            "id": self.id,
            "code": self.code,
            "title": self.title,
            "kind": self.kind,
            "url": self.url,
            "event": self.event,
            "event_slug": self.event_slug,
            "speakers": list(self.speakers),
            "level": self.level,
        }


@dataclass(frozen=True, slots=True)
class SessionLinkRecord:
    """A stored announcement ↔ session link."""

    session: SessionRecord
    link: Link


@dataclass(frozen=True, slots=True)
class AnnouncementRecord:
    """A stored announcement with everything a feed entry or a query result shows."""

    id: int
    key: str  # stable: feed entry ids derive from it and never change
    title: str
    summary: str = ""
    url: str | None = None  # the original source
    announced_at: datetime | None = None
    updated_at: datetime | None = None
    status: str | None = None
    event: str | None = None
    event_slug: str | None = None
    announced_at_source: str | None = None
    created_at: datetime | None = None
    services: tuple[Service, ...] = ()
    sessions: tuple[SessionLinkRecord, ...] = ()
    sources: tuple[str, ...] = ()  # public URLs of the documents that mention it
    regions: tuple[str, ...] = ()  # names of the AWS partitions and Regions it is about
    # Every document that mentions it, local files included: for `tracker show` on this machine,
    # never published.
    mentioned_in: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: the shape of `announcements --format json`, the API and webhooks."""
        return {
            "id": self.id,
            "key": self.key,
            "title": self.title,
            "summary": self.summary,
            "url": self.url,
            "announced_at": _iso(self.announced_at),
            "announced_at_source": self.announced_at_source,
            "updated_at": _iso(self.updated_at),
            "status": self.status,
            "event": self.event,
            "event_slug": self.event_slug,
            "services": [s.name for s in self.services],
            "service_slugs": [s.slug for s in self.services],
            "regions": list(self.regions),
            "sessions": [
                {
                    "code": sl.session.code,
                    "title": sl.session.title,
                    "url": sl.session.url,
                    "kind": sl.session.kind,
                    "method": sl.link.method,
                    "score": sl.link.score,
                    "reason": sl.link.reason,
                }
                for sl in self.sessions
            ],
            "sources": list(self.sources),
        }


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC; a naive value (as SQLite returns) is UTC."""
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


# --------------------------------------------------------------------------- what the read path returns
# Records of the store's reads that are not announcements or sessions: `tracker status`,
# `tracker services` and the API's lists. Their as_dict() is the exact JSON they had as dicts.


@dataclass(frozen=True, slots=True)
class SourceState:
    """A stored source with its cache validators, last success, last error and failure count."""

    id: int
    name: str
    kind: str
    url: str | None  # masked: no credentials
    etag: str | None = None
    last_modified: str | None = None
    last_status: str | None = None  # a SourceStatus
    last_error: str | None = None  # masked
    last_error_kind: str | None = None
    last_success_at: datetime | None = None
    last_attempt_at: datetime | None = None
    consecutive_failures: int = 0

    def as_dict(self) -> dict[str, Any]:
        """Plain data, datetimes kept: the shape of a source in `status --format json`."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "url": self.url,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "last_error_kind": self.last_error_kind,
            "last_success_at": self.last_success_at,
            "last_attempt_at": self.last_attempt_at,
            "consecutive_failures": self.consecutive_failures,
        }


@dataclass(frozen=True, slots=True)
class RunRecord:
    """A stored run: when, how it ended, its counts and each source's outcome."""

    id: int
    started_at: datetime | None
    finished_at: datetime | None = None
    status: str = RunStatus.RUNNING  # a RunStatus
    counts: dict[str, Any] = field(default_factory=dict)
    outcomes: dict[str, Any] = field(default_factory=dict)  # source name -> its outcome, errors masked
    error: str | None = None  # masked
    slot: datetime | None = None  # the scheduled slot it ran for, if any

    def failed_sources(self) -> list[str]:
        """The names of the sources that failed in this run, sorted."""
        return sorted(
            name
            for name, outcome in self.outcomes.items()
            if isinstance(outcome, dict) and outcome.get("status") == SourceStatus.FAILED
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain data, datetimes kept: the shape of a run in `status --format json`."""
        return {
            "id": self.id,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "status": self.status,
            "counts": dict(self.counts),
            "outcomes": dict(self.outcomes),
            "error": self.error,
            "slot": self.slot,
        }


@dataclass(frozen=True, slots=True)
class PreviousRun:
    """How the run recorded before another one ended: what decides whether feeds need republishing."""

    status: str  # a RunStatus
    counts: dict[str, int]
    finished: bool  # it recorded its end (a killed run did not)


@dataclass(frozen=True, slots=True)
class ServiceCount:
    """A service and how many stored announcements it has."""

    service: Service
    announcements: int


@dataclass(frozen=True, slots=True)
class MonthCount:
    """How many announcements fall in one calendar month (UTC)."""

    month: str  # "YYYY-MM"
    announcements: int


@dataclass(frozen=True, slots=True)
class MonthlyCounts:
    """Announcements per calendar month (UTC), oldest first, months without any left out, and the undated."""

    months: tuple[MonthCount, ...]
    undated: int

    @property
    def total(self) -> int:
        """Every announcement counted, dated or not."""
        return sum(m.announcements for m in self.months) + self.undated


@dataclass(frozen=True, slots=True)
class EventCount:
    """A stored event and how many announcements it has."""

    slug: str
    name: str
    announcements: int
