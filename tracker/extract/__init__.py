"""Extraction: pure functions from a document's bytes to `Document` items.

No network, no database, no clock. `extract` picks the reader by the declared kind or, for
"auto", by sniffing the content (with the URL suffix and content type as hints), and turns
every failure into an `ExtractError` naming the URL.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import replace
from enum import StrEnum
from functools import lru_cache

from tracker.config import SOURCE_KINDS, SourceKind
from tracker.errors import ExtractError
from tracker.extract.rules import Rules, load_rules
from tracker.extract.text import decode
from tracker.items import Document

__all__ = ["EXTRACTOR_VERSION", "KINDS", "Rules", "completed_from_page", "detect_format", "extract", "load_rules"]

log = logging.getLogger(__name__)

# Bump when a reader or a shipped rule changes what is extracted (tracker/data/extract.toml also
# carries a `version`, Rules.version, for edits made by users).
EXTRACTOR_VERSION = "1.1"

KINDS = SOURCE_KINDS  # one list: tracker.config.SourceKind

_FEED_ROOT = re.compile(r"<(?:rss|feed|rdf:RDF|RDF)\b", re.IGNORECASE)
_HTML_START = re.compile(r"^<(?:!doctype\s+html|html|head|body)\b", re.IGNORECASE)
_TAG = re.compile(r"<(?:/?[a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?>")


@lru_cache(maxsize=1)
def _default_rules() -> Rules:
    return load_rules()


def _suffix(url: str) -> str:
    path = re.split(r"[?#]", url, maxsplit=1)[0].lower()
    m = re.search(r"\.([a-z0-9]{1,8})$", path)
    return m.group(1) if m else ""


class Format(StrEnum):
    """What a document's bytes are, as `detect_format` sniffs them."""

    FEED = "feed"  # RSS, Atom or JSON Feed
    HTML = "html"
    JSON = "json"  # a session catalogue, or news items (a JSON Feed, a What's New dump)
    CSV = "csv"  # a session export
    PLAYLIST = "playlist"  # a YouTube playlist dump in markdown
    MARKDOWN = "markdown"


def detect_format(text: str, *, url: str = "", content_type: str | None = None, rules: Rules | None = None) -> Format:
    """The reader for a text: feed, html, json, csv, playlist or markdown."""
    from tracker.extract.sessions import looks_like_csv, looks_like_playlist_markdown

    rules = rules or _default_rules()
    head = text.lstrip("\ufeff \t\r\n")[:4096]
    ct = (content_type or "").lower()
    suffix = _suffix(url)
    if head.startswith("<"):
        low = head[:200].lower()
        if low.startswith("<?xml"):
            return Format.FEED if _FEED_ROOT.search(head) else Format.HTML
        if _FEED_ROOT.match(head):
            return Format.FEED
        if _HTML_START.match(head) or len(_TAG.findall(head)) >= 3:
            return Format.HTML
        if "xml" in ct or suffix in ("xml", "rss", "atom"):
            return Format.FEED if _FEED_ROOT.search(head) else Format.HTML
        if "html" in ct or suffix in ("html", "htm"):
            return Format.HTML
    if head[:1] in "{[":
        try:
            json.loads(text)
            return Format.JSON
        except (ValueError, RecursionError):
            if suffix == "json" or "json" in ct:
                return Format.JSON
    if suffix == "csv" or "csv" in ct or looks_like_csv(head, rules):
        return Format.CSV
    if looks_like_playlist_markdown(text):
        return Format.PLAYLIST
    if "html" in ct and len(_TAG.findall(head)) >= 3:
        return Format.HTML
    return Format.MARKDOWN


def _sessions(text: str, fmt: str, *, url: str, rules: Rules, event: str | None) -> list[Document]:
    from tracker.extract import sessions

    if fmt == Format.JSON:
        return sessions.extract_json(text, url=url, rules=rules, event=event)
    if fmt == Format.CSV:
        return sessions.extract_csv(text, url=url, rules=rules, event=event)
    return sessions.extract_playlist_markdown(text, url=url, rules=rules, event=event)


def _dispatch(
    text: str, *, url: str, content_type: str | None, kind: str, rules: Rules, event: str | None
) -> list[Document]:
    from tracker.extract.feeds import extract_feed
    from tracker.extract.html import extract_html
    from tracker.extract.markdown import extract_markdown

    fmt = detect_format(text, url=url, content_type=content_type, rules=rules)
    if fmt == Format.JSON and kind in (SourceKind.AUTO, SourceKind.FEED, SourceKind.WHATS_NEW, SourceKind.NEWS_BLOG):
        from tracker.extract.jsonnews import extract_json_news, news_items

        items = news_items(text, rules)
        if items is not None:
            return extract_json_news(items, url=url, rules=rules, event=event)
    if kind in (SourceKind.FEED, SourceKind.WHATS_NEW, SourceKind.NEWS_BLOG) and fmt == Format.FEED:
        return extract_feed(text, url=url, rules=rules, event=event, kind=kind)
    if kind == SourceKind.FEED:
        raise ExtractError(f"expected a feed, found {fmt}", url=url)
    if kind == SourceKind.YOUTUBE_PLAYLIST:
        if fmt == Format.FEED:
            return extract_feed(text, url=url, rules=rules, event=event, kind=kind)
        if fmt == Format.HTML:
            return _html_video_listing(text, url=url, rules=rules, event=event)
        return _sessions(
            text, fmt if fmt in (Format.JSON, Format.CSV) else Format.PLAYLIST, url=url, rules=rules, event=event
        )
    if kind == SourceKind.SESSIONS:
        if fmt == Format.FEED:
            return extract_feed(text, url=url, rules=rules, event=event, kind=SourceKind.YOUTUBE_PLAYLIST)
        if fmt == Format.HTML:
            return _html_video_listing(text, url=url, rules=rules, event=event)
        return _sessions(
            text, fmt if fmt in (Format.JSON, Format.CSV) else Format.PLAYLIST, url=url, rules=rules, event=event
        )
    if kind == SourceKind.HTML or (kind in (SourceKind.WHATS_NEW, SourceKind.NEWS_BLOG) and fmt == Format.HTML):
        return extract_html(text, url=url, rules=rules, event=event)
    if kind in (SourceKind.MARKDOWN, SourceKind.NEWS_BLOG, SourceKind.WHATS_NEW):
        return extract_markdown(text, url=url, rules=rules, event=event)
    # auto
    if fmt == Format.FEED:
        return extract_feed(text, url=url, rules=rules, event=event, kind=SourceKind.AUTO)
    if fmt == Format.HTML:
        return extract_html(text, url=url, rules=rules, event=event)
    if fmt in (Format.JSON, Format.CSV, Format.PLAYLIST):
        return _sessions(text, fmt, url=url, rules=rules, event=event)
    return extract_markdown(text, url=url, rules=rules, event=event)


def _html_video_listing(text: str, *, url: str, rules: Rules, event: str | None) -> list[Document]:
    from tracker.extract.html import html_blocks, soup_of
    from tracker.extract.sessions import listing_from_rows
    from tracker.extract.text import youtube_id

    soup = soup_of(text)
    rows = []
    for block in html_blocks(soup.body or soup, url):
        for link in block.links:
            if youtube_id(link.url) and link.text:
                rows.append({"title": link.text, "url": link.url})
    title_tag = soup.find("title")
    title = title_tag.get_text(" ").strip() if title_tag else ""
    return [listing_from_rows(rows, url=url, title=title, rules=rules, event=event)]


def extract(
    body: bytes | str,
    *,
    url: str,
    content_type: str | None = None,
    kind: str = SourceKind.AUTO,
    rules: Rules | None = None,
    event: str | None = None,
) -> list[Document]:
    """Documents (with their announcements and sessions) found in one fetched document."""
    if kind not in KINDS:
        raise ExtractError(f"unknown kind {kind!r} (known: {', '.join(KINDS)})", url=url)
    try:
        text = decode(body, content_type)
    except Exception as exc:  # noqa: BLE001 - decoding hostile bytes must not escape as anything else
        raise ExtractError(f"could not decode the document: {exc}", url=url) from exc
    if not text.strip():
        raise ExtractError("empty document", url=url)
    if "\x00" in text:
        text = text.replace("\x00", "")
        if not text.strip():
            raise ExtractError("empty document (only NUL bytes)", url=url)
    try:
        rules = rules or _default_rules()
        docs = _dispatch(text, url=url, content_type=content_type, kind=kind, rules=rules, event=event)
    except ExtractError as exc:
        if exc.url is None:
            exc.url = url
        raise
    except RecursionError:
        raise ExtractError("document nested too deeply to read", url=url) from None
    except Exception as exc:  # noqa: BLE001 - the contract: only ExtractError leaves this function
        log.exception("extractor failed on %s", url)
        raise ExtractError(f"could not extract: {exc.__class__.__name__}: {exc}", url=url) from exc
    log.debug("extracted %d documents from %s", len(docs), url)
    return docs


def completed_from_page(item: Document, page: Document) -> Document:
    """A feed item completed from the document of its own page (`fetch_pages` sources)."""
    # The feed's metadata (title, date, categories) is the reliable part; the page has the full text.
    return replace(
        item,
        author=item.author or page.author,
        published_at=item.published_at or page.published_at,
        announcements=page.announcements or item.announcements,
        sessions=item.sessions + page.sessions,
    )
