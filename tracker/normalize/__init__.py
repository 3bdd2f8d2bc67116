"""Normalisation: clean titles, canonical URLs, UTC dates, events, services and stable keys.

Pure: no database, no network, no clock (a `now` is passed in where plausibility needs one).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime

from tracker.items import Announcement, Document, NormalizedAnnouncement
from tracker.normalize.events import Event, detect_event
from tracker.normalize.taxonomy import Taxonomy, services_for
from tracker.normalize.text import announcement_key, canonical_url, clean_text, parse_date, slugify, title_key

log = logging.getLogger(__name__)

__all__ = [
    "Event",
    "Taxonomy",
    "announcement_key",
    "canonical_url",
    "clean_text",
    "detect_event",
    "event_name",
    "normalize",
    "parse_date",
    "services_for",
    "slugify",
    "title_key",
]


def event_name(ann: Announcement, doc: Document) -> str | None:
    """The canonical event of an announcement: its own, else its document's, else one the
    document title names. A declared event that no pattern recognises is kept as written."""
    for declared in (ann.event, doc.event):
        if declared and declared.strip():
            event = detect_event(declared)
            return event.name if event else clean_text(declared)
    event = detect_event(doc.title)
    return event.name if event else None


def normalize(doc: Document, taxonomy: Taxonomy, *, now: datetime | None = None) -> list[NormalizedAnnouncement]:
    """The document's announcements, normalised, in document order.

    An announcement whose title cleans to nothing is dropped; the same launch listed twice in
    one document (same key) is kept once, at its first position.
    """
    out: list[NormalizedAnnouncement] = []
    seen: set[str] = set()
    for ann in doc.announcements:
        title = clean_text(ann.title)
        if not title:
            log.debug("%s: announcement without a title dropped", doc.url)
            continue
        key = announcement_key(title)
        if key in seen:
            continue
        seen.add(key)
        cleaned = replace(ann, title=title, summary=clean_text(ann.summary))
        url = ann.url or doc.url
        out.append(
            NormalizedAnnouncement(
                key=key,
                announcement=cleaned,
                services=services_for(cleaned, taxonomy),
                url=canonical_url(url) if url else None,
                announced_at=parse_date(ann.published_at or doc.published_at, now=now),
                event=event_name(ann, doc),
            )
        )
    return out
