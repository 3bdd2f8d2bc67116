"""Normalisation: clean titles, canonical URLs, UTC dates, events, services and stable keys.

Pure: no database, no network, no clock (a `now` is passed in where plausibility needs one).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tracker.items import Announcement, Document, NormalizedAnnouncement
from tracker.normalize.text import (
    announcement_key,
    canonical_url,
    clean_text,
    parse_date,
    public_url,
    slugify,
    title_key,
)

if TYPE_CHECKING:
    from tracker.normalize.events import DeclaredEvent, Event, detect_event
    from tracker.normalize.taxonomy import Taxonomy, regions_for, services_for

log = logging.getLogger(__name__)

# Loaded on first use (PEP 562): every store query imports tracker.normalize.text, and the
# event, date and taxonomy rules would cost that query more to import than it takes to run.
_LAZY = {
    "DeclaredEvent": "events",
    "Event": "events",
    "detect_event": "events",
    "Taxonomy": "taxonomy",
    "services_for": "taxonomy",
    "regions_for": "taxonomy",
}


def __getattr__(name: str) -> Any:
    """The names re-exported from the submodules that are imported on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


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
    "public_url",
    "regions_for",
    "services_for",
    "slugify",
    "title_key",
]


def event_name(ann: Announcement, doc: Document) -> str | None:
    """The canonical event of an announcement: its own, else its document's, else one the
    document title names. A declared event that no pattern recognises is kept as written."""
    from tracker.normalize.events import detect_event

    for declared in (ann.event, doc.event):
        if declared and declared.strip():
            event = detect_event(declared)
            return event.name if event else clean_text(declared)
    event = detect_event(doc.title)
    return event.name if event else None


def normalize(
    doc: Document,
    taxonomy: Taxonomy,
    *,
    now: datetime | None = None,
    events: Sequence[DeclaredEvent] = (),
    declared_event: str | None = None,
) -> list[NormalizedAnnouncement]:
    """The document's announcements, normalised, in document order.

    An announcement whose title cleans to nothing is dropped; the same launch listed twice in
    one document (same key) is kept once, at its first position. Its link is a public URL or
    none (never a local path, file:// or credentials); its date comes with its provenance
    (dating.py); `declared_event` (a source's or an import's) wins over what the text says.
    """
    from tracker.normalize.dating import date_of
    from tracker.normalize.taxonomy import regions_for, services_for

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
        event = _declared_name(declared_event) if declared_event else event_name(ann, doc)
        dated = date_of(ann, doc, event=event, events=events, parse=lambda d: parse_date(d, now=now))
        out.append(
            NormalizedAnnouncement(
                key=key,
                announcement=cleaned,
                services=services_for(cleaned, taxonomy),
                regions=regions_for(cleaned, taxonomy),
                url=public_url(ann.url) or public_url(doc.canonical_url) or public_url(doc.url),
                announced_at=dated.at,
                event=event,
                date_source=dated.source,
            )
        )
    return _one_per_launch(out)


def _one_per_launch(items: list[NormalizedAnnouncement]) -> list[NormalizedAnnouncement]:
    """The same launch written twice in one document (a digest listing What's New, the News
    Blog and a third site) is kept once, at its first mention (dedupe.same_announcement)."""
    from tracker.normalize import dedupe

    kept: list[NormalizedAnnouncement] = []
    by_word: dict[str, list[int]] = {}
    for na in items:
        words = dedupe.bare_key(na.announcement.title).split()
        candidates = {i for w in words for i in by_word.get(w, ())}
        if any(
            dedupe.same_announcement(
                na.announcement.title,
                na.services,
                na.announced_at,
                na.event,
                kept[i].announcement.title,
                kept[i].services,
                kept[i].announced_at,
                kept[i].event,
            )
            for i in sorted(candidates)
        ):
            continue
        for w in set(words):
            by_word.setdefault(w, []).append(len(kept))
        kept.append(na)
    return kept


def _declared_name(name: str) -> str:
    from tracker.normalize.events import detect_event

    event = detect_event(name)
    return event.name if event else clean_text(name)
