"""Render announcements as Atom 1.0, RSS 2.0, JSON Feed 1.1 and an OPML index.

Pure functions: records in, bytes out. Nothing here reads the clock, the database or
the disk, so the same records always give byte-identical files and the writer can
skip unchanged feeds.

Rules every format follows:

* An entry's id is built only from the record's stable ``key``
  (``tag:tracker,2024:announcement:<key>``): titles, URLs and dates may change, the id never does.
* The entry links to the original source: ``record.url``, failing that the first of
  ``record.sources``; only absolute http(s) URLs are used as links, anything else is dropped.
* published = announced_at, never the import time; updated = when the record last changed
  after it was stored, else announced_at (else the time it was stored).
  Naive datetimes are taken as UTC; everything is written in UTC, to the second.
* Deterministic date fallback: a record with neither date has no published date at all
  (RSS pubDate and JSON date_published/date_modified are omitted, so readers use the
  time they first saw it) and, where a date is mandatory (Atom ``updated``), the Unix
  epoch 1970-01-01T00:00:00Z. Undated records sort after every dated one. A feed's
  own updated/lastBuildDate is the newest entry's updated, or the epoch when no entry
  has a date: never the wall clock.
* Entries are newest first (by published, then key for ties).
* Text from sources is plain text: it is escaped with ``html.escape`` wherever it goes
  into HTML, and characters XML 1.0 cannot carry are removed. The finished HTML then goes
  through nh3 (an allow-list sanitiser) as a second line of defence: only a few tags, only
  ``href`` on links, only http(s) URLs; no script, style, event handler or ``javascript:``.
* History (RFC 5005): a subscription feed holds the newest ``limit`` entries; when a feed
  has more, every entry is also on an archive page ``archive/<feed path>/<n>``. Pages are
  cut from the oldest entry on, ``limit`` entries each, and only full pages are written:
  page 1 is the oldest and, once written, keeps its entries as newer launches arrive.
  The subscription feed links to the newest page (``prev-archive``), each page to the
  one before and after it and to the subscription feed (``current``). Entries of the
  incomplete remainder are all among the newest ``limit``, so no entry is unreachable.
"""

from __future__ import annotations

import functools
import hashlib
import html
import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from email.utils import format_datetime
from enum import StrEnum
from importlib.metadata import version as _package_version
from typing import Any
from urllib.parse import quote, urlsplit

import nh3
from feedgen.feed import FeedGenerator  # type: ignore[import-untyped]
from lxml import etree

from tracker.items import AnnouncementRecord, Service, SessionKind, SessionLinkRecord

try:
    import orjson
except ImportError:  # pragma: no cover - only where orjson could not be installed
    orjson = None  # type: ignore[assignment]
from tracker.normalize.text import public_url
from tracker.redact import is_secret_param, strip_controls

log = logging.getLogger(__name__)

# Changing any of these changes every entry id, so they are constants, not settings.
TAG_PREFIX = "tag:tracker,2024:"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,199}")
MIME = {
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".json": "application/feed+json",
}
FORMAT_LABELS = {".atom": "Atom", ".rss": "RSS", ".json": "JSON Feed"}
FEED_KINDS = ("all", "service", "event", "event-service")
ATOM_NS = "http://www.w3.org/2005/Atom"
HISTORY_NS = "http://purl.org/syndication/history/1.0"  # RFC 5005
ARCHIVE_DIR = "archive"
OTHER_CATEGORY = "Other services"

# What entry HTML may contain after sanitising: what content_html produces, nothing more.
_ALLOWED_TAGS = {"p", "a", "ul", "li", "strong", "em", "br"}
_ALLOWED_ATTRIBUTES = {"a": {"href"}}
_URL_SCHEMES = {"http", "https"}

# XML 1.0 refuses most C0 controls, lone surrogates and U+FFFE/U+FFFF; lxml raises on them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_ISO_SAFE = "-._~!$&'()*+,;=:@/"
_URL_SAFE = "-._~!$&'()*+,;=:@/?#[]%"


class FeedKind(StrEnum):
    """Which announcements a feed holds."""

    ALL = "all"
    SERVICE = "service"  # one service's
    EVENT = "event"  # one event's
    EVENT_SERVICE = "event-service"  # one service's at one event


@dataclass(frozen=True)
class FeedSpec:
    """What one feed is: its path (relative, no extension), title, description and scope."""

    path: str
    title: str
    description: str
    kind: str  # a FeedKind
    slug: str | None = None  # the service slug (service, event-service) or the event slug (event)
    event_slug: str | None = None  # event-service only
    category: str | None = None  # service and event-service: the service's category, for OPML
    archive_of: str | None = None  # an archive page: the path of its subscription feed


@dataclass(frozen=True)
class Paging:
    """RFC 5005 links of one document: full URLs without the extension, or None."""

    current: str | None = None  # archive pages: the subscription feed
    prev_archive: str | None = None  # the next older archive page
    next_archive: str | None = None  # the next newer archive page
    is_archive: bool = False


@dataclass(frozen=True)
class FeedContext:
    """Where the feeds are published and who publishes them."""

    base_url: str  # public URL of the output folder, ends with "/"
    author: str
    generator: str = "tracker"
    hub: str | None = None  # a WebSub hub the feeds advertise (rel="hub"), pinged after a publish


# ---------------------------------------------------------------- helpers


def _clean(text: str | None) -> str:
    """Text safe for XML 1.0 and for readers: invalid characters, escape sequences, C0/C1
    controls and bidirectional overrides removed (records stored before text was cleaned)."""
    return _XML_INVALID.sub("", strip_controls(text or ""))


def _one_line(text: str | None) -> str:
    return " ".join(_clean(text).split())


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    # Sub-second precision is noise for readers and RSS cannot carry it anyway.
    return value.replace(microsecond=0)


def _published(record: AnnouncementRecord) -> datetime | None:
    # The launch's date only: the time it was imported is not when it was announced.
    return _utc(record.announced_at)


def _updated(record: AnnouncementRecord) -> datetime | None:
    # When the record last changed; a record unchanged since it was stored is as new as the
    # launch itself (entries imported together then do not all share one import time).
    changed = _utc(record.updated_at)
    created = _utc(record.created_at)
    announced = _utc(record.announced_at)
    if changed is not None and (created is None or changed > created):
        # Never before the value it had while unchanged (a launch dated ahead of the clock).
        return max(changed, announced + timedelta(seconds=1)) if announced is not None else changed
    if announced is not None and announced.time() == time(0, 0) and record.id:
        # A launch known to the day only (a keynote's, an event's): its record's id, in
        # seconds, is its time of day, so the launches of one day keep distinct updated values
        # (readers sort by them; the feed validator warns on equal ones, DuplicateUpdated)
        # that never move while the record does not change.
        return announced + timedelta(seconds=record.id % 86400)
    return announced or changed


def _rfc3339(value: datetime) -> str:
    return value.isoformat()


def _rfc822(value: datetime) -> str:
    # email.utils is locale-independent, unlike strftime("%a").
    return format_datetime(value)


def _base(ctx: FeedContext) -> str:
    return ctx.base_url if ctx.base_url.endswith("/") else ctx.base_url + "/"


def _is_web_url(url: str | None) -> bool:
    if not url:
        return False
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc) and not _XML_INVALID.search(url)


def _has_secret(url: str) -> bool:
    """Whether a URL carries credentials or a secret query parameter (a token, a key...)."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return True
    if "@" in parts.netloc:
        return True
    return any(is_secret_param(pair.split("=", 1)[0]) for pair in parts.query.split("&") if pair)


def _link(url: str | None) -> str | None:
    """A URL fit to publish as a link: http(s) only, without credentials or secret parameters."""
    if not _is_web_url(url):
        return None
    if _has_secret(url or ""):
        # Published without what must stay private (public_url drops it), or not at all.
        return public_url(url)
    return web_url(url or "")


def web_url(url: str) -> str:
    """A URL with the characters a URI may not contain (space, <, >, quotes...) percent-encoded."""
    # Existing %XX escapes and every reserved character are kept, so a valid URL is unchanged.
    return quote(url.strip(), safe=_URL_SAFE)


def entry_id(key: str) -> str:
    """The permanent id of an announcement's entry, derived from its stable key only."""
    return TAG_PREFIX + "announcement:" + quote(key, safe=_ISO_SAFE)


def feed_id(path: str) -> str:
    """The permanent id of a feed, derived from its path only."""
    return TAG_PREFIX + "feed:" + quote(path, safe=_ISO_SAFE)


def archive_path(path: str, page: int) -> str:
    """The path (no extension) of archive page `page` (1 = oldest) of the feed at `path`."""
    return f"{ARCHIVE_DIR}/{path}/{page}"


def sanitize_html(fragment: str) -> str:
    """HTML reduced to an allow-list: a few tags, href on links, http(s) URLs only."""
    return str(
        nh3.clean(
            fragment,
            tags=_ALLOWED_TAGS,
            attributes=_ALLOWED_ATTRIBUTES,
            url_schemes=_URL_SCHEMES,
            link_rel=None,
            strip_comments=True,
        )
    )


def feed_url(spec: FeedSpec, ctx: FeedContext, ext: str) -> str:
    """The public URL of one rendering of a feed (ext is ".atom", ".rss" or ".json")."""
    return _base(ctx) + spec.path + ext


def valid_slug(slug: str | None) -> bool:
    """True when a slug is safe to use as a file name ([a-z0-9-], not starting with '-')."""
    return bool(slug) and SLUG_RE.fullmatch(slug or "") is not None


def _entry_link(record: AnnouncementRecord) -> str | None:
    for candidate in (record.url, *record.sources):
        link = _link(candidate)
        if link:
            return link
    return None


def _services(record: AnnouncementRecord) -> list[Service]:
    by_slug: dict[str, Service] = {}
    for service in record.services:
        by_slug.setdefault(service.slug, service)
    return sorted(by_slug.values(), key=lambda s: (s.name.lower(), s.slug))


def _sessions(record: AnnouncementRecord) -> list[SessionLinkRecord]:
    by_id: dict[int, SessionLinkRecord] = {}
    for link in record.sessions:
        by_id.setdefault(link.session.id, link)
    # Keynotes first, then the strongest link; the store's order is not guaranteed stable.
    return sorted(
        by_id.values(),
        key=lambda sl: (
            sl.session.kind != SessionKind.KEYNOTE,
            -sl.link.score,
            sl.session.title.lower(),
            sl.session.code or "",
            sl.session.url or "",
            sl.session.id,
        ),
    )


def _session_label(link: SessionLinkRecord) -> str:
    title = _one_line(link.session.title)
    code = _one_line(link.session.code)
    if code and code.lower() not in title.lower():
        return f"{code}: {title}" if title else code
    return title or code or "session"


def _title(record: AnnouncementRecord) -> str:
    title = _one_line(record.title)
    if title:
        return title
    summary = _one_line(record.summary)
    if summary:
        return summary if len(summary) <= 100 else summary[:99] + "…"
    return "Untitled announcement"


def _paragraphs(text: str) -> list[str]:
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", _clean(text)) if p.strip()]


def _event_label(record: AnnouncementRecord) -> str:
    return _one_line(record.event) or _one_line(record.event_slug)


@functools.lru_cache(maxsize=1024)
def content_html(record: AnnouncementRecord) -> str:
    """The entry body as HTML: summary, the sessions with video links, services and event."""
    # Cached: a document renders each entry in three formats (records are frozen, so equal
    # records give equal HTML).
    parts = [f"<p>{html.escape(p)}</p>" for p in _paragraphs(record.summary)]
    sessions = _sessions(record)
    if sessions:
        links = []
        for link in sessions:
            label = html.escape(_session_label(link))
            url = _link(link.session.url)
            links.append(f'<a href="{html.escape(url, quote=True)}">{label}</a>' if url else label)
        parts.append("<p>Announced in: " + ", ".join(links) + "</p>")
    services = _services(record)
    if services:
        parts.append("<p>Services: " + ", ".join(html.escape(_one_line(s.name)) for s in services) + "</p>")
    event = _event_label(record)
    if event:
        parts.append(f"<p>Event: {html.escape(event)}</p>")
    if record.status:
        parts.append(f"<p>Status: {html.escape(_one_line(record.status))}</p>")
    if not parts:
        parts.append(f"<p>{html.escape(_title(record))}</p>")
    return sanitize_html("\n".join(parts))


def content_text(record: AnnouncementRecord) -> str:
    """The entry body as plain text, the same facts as `content_html`."""
    parts = _paragraphs(record.summary)
    sessions = _sessions(record)
    if sessions:
        labels = []
        for link in sessions:
            label = _session_label(link)
            url = _link(link.session.url)
            labels.append(f"{label} <{url}>" if url else label)
        parts.append("Announced in: " + ", ".join(labels))
    services = _services(record)
    if services:
        parts.append("Services: " + ", ".join(_one_line(s.name) for s in services))
    event = _event_label(record)
    if event:
        parts.append(f"Event: {event}")
    if record.status:
        parts.append(f"Status: {_one_line(record.status)}")
    return "\n\n".join(parts) or _title(record)


# The place of an undated entry in `entry_order`: after every dated one (minus any time in seconds).
UNDATED_ORDER = 2**62


def entry_order(record: AnnouncementRecord) -> tuple[int, str]:
    """Where a record's entry goes in a feed, ascending = newest first: minus its published time
    in Unix seconds (`UNDATED_ORDER` without one), then its key. The store keeps published
    entries in this order (`tracker.store.published`)."""
    published = _published(record)
    return (UNDATED_ORDER if published is None else -int(published.timestamp()), record.key)


def sort_records(records: Iterable[AnnouncementRecord]) -> list[AnnouncementRecord]:
    """Newest first (published date, undated last), ties by key; one record per key."""
    ordered = sorted(records, key=entry_order)
    seen: set[str] = set()
    out: list[AnnouncementRecord] = []
    for record in ordered:
        if record.key in seen:
            log.warning("two records share the key %r; only the newest is published", record.key)
            continue
        seen.add(record.key)
        out.append(record)
    return out


def feed_updated(records: Sequence[AnnouncementRecord]) -> datetime:
    """A feed document's own updated: its newest entry's, or the epoch when none has a date."""
    dates = [d for d in (_updated(r) for r in records) if d is not None]
    return max(dates) if dates else EPOCH


def _categories(record: AnnouncementRecord, ctx: FeedContext) -> list[dict[str, str]]:
    cats = [
        {"term": s.slug, "label": _one_line(s.name) or s.slug, "scheme": _base(ctx) + "services/"}
        for s in _services(record)
        if s.slug
    ]
    event = _event_label(record)
    if event:
        cats.append({"term": _one_line(record.event_slug) or event, "label": event, "scheme": _base(ctx) + "events/"})
    return cats


def _generator(spec: FeedSpec, records: Sequence[AnnouncementRecord], ctx: FeedContext, ext: str) -> FeedGenerator:
    """A feedgen generator set up for one format (Atom and RSS differ in what goes where)."""
    fg = FeedGenerator()
    title = _one_line(spec.title) or spec.path
    # RFC 5005: archive pages share the id of their subscription feed.
    fg.id(feed_id(spec.archive_of or spec.path))
    fg.title(title)
    fg.description(_one_line(spec.description) or title)  # also the Atom subtitle
    fg.author({"name": _one_line(ctx.author) or "tracker"})
    # feedgen takes the *last* link as the RSS <channel><link>, so self goes first.
    fg.link(href=feed_url(spec, ctx, ext), rel="self", type=MIME[ext])
    fg.link(href=_base(ctx), rel="alternate", type="text/html")
    fg.language("en")
    fg.generator(_one_line(ctx.generator) or "tracker")
    # feedgen defaults both to datetime.now(): set them, or no two renders are equal.
    fg.updated(feed_updated(records))
    for record in sort_records(records):
        # feedgen prepends by default (reverse insertion order); append keeps newest first.
        fe = fg.add_entry(order="append")
        fe.id(entry_id(record.key))  # also the RSS guid, isPermaLink="false"
        fe.title(_title(record))
        link = _entry_link(record)
        if link:
            fe.link(href=link, rel="alternate")
        published = _published(record)
        updated = _updated(record)
        if ext == ".atom":
            # No rel="related" links for the other sources: feedgen 1.0 drops the rel/type of
            # entry links, so they would turn into extra alternates. JSON `_tracker` has them.
            summary = " ".join(_paragraphs(record.summary))
            if summary:
                fe.summary(summary, type="text")
            fe.content(content_html(record), type="html")
            fe.updated(updated or EPOCH)
        else:
            # RSS readers treat <description> as HTML, so it gets the escaped HTML, never raw text.
            fe.description(content_html(record))
        if published:
            fe.published(published)
        for cat in _categories(record, ctx):
            fe.category(cat)
    return fg


# ---------------------------------------------------------------- renderers


def _with_links(document: bytes, paging: Paging | None, ext: str, hub: str | None = None) -> bytes:
    """Add what feedgen cannot write after the self link: the WebSub hub, RFC 5005 links and fh:archive."""
    if not hub and (
        paging is None or not (paging.current or paging.prev_archive or paging.next_archive or paging.is_archive)
    ):
        return document
    paging = paging or Paging()
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    old_root = etree.fromstring(document, parser)
    # Rebuild the root so the history namespace is declared once, at the top.
    nsmap = dict(old_root.nsmap)
    nsmap["fh"] = HISTORY_NS
    root = etree.Element(old_root.tag, attrib=dict(old_root.attrib), nsmap=nsmap)
    root.text = old_root.text
    for child in old_root:
        root.append(child)
    if ext == ".atom":
        parent = root
        link_tag = f"{{{ATOM_NS}}}link"
    else:
        parent = root.find("channel")
        assert parent is not None
        link_tag = f"{{{ATOM_NS}}}link"
    self_link = next((el for el in parent.iterchildren(link_tag) if el.get("rel") == "self"), None)
    position = parent.index(self_link) + 1 if self_link is not None else 0
    new: list[etree._Element] = []
    if hub:
        new.append(etree.Element(link_tag, href=hub, rel="hub"))
    if paging.is_archive:
        new.append(etree.Element(f"{{{HISTORY_NS}}}archive"))
    for rel, url in (
        ("current", paging.current),
        ("prev-archive", paging.prev_archive),
        ("next-archive", paging.next_archive),
    ):
        if url:
            new.append(etree.Element(link_tag, href=url + ext, rel=rel, type=MIME[ext]))
    for offset, element in enumerate(new):
        parent.insert(position + offset, element)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def render_atom(
    spec: FeedSpec, records: Sequence[AnnouncementRecord], ctx: FeedContext, paging: Paging | None = None
) -> bytes:
    """The Atom 1.0 document of a feed; identical records give identical bytes."""
    document = bytes(_generator(spec, records, ctx, ".atom").atom_str(pretty=True, encoding="UTF-8"))
    return _with_links(document, paging, ".atom", _link(ctx.hub))


def render_rss(
    spec: FeedSpec, records: Sequence[AnnouncementRecord], ctx: FeedContext, paging: Paging | None = None
) -> bytes:
    """The RSS 2.0 document of a feed; identical records give identical bytes."""
    document = bytes(_generator(spec, records, ctx, ".rss").rss_str(pretty=True, encoding="UTF-8"))
    return _with_links(document, paging, ".rss", _link(ctx.hub))


def _json_item(record: AnnouncementRecord, ctx: FeedContext) -> dict[str, Any]:
    item: dict[str, Any] = {"id": entry_id(record.key)}
    link = _entry_link(record)
    if link:
        item["url"] = link
    item["title"] = _title(record)
    item["content_html"] = content_html(record)
    item["content_text"] = content_text(record)
    summary = " ".join(_paragraphs(record.summary))
    if summary:
        item["summary"] = summary
    published, updated = _published(record), _updated(record)
    if published:
        item["date_published"] = _rfc3339(published)
    if updated:
        item["date_modified"] = _rfc3339(updated)
    tags = [cat["label"] for cat in _categories(record, ctx)]
    if tags:
        item["tags"] = tags
    item["authors"] = [{"name": _one_line(ctx.author) or "tracker"}]
    event = None
    if record.event or record.event_slug:
        event = {"name": _one_line(record.event) or None, "slug": record.event_slug}
    item["_tracker"] = {
        "key": record.key,
        "status": record.status,
        "services": [{"slug": s.slug, "name": _one_line(s.name)} for s in _services(record)],
        "event": event,
        "sessions": [
            {
                "title": _one_line(sl.session.title),
                "code": _one_line(sl.session.code) or None,
                "kind": _one_line(sl.session.kind),
                "url": _link(sl.session.url),
                "event": _one_line(sl.session.event) or None,
                "link_method": sl.link.method,
                "score": sl.link.score,
            }
            for sl in _sessions(record)
        ],
        # Public http(s) addresses only: never javascript:, a local path or credentials.
        "sources": [link for link in (_link(s) for s in record.sources) if link],
    }
    return item


def render_json(
    spec: FeedSpec, records: Sequence[AnnouncementRecord], ctx: FeedContext, paging: Paging | None = None
) -> bytes:
    """The JSON Feed 1.1 document of a feed, with a `_tracker` extension per item."""
    title = _one_line(spec.title) or spec.path
    feed: dict[str, Any] = {
        "version": JSON_FEED_VERSION,
        "title": title,
        "home_page_url": _base(ctx),
        "feed_url": feed_url(spec, ctx, ".json"),
    }
    hub = _link(ctx.hub)
    if hub:
        feed["hubs"] = [{"type": "WebSub", "url": hub}]
    if paging is not None and paging.prev_archive:
        # JSON Feed's next_url is "the next n items": the next older page.
        feed["next_url"] = paging.prev_archive + ".json"
    tracker_ext: dict[str, Any] = {
        "id": feed_id(spec.archive_of or spec.path),
        "kind": spec.kind,
        "slug": spec.slug,
        "updated": _rfc3339(feed_updated(records)),
        "generator": ctx.generator,
    }
    if spec.event_slug:
        tracker_ext["event_slug"] = spec.event_slug
    if paging is not None:
        tracker_ext["archive"] = {
            "is_archive": paging.is_archive,
            "current": paging.current + ".json" if paging.current else None,
            "prev_archive": paging.prev_archive + ".json" if paging.prev_archive else None,
            "next_archive": paging.next_archive + ".json" if paging.next_archive else None,
        }
    feed.update(
        {
            "description": _one_line(spec.description) or title,
            "language": "en",
            "authors": [{"name": _one_line(ctx.author) or "tracker"}],
            "_tracker": tracker_ext,
            "items": [_json_item(r, ctx) for r in sort_records(records)],
        }
    )
    return _json_document(feed)


def _json_document(data: Any) -> bytes:
    """`data` as json.dumps writes it (indented by 2, UTF-8, a final newline): by orjson when it
    writes the same bytes (every float finite and 0 or at least 1e-4 in magnitude: json.dumps
    writes 1e-05 where orjson writes 0.00001, NaN where orjson writes null), fifty times faster
    than json's Python encoder, which `indent` chooses."""
    if orjson is not None and _plain_floats(data):
        try:
            return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        except orjson.JSONEncodeError:  # a key not a str, an int beyond 64 bits: json.dumps says
            pass
    return (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _plain_floats(data: Any) -> bool:
    """Whether every float in `data` (dicts, lists, tuples) is written alike by json.dumps and orjson."""
    if isinstance(data, float):
        return data == 0 or 1e-4 <= abs(data) < float("inf")
    if isinstance(data, dict):
        return all(_plain_floats(v) for v in data.values())
    if isinstance(data, (list, tuple)):
        return all(_plain_floats(v) for v in data)
    return True


def feed_groups(specs: Sequence[FeedSpec]) -> list[tuple[str, list[FeedSpec]]]:
    """Subscription feeds grouped for people: all, one group per service category, events.

    Service feeds are grouped by their service's category ("Storage", "Compute"...;
    services without one under "Other services"); each event's per-service feeds follow
    their event feed inside the "Events" group.
    """

    def by_title(spec: FeedSpec) -> tuple[str, str]:
        return (spec.title.lower(), spec.path)

    groups: list[tuple[str, list[FeedSpec]]] = []
    everything = sorted((s for s in specs if s.kind == FeedKind.ALL), key=by_title)
    if everything:
        groups.append(("All announcements", everything))
    categories: dict[str, list[FeedSpec]] = {}
    for spec in specs:
        if spec.kind == FeedKind.SERVICE:
            categories.setdefault(_one_line(spec.category) or OTHER_CATEGORY, []).append(spec)
    for name in sorted(categories, key=lambda c: (c == OTHER_CATEGORY, c.lower())):
        groups.append((f"Services: {name}", sorted(categories[name], key=by_title)))
    events: list[FeedSpec] = []
    for event in sorted((s for s in specs if s.kind == FeedKind.EVENT), key=by_title):
        events.append(event)
        events.extend(
            sorted((s for s in specs if s.kind == FeedKind.EVENT_SERVICE and s.event_slug == event.slug), key=by_title)
        )
    if events:
        groups.append(("Events", events))
    return groups


def render_opml(specs: Sequence[FeedSpec], ctx: FeedContext, *, title: str, updated: datetime = EPOCH) -> bytes:
    """An OPML 2.0 index of the subscription feeds, grouped as `feed_groups` says."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = _one_line(title) or "feeds"
    ET.SubElement(head, "dateModified").text = _rfc822(_utc(updated) or EPOCH)
    ET.SubElement(head, "ownerName").text = _one_line(ctx.author) or "tracker"
    ET.SubElement(head, "docs").text = "http://opml.org/spec2.opml"
    body = ET.SubElement(root, "body")
    for label, members in feed_groups(specs):
        group = ET.SubElement(body, "outline", text=label, title=label)
        for spec in members:
            name = _one_line(spec.title) or spec.path
            for ext in (".atom", ".rss", ".json"):
                attrs = {
                    "type": "rss",
                    "text": f"{name} ({FORMAT_LABELS[ext]})",
                    "title": f"{name} ({FORMAT_LABELS[ext]})",
                    "xmlUrl": feed_url(spec, ctx, ext),
                    "htmlUrl": _base(ctx),
                    "language": "en",
                }
                if spec.description:
                    attrs["description"] = _one_line(spec.description)
                if spec.category:
                    attrs["category"] = "/" + _one_line(spec.category).replace("/", " ")
                if ext == ".rss":
                    attrs["version"] = "RSS2"
                ET.SubElement(group, "outline", attrs)
    ET.indent(root, space="  ")
    return bytes(ET.tostring(root, encoding="UTF-8", xml_declaration=True)) + b"\n"


def redate_opml(data: bytes, updated_before: datetime, updated: datetime) -> bytes | None:
    """The bytes of `render_opml` for the same feeds with `updated`, from `data`, its bytes with
    `updated_before` (only dateModified depends on it); None when `data` has no such dateModified."""
    old = _opml_date(updated_before)
    at = data.find(old)
    if at < 0 or at > data.find(b"<body"):
        return None
    return data[:at] + _opml_date(updated) + data[at + len(old) :]


def _opml_date(updated: datetime) -> bytes:
    return f"<dateModified>{_rfc822(_utc(updated) or EPOCH)}</dateModified>".encode()


def render_index_html(specs: Sequence[FeedSpec], ctx: FeedContext, *, title: str) -> bytes:
    """A static index.html listing every subscription feed, grouped like the OPML index."""
    esc = html.escape
    name = _one_line(title) or "feeds"
    lines = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(name)}: feeds</title>",
    ]
    everything = next((s for s in specs if s.kind == FeedKind.ALL), None)
    if everything is not None:
        for ext in (".atom", ".rss", ".json"):
            lines.append(
                f'<link rel="alternate" type="{MIME[ext]}" title="{esc(_one_line(everything.title), quote=True)}'
                f' ({FORMAT_LABELS[ext]})" href="{esc(feed_url(everything, ctx, ext), quote=True)}">'
            )
    lines += [
        "<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}"
        "li{margin:.2rem 0}a.fmt{margin-left:.5rem;font-size:.9em}</style>",
        "</head>",
        "<body>",
        f"<h1>{esc(name)}</h1>",
        f'<p>Subscribe in any feed reader; <a href="{esc(_base(ctx) + "index.opml", quote=True)}">index.opml</a> '
        "lists every feed. Older entries stay reachable through each feed's archive pages (RFC 5005).</p>",
    ]
    for label, members in feed_groups(specs):
        lines.append(f"<h2>{esc(label)}</h2>")
        lines.append("<ul>")
        for spec in members:
            links = " ".join(
                f'<a class="fmt" href="{esc(feed_url(spec, ctx, ext), quote=True)}" type="{MIME[ext]}">'
                f"{FORMAT_LABELS[ext]}</a>"
                for ext in (".atom", ".rss", ".json")
            )
            indent = ' style="margin-left:1.5rem"' if spec.kind == FeedKind.EVENT_SERVICE else ""
            lines.append(f"<li{indent}>{esc(_one_line(spec.title) or spec.path)}{links}</li>")
        lines.append("</ul>")
    lines += ["</body>", "</html>", ""]
    return "\n".join(lines).encode("utf-8")


# ---------------------------------------------------------------- the set of files


def _service_spec(title: str, service: Service) -> FeedSpec:
    name = _one_line(service.name) or service.slug
    return FeedSpec(
        path=f"services/{service.slug}",
        title=f"{title}: {name}",
        description=f"{title} for {name}",
        kind=FeedKind.SERVICE,
        slug=service.slug,
        category=service.category,
    )


def _event_spec(title: str, slug: str, name: str) -> FeedSpec:
    return FeedSpec(
        path=f"events/{slug}",
        title=f"{title}: {name}",
        description=f"{title} made at {name}",
        kind=FeedKind.EVENT,
        slug=slug,
    )


def _event_service_spec(title: str, event_slug: str, event: str, service: Service) -> FeedSpec:
    name = _one_line(service.name) or service.slug
    return FeedSpec(
        path=f"events/{event_slug}/services/{service.slug}",
        title=f"{title}: {name} at {event}",
        description=f"{title} for {name} made at {event}",
        kind=FeedKind.EVENT_SERVICE,
        slug=service.slug,
        event_slug=event_slug,
        category=service.category,
    )


def all_spec(title: str) -> FeedSpec:
    """The spec of the feed of every announcement."""
    return FeedSpec(path="all", title=title, description=f"{title}: every announcement", kind=FeedKind.ALL)


def record_feeds(record: AnnouncementRecord, *, title: str, skipped: set[str] | None = None) -> list[FeedSpec]:
    """The feeds a record is an entry of: all, each of its services', its event's and its
    services' at its event. A slug outside [a-z0-9-] gets no feed (it is added to `skipped`)."""
    out = [all_spec(title)]
    good: list[Service] = []
    for service in _services(record):
        if not valid_slug(service.slug):
            if skipped is not None:
                skipped.add(f"service {service.slug!r}")
            continue
        good.append(service)
        out.append(_service_spec(title, service))
    if record.event_slug is not None or record.event:
        slug = record.event_slug
        if slug is None or not valid_slug(slug):
            if skipped is not None:
                skipped.add(f"event {slug!r} ({record.event!r})")
            return out
        event = _one_line(record.event) or slug
        out.append(_event_spec(title, slug, event))
        out.extend(_event_service_spec(title, slug, event, service) for service in good)
    return out


def feed_specs(records: Sequence[AnnouncementRecord], *, title: str) -> list[tuple[FeedSpec, list[AnnouncementRecord]]]:
    """Every feed to publish with its records, newest first: all, per service, per event, per
    service within an event (each group by path)."""
    everything = all_spec(title)  # published even when there is no record
    by_path: dict[str, tuple[FeedSpec, list[AnnouncementRecord]]] = {everything.path: (everything, [])}
    skipped: set[str] = set()
    for record in sort_records(records):
        for spec in record_feeds(record, title=title, skipped=skipped):
            # The first record's names make the spec: every record of a feed has the same ones.
            by_path.setdefault(spec.path, (spec, []))[1].append(record)
    for what in sorted(skipped):
        # A slug outside [a-z0-9-] could name a path outside the output folder.
        log.warning("no feed for %s: its slug is not [a-z0-9-]+", what)
    kinds = {kind: n for n, kind in enumerate(FEED_KINDS)}

    def order(spec: FeedSpec) -> tuple[int, str, str]:
        # all, then services by slug, events by slug, event-services by (event, service).
        return (kinds[spec.kind], spec.event_slug or spec.slug or "", spec.slug or "")

    return sorted(by_path.values(), key=lambda pair: order(pair[0]))


def page_count(entries: int, size: int) -> int:
    """How many full archive pages a feed of `entries` entries has (none while it fits in one feed)."""
    if size < 1:
        raise ValueError(f"archive page size must be positive, got {size}")
    return entries // size if entries > size else 0


def archive_pages(members: Sequence[AnnouncementRecord], size: int) -> list[list[AnnouncementRecord]]:
    """The full archive pages of a feed's newest-first members, oldest page first (RFC 5005)."""
    full = page_count(len(members), size)
    if not full:
        return []
    oldest_first = list(reversed(members))
    return [list(reversed(oldest_first[i * size : (i + 1) * size])) for i in range(full)]


def page_span(number: int, entries: int, size: int) -> tuple[int, int]:
    """Where archive page `number` (1 = oldest) of a feed of `entries` entries is in its
    newest-first order: (start, stop), a slice of `size` entries."""
    return entries - number * size, entries - (number - 1) * size


def subscription_paging(spec: FeedSpec, pages: int, ctx: FeedContext) -> Paging:
    """The RFC 5005 links of a subscription feed that has `pages` archive pages."""
    return Paging(prev_archive=_base(ctx) + archive_path(spec.path, pages) if pages else None)


def archive_page(spec: FeedSpec, number: int, pages: int, ctx: FeedContext) -> tuple[FeedSpec, Paging]:
    """The spec and RFC 5005 links of archive page `number` (1 = oldest) of `pages`."""
    base = _base(ctx)
    page_spec = FeedSpec(
        path=archive_path(spec.path, number),
        title=f"{spec.title} (archive page {number})",
        description=spec.description,
        kind=spec.kind,
        slug=spec.slug,
        event_slug=spec.event_slug,
        category=spec.category,
        archive_of=spec.path,
    )
    paging = Paging(
        current=base + spec.path,
        prev_archive=base + archive_path(spec.path, number - 1) if number > 1 else None,
        next_archive=base + archive_path(spec.path, number + 1) if number < pages else None,
        is_archive=True,
    )
    return page_spec, paging


def _render_all(
    spec: FeedSpec, records: Sequence[AnnouncementRecord], ctx: FeedContext, paging: Paging | None
) -> dict[str, bytes]:
    return {
        spec.path + ".atom": render_atom(spec, records, ctx, paging),
        spec.path + ".rss": render_rss(spec, records, ctx, paging),
        spec.path + ".json": render_json(spec, records, ctx, paging),
    }


# Part of every fingerprint: bump it when a change of the renderers changes their output,
# so that the next publish renders every file again instead of keeping the old ones.
RENDER_VERSION = "1"
# A new feedgen may render the same input differently: its version is part of the fingerprint too.
_FEEDGEN_VERSION = _package_version("feedgen")
FORMATS = (".atom", ".rss", ".json")


def settings_digest(ctx: FeedContext, *, title: str, limit: int) -> str:
    """A digest of what every published file depends on besides its records: the renderers'
    version, the publishing context, the title and the page size."""
    return hashlib.sha256(repr((RENDER_VERSION, _FEEDGEN_VERSION, ctx, title, limit)).encode()).hexdigest()


def document_paths(path: str) -> list[str]:
    """The files of one feed document (its three formats)."""
    return [path + ext for ext in FORMATS]


@dataclass
class FeedBuild:
    """The output of one publish: files rendered now, files kept as they are on disk, fingerprints.

    A fingerprint hashes everything a feed document is rendered from (its spec, paging, the
    publishing context and each member record); a document whose fingerprint is the one it
    was last written with is not rendered again: its file on disk is already right.
    """

    files: dict[str, bytes]  # empty when a sink took the files as they were rendered
    kept: set[str]
    fingerprints: dict[str, str]
    rendered: list[str]


def _fingerprint(spec: FeedSpec, paging: Paging | None, ctx: FeedContext, digests: Sequence[str]) -> str:
    digest = hashlib.sha256(repr((RENDER_VERSION, _FEEDGEN_VERSION, spec, paging, ctx)).encode())
    for item in digests:
        digest.update(item.encode())
    return digest.hexdigest()


def record_digest(record: AnnouncementRecord) -> str:
    """A digest of everything a record's entry is rendered from."""
    return hashlib.sha1(repr(record).encode()).hexdigest()


class DocumentRenderer:
    """Renders feed documents into a build, skipping those whose fingerprint is the one they were last written with."""

    def __init__(
        self,
        ctx: FeedContext,
        *,
        known: Mapping[str, str] | None = None,
        sink: Callable[[str, bytes], None] | None = None,
        fingerprints: bool = True,
    ) -> None:
        self.ctx = ctx
        self.known = known or {}
        self.sink = sink
        # Without: every document is rendered and none fingerprinted (hashing each record's
        # repr costs a third of rendering it), for a publish that knows what changed.
        self.fingerprints = fingerprints
        self.build = FeedBuild(files={}, kept=set(), fingerprints={}, rendered=[])

    def emit(self, path: str, data: bytes) -> None:
        """Hand one rendered file to the sink (or keep it in the build)."""
        self.build.rendered.append(path)
        if self.sink is None:
            self.build.files[path] = data
        else:
            self.sink(path, data)

    def render(
        self,
        spec: FeedSpec,
        members: Sequence[AnnouncementRecord],
        paging: Paging,
        digests: Sequence[str] | None = None,
    ) -> None:
        """One feed document in its three formats, unless its fingerprint says its files are already right."""
        if not self.fingerprints:
            for path, data in _render_all(spec, members, self.ctx, paging).items():
                self.emit(path, data)
            return
        if digests is None:
            digests = [record_digest(r) for r in members]
        fingerprint = _fingerprint(spec, paging, self.ctx, digests)
        paths = document_paths(spec.path)
        for path in paths:
            self.build.fingerprints[path] = fingerprint
        if all(self.known.get(path) == fingerprint for path in paths):
            self.build.kept.update(paths)
        else:
            for path, data in _render_all(spec, members, self.ctx, paging).items():
                self.emit(path, data)

    def render_feed(
        self,
        spec: FeedSpec,
        members: Sequence[AnnouncementRecord],
        limit: int,
        digests: Mapping[int, str] | None = None,
    ) -> datetime:
        """A feed's subscription document (its newest `limit` members) and every archive page;
        returns the feed's updated (that of its subscription document). `digests`: the
        members' `record_digest`s by `id()` of the record, when already known."""
        if digests is None:
            digests = {id(r): record_digest(r) for r in members}
        chosen = members[:limit]  # members are already newest first
        pages = archive_pages(members, limit)
        self.render(spec, chosen, subscription_paging(spec, len(pages), self.ctx), [digests[id(r)] for r in chosen])
        for number, page in enumerate(pages, 1):
            page_spec, paging = archive_page(spec, number, len(pages), self.ctx)
            self.render(page_spec, page, paging, [digests[id(r)] for r in page])
        return feed_updated(chosen)

    def render_indexes(self, specs: Sequence[FeedSpec], *, title: str, updated: datetime) -> None:
        """index.opml and index.html: cheap, always rendered."""
        self.emit("index.opml", render_opml(specs, self.ctx, title=title, updated=updated))
        self.emit("index.html", render_index_html(specs, self.ctx, title=title))


def build_feeds(
    records: Sequence[AnnouncementRecord],
    ctx: FeedContext,
    *,
    title: str,
    limit: int,
    known: Mapping[str, str] | None = None,
    sink: Callable[[str, bytes], None] | None = None,
) -> FeedBuild:
    """Every file of the output folder, rendering only the feed documents whose inputs changed.

    Per feed (all, services/<slug>, events/<slug>, events/<slug>/services/<slug>) the
    three formats of the newest `limit` entries and of each full archive page
    (archive/<feed path>/<n>), plus index.opml and index.html. `known` maps a path to the
    fingerprint it was last written with (paths whose file is gone must be left out);
    those whose fingerprint is unchanged are listed in `kept` instead of rendered. With a
    `sink`, each rendered file is handed to it at once instead of being collected in `files`.
    """
    if limit < 1:
        raise ValueError(f"limit must be positive, got {limit}")
    renderer = DocumentRenderer(ctx, known=known, sink=sink)
    digests = {id(r): record_digest(r) for r in records}
    specs: list[FeedSpec] = []
    newest = EPOCH
    for spec, members in feed_specs(records, title=title):
        newest = max(newest, renderer.render_feed(spec, members, limit, digests))
        specs.append(spec)
    renderer.render_indexes(specs, title=title, updated=newest)
    build = renderer.build
    log.debug("rendered %d feed files, kept %d, for %d records", len(build.rendered), len(build.kept), len(records))
    return build


def build_feed_files(
    records: Sequence[AnnouncementRecord], ctx: FeedContext, *, title: str, limit: int
) -> dict[str, bytes]:
    """Every file of the output folder (relative path -> bytes), all rendered: see `build_feeds`."""
    return build_feeds(records, ctx, title=title, limit=limit).files
