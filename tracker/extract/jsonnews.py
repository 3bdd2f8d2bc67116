"""News items kept as JSON: a JSON Feed, a saved What's New API answer, a scraper's dump.

Each item is read like a feed entry: a What's New item is one announcement, any other item a
post whose body is searched for launches. Field names are data (`[whats_new.json_fields]`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from tracker.extract.html import fragment_blocks, plain_text, whats_new_document
from tracker.extract.markdown import post_document
from tracker.extract.rules import Rules
from tracker.extract.sessions import first_field
from tracker.extract.text import collapse, detect_event, parse_date, split_terms, youtube_id
from tracker.items import Document

log = logging.getLogger(__name__)

# How deep a JSON text kept as a string ({"body": "{\"items\": …}"}, an API gateway's answer)
# or an item's nested objects ({"item": {"additionalFields": {…}}}) are looked into.
_MAX_DEPTH = 3


def _parsed_string(value: Any) -> Any:
    """A string that holds JSON, parsed; None otherwise."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    if len(stripped) < 2 or stripped[0] not in "{[":
        return None
    try:
        return json.loads(stripped)
    except (ValueError, RecursionError):
        return None


def _items(data: Any, depth: int = 0) -> list[Mapping[str, Any]]:
    """The longest list of objects in a JSON value, looking into nested objects and JSON strings."""
    inner = _parsed_string(data)
    if inner is not None:
        data = inner
    if isinstance(data, list):
        return [x for x in data if isinstance(x, Mapping)]
    if not isinstance(data, Mapping) or depth >= _MAX_DEPTH:
        return []
    found: list[Mapping[str, Any]] = []
    for value in data.values():
        if isinstance(value, list | Mapping | str):
            candidates = _items(value, depth + 1)
            if len(candidates) > len(found):
                found = candidates
    return found


def _flat(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item's fields with those of its nested objects, the shallower first."""
    out: dict[str, Any] = {}
    level: list[Mapping[str, Any]] = [item]
    for _ in range(_MAX_DEPTH):
        nested: list[Mapping[str, Any]] = []
        for obj in level:
            for key, value in obj.items():
                if isinstance(value, Mapping):
                    nested.append(value)
                elif value not in (None, "", []) and key not in out:
                    out[key] = value
        level = nested
    return out


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return ""


def _date(value: Any) -> datetime | None:
    """A date from ISO/RFC text or from epoch seconds or milliseconds."""
    text = _text(value).strip()
    if text.isdigit() and len(text) >= 9:
        stamp = int(text)
        # A 13-digit stamp is milliseconds (JavaScript's Date.now()).
        seconds = stamp / 1000 if stamp > 10**11 else stamp
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return parse_date(text) if text else None


def _tags(value: Any) -> tuple[str, ...]:
    raw = value if isinstance(value, list) else [value]
    names = (
        tag.get("name") or tag.get("term") or tag.get("tagName") if isinstance(tag, Mapping) else tag for tag in raw
    )
    return split_terms(_text(name) for name in names)


def _session_like(fields: Mapping[str, Any], rules: Rules) -> bool:
    """A row of a session listing: a video, a session code or speakers."""
    url = _text(first_field(fields, rules.column("url")))
    if url and youtube_id(url):
        return True
    return bool(
        first_field(fields, rules.column("video_id"))
        or first_field(fields, rules.column("code"))
        or fields.get("speakers")
    )


def news_items(text: str, rules: Rules) -> list[dict[str, Any]] | None:
    """The items of a JSON text that holds news, each flattened; None when it holds something else."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None
    items = [_flat(x) for x in _items(data)]
    if not items:
        return None
    news = sum(
        1
        for f in items
        if first_field(f, rules.news_field("title"))
        and (first_field(f, rules.news_field("body")) or first_field(f, rules.news_field("url")))
        and not _session_like(f, rules)
    )
    return items if news * 2 > len(items) else None


def extract_json_news(
    items: list[dict[str, Any]], *, url: str, rules: Rules, event: str | None = None
) -> list[Document]:
    """One document per news item: a What's New item is one announcement, any other a post."""
    base = url if url.startswith(("http://", "https://")) else ""
    rows = []
    for fields in items:
        title = collapse(_text(first_field(fields, rules.news_field("title"))))
        if not title:
            continue
        link = _text(first_field(fields, rules.news_field("url"))).strip()
        link = urljoin(base, link) if base and link else link
        rows.append((fields, title, link or url))
    # The same test as a feed's: What's New when its items link there (or the document is there).
    whats_new_links = sum(1 for _, _, link in rows if rules.whats_new_url and rules.whats_new_url.search(link))
    whats_new = bool(rows) and (
        whats_new_links * 2 >= len(rows) or bool(rules.whats_new_url and base and rules.whats_new_url.search(base))
    )
    docs: list[Document] = []
    for fields, title, link in rows:
        body = _text(first_field(fields, rules.news_field("body")))
        published = _date(first_field(fields, rules.news_field("published")))
        tags = _tags(first_field(fields, rules.news_field("tags")))
        if whats_new:
            docs.append(whats_new_document(title, link, plain_text(body), published, tags, rules=rules, event=event))
            continue
        docs.append(
            post_document(
                title=title,
                url=link,
                author=None,
                published=published,
                categories=tags,
                blocks=fragment_blocks(body, link),
                rules=rules,
                event=event or detect_event([title], rules),
                published_source="feed" if published else None,
            )
        )
    log.debug("%s: %d news items read from JSON (What's New: %s)", url, len(docs), whats_new)
    return docs
