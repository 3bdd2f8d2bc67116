"""When a launch was announced, and how we know: dates with their provenance.

The order, first that applies:
1. the item's own date (a What's New item, a News Blog post): ``item``;
2. for a launch of an event whose days are known (tracker/data/events.toml):
   - the document's date when it falls within the event's days: ``document:<how>``;
   - the day its section heading names ("November 30th") around the event: ``heading``;
   - the day of the keynote whose section it was written in, when the event lists its
     keynotes: ``keynote``;
   - else, for a recap of the event, its first day: ``event``;
3. the document's date (front matter, file name, byline, ``<time>``, a feed's): ``document:<how>``;
4. nothing: the launch says it has no date. The time a document was imported is never a
   launch's date.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from tracker.items import Announcement, ConferenceSession, DateSource, Document, DocumentKind, SessionKind
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
        if conf.kind != SessionKind.KEYNOTE:
            continue
        text = " ".join((conf.title, *conf.speakers)).lower()
        for keynote in keynotes:
            if keynote.matches(text):
                return keynote
    return None


_MONTHS = {
    m: i
    for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)
}
_DAY_HEADING = re.compile(
    r"(?i)^\W*(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day,?\s+)?"
    r"(?:(?P<m1>[a-z]{3})[a-z]*\.?\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?|(?P<d2>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m2>[a-z]{3})[a-z]*)"
    r"(?:,?\s+(?P<y>\d{4}))?\W*$"
)


def _heading_day(context: Sequence[str], declared: DeclaredEvent) -> date | None:
    """The day a section heading names ("November 30th", "Tuesday, Dec 3") around the event."""
    assert declared.starts is not None
    for text in context:
        m = _DAY_HEADING.match(text or "")
        if not m:
            continue
        month = _MONTHS.get((m.group("m1") or m.group("m2") or "").lower())
        if month is None:
            continue
        try:
            day = date(int(m.group("y") or declared.starts.year), month, int(m.group("d1") or m.group("d2")))
        except ValueError:
            continue
        ends = declared.ends or declared.starts
        if declared.starts - timedelta(days=30) <= day <= ends + timedelta(days=7):
            return day
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
    if own is not None and not (doc_date is not None and own == doc_date and doc.kind == DocumentKind.RECAP):
        return Dated(own, DateSource.ITEM)
    document = Dated(doc_date, f"{DateSource.DOCUMENT}:{doc.published_source or 'unknown'}") if doc_date else Dated()
    declared = _declared(event, events)
    if declared is not None and declared.starts is not None:
        ends = declared.ends or declared.starts
        if doc_date is not None and declared.starts <= doc_date.date() <= ends:
            return document
        day = _heading_day(ann.context, declared)
        if day is not None:
            return Dated(_day(day), DateSource.HEADING)
        by_key = {s.key: s for s in doc.sessions}
        keynote = _keynote([by_key[k] for k in ann.sessions if k in by_key], declared.keynotes)
        if keynote is not None:
            return Dated(_day(keynote.day), DateSource.KEYNOTE)
        if doc.kind == DocumentKind.RECAP or doc_date is None:
            return Dated(_day(declared.starts), DateSource.EVENT)
    return document
