"""When a launch was announced, and how we know: dates with their provenance.

The order, first that applies:
1. the item's own date (a What's New item, a News Blog post): ``item``;
2. for a launch of an event whose days are known (config/events.toml):
   - the document's date when it falls within the event's days: ``document:<how>``;
   - the day of the keynote whose section it was written in, when the event lists its
     keynotes: ``keynote``;
   - else, for a recap of the event, its first day: ``event``;
3. the document's date (front matter, file name, byline, ``<time>``, a feed's): ``document:<how>``;
4. nothing: the launch says it has no date. The time a document was imported is never a
   launch's date.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from tracker.items import Announcement, ConferenceSession, Document
from tracker.normalize.events import DeclaredEvent, Keynote


@dataclass(frozen=True)
class Dated:
    """A date and where it comes from (both None when nothing says when)."""

    at: datetime | None = None
    source: str | None = None


def _day(value: date) -> datetime:
    return datetime(value.year, value.month, value.day, tzinfo=UTC)


def _declared(event: str | None, events: Sequence[DeclaredEvent]) -> DeclaredEvent | None:
    if not event:
        return None
    for item in events:
        if item.event.name == event or item.names(event):
            return item
    return None


def _keynote(sessions: Sequence[ConferenceSession], keynotes: Sequence[Keynote]) -> Keynote | None:
    """The declared keynote one of these sessions is (by speaker, in its speakers or its title)."""
    for conf in sessions:
        if conf.kind != "keynote":
            continue
        text = " ".join((conf.title, *conf.speakers)).lower()
        for keynote in keynotes:
            if keynote.matches(text):
                return keynote
    return None


def date_of(
    ann: Announcement,
    doc: Document,
    *,
    event: str | None,
    events: Sequence[DeclaredEvent] = (),
    parse: Callable[[datetime | None], datetime | None],
) -> Dated:
    """The date of one announcement of a document, with its provenance."""
    own = parse(ann.published_at)
    doc_date = parse(doc.published_at)
    if own is not None and not (doc_date is not None and own == doc_date and doc.kind == "recap"):
        return Dated(own, "item")
    document = Dated(doc_date, f"document:{doc.published_source or 'unknown'}") if doc_date else Dated()
    declared = _declared(event, events)
    if declared is not None and declared.starts is not None:
        ends = declared.ends or declared.starts
        if doc_date is not None and declared.starts <= doc_date.date() <= ends:
            return document
        by_key = {s.key: s for s in doc.sessions}
        keynote = _keynote([by_key[k] for k in ann.sessions if k in by_key], declared.keynotes)
        if keynote is not None:
            return Dated(_day(keynote.day), "keynote")
        if doc.kind == "recap" or doc_date is None:
            return Dated(_day(declared.starts), "event")
    return document

