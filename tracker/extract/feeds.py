"""RSS and Atom feeds (feedparser): What's New, the News Blog (content:encoded), old Atom, YouTube."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import feedparser

from tracker.config import SourceKind
from tracker.errors import ExtractError
from tracker.extract.html import fragment_blocks, plain_text, whats_new_document
from tracker.extract.markdown import post_document
from tracker.extract.rules import Rules
from tracker.extract.text import collapse, detect_event, event_from_categories, parse_date, split_terms, youtube_id
from tracker.items import Document

log = logging.getLogger(__name__)


def _date(entry: Any, *names: str) -> datetime | None:
    for name in names:
        parsed = entry.get(f"{name}_parsed")
        if parsed:
            try:
                year, month, day, hour, minute, second = parsed[:6]
                return datetime(year, month, day, hour, minute, second, tzinfo=UTC)
            except (TypeError, ValueError):
                pass
        raw = entry.get(name)
        if raw:
            dt = parse_date(str(raw))
            if dt:
                return dt
    return None


def _tags(entry: Any) -> tuple[str, ...]:
    terms = (tag.get("term") if isinstance(tag, dict) else None for tag in entry.get("tags") or [])
    return split_terms(str(term) for term in terms if term)


def _link(entry: Any) -> str | None:
    link = entry.get("link")
    if link:
        return collapse(str(link)).replace(" ", "")
    for item in entry.get("links") or []:
        href = item.get("href") if isinstance(item, dict) else None
        if href:
            return collapse(str(href))
    guid = entry.get("id")
    if guid and str(guid).startswith("http"):
        return collapse(str(guid))
    return None


def _content(entry: Any) -> str:
    contents = entry.get("content") or []
    values = [c.get("value", "") for c in contents if isinstance(c, dict)]
    best = max(values, key=len) if values else ""
    summary = entry.get("summary") or entry.get("description") or ""
    return best if len(best) >= len(summary) else summary


def parse_feed(text: str, url: str) -> Any:
    """feedparser's result, or ExtractError when nothing could be recovered."""
    try:
        parsed = feedparser.parse(text.lstrip(), response_headers={"content-location": url})
    except Exception as exc:  # noqa: BLE001 - feedparser may raise anything on hostile input
        raise ExtractError(f"feed could not be parsed: {exc.__class__.__name__}: {exc}", url=url) from exc
    if not parsed.entries:
        if parsed.get("bozo"):
            reason = parsed.get("bozo_exception")
            raise ExtractError(f"malformed feed, no entry could be recovered: {reason}", url=url)
        version = parsed.get("version") or ""
        if not version and not parsed.get("feed"):
            raise ExtractError("not a feed: no channel and no entries", url=url)
    return parsed


def is_whats_new(parsed: Any, url: str, rules: Rules) -> bool:
    """Whether a feed is AWS What's New (by its links or its product tags)."""
    feed = parsed.get("feed") or {}
    links = [str(feed.get("link") or ""), url]
    if rules.whats_new_url and any(rules.whats_new_url.search(link) for link in links if link):
        return True
    entries = parsed.entries[:20]
    tagged = sum(1 for e in entries if any(rules.product_tag and rules.product_tag.search(t) for t in _tags(e)))
    return bool(entries) and tagged * 2 >= len(entries)


def is_video_feed(parsed: Any) -> bool:
    """A YouTube channel or playlist feed: every entry is a video."""
    entries = parsed.entries
    return bool(entries) and all(e.get("yt_videoid") or youtube_id(_link(e)) for e in entries)


def extract_feed(
    text: str, *, url: str, rules: Rules, event: str | None = None, kind: str = SourceKind.FEED
) -> list[Document]:
    """One document per feed item (What's New items, blog posts) or one session listing."""
    parsed = parse_feed(text, url)
    if kind == SourceKind.YOUTUBE_PLAYLIST or (
        kind in (SourceKind.FEED, SourceKind.AUTO, SourceKind.SESSIONS) and is_video_feed(parsed)
    ):
        from tracker.extract.sessions import listing_from_rows

        feed = parsed.get("feed") or {}
        rows = [
            {
                "title": collapse(e.get("title", "")),
                "url": _link(e) or "",
                "published": e.get("published", ""),
                "abstract": e.get("summary", ""),
            }  # YouTube's media:description
            for e in parsed.entries
        ]
        return [listing_from_rows(rows, url=url, title=collapse(feed.get("title", "")), rules=rules, event=event)]
    whats_new = kind == SourceKind.WHATS_NEW or (kind != SourceKind.NEWS_BLOG and is_whats_new(parsed, url, rules))
    docs: list[Document] = []
    for entry in parsed.entries:
        title = collapse(entry.get("title", ""))
        link = _link(entry) or url
        published = _date(entry, "published", "updated", "created")
        tags = _tags(entry)
        if whats_new:
            summary = plain_text(entry.get("summary") or entry.get("description") or _content(entry))
            docs.append(whats_new_document(title, link, summary, published, tags, rules=rules, event=event))
            continue
        blocks = fragment_blocks(_content(entry), link)
        author = collapse(entry.get("author", "")) or None
        doc_event = event or detect_event([title], rules) or event_from_categories(tags, published, rules)
        docs.append(
            post_document(
                title=title,
                url=link,
                author=author,
                published=published,
                categories=tags,
                blocks=blocks,
                rules=rules,
                event=doc_event,
                published_source="feed",
            )
        )
    return docs
