"""Events (re:Invent, re:Inforce, Summits…) named in titles, headings or declared names.

The recognised events are data: EVENT_PATTERNS below, one row per event family. Each row is a
regular expression (matched case-insensitively, except where it says otherwise with an inline
flag) whose named groups fill a display-name template; the slug is slugify(display name).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from tracker.config import read_toml
from tracker.errors import ConfigError
from tracker.normalize.text import clean_text, slugify

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Event:
    """A conference edition, e.g. AWS re:Invent 2023 (slug aws-reinvent-2023)."""

    slug: str
    name: str
    year: int | None


# A year written "2023" or "'23" after the event name, or glued to it ("reInvent23"); a bare
# spaced 2-digit number is not a year ("re:Invent 25 sessions").
_YEAR = r"(?:\s*[-–—,]?\s*(?P<year>20\d{2}|'\d{2})(?!\d)|(?P<year_glued>20\d{2}|\d{2})(?!\d))?"
_YEAR_BEFORE = r"(?:(?P<year_before>20\d{2})\s+)?"

# (regular expression, display-name template). Order matters: the first row that matches a
# text wins, so a family whose name contains another's (pre:Invent ⊃ re:Invent) comes first.
EVENT_PATTERNS: tuple[tuple[str, str], ...] = (
    (_YEAR_BEFORE + r"(?:\baws\s+)?\bpre\s*[:\-]?\s*invent(?![a-z])" + _YEAR, "AWS pre:Invent {year}"),
    (_YEAR_BEFORE + r"(?:\baws\s+)?\bre\s*[:\-]?\s*invent(?![a-z])" + _YEAR, "AWS re:Invent {year}"),
    (_YEAR_BEFORE + r"(?:\baws\s+)?\bre\s*[:\-]?\s*inforce(?![a-z])" + _YEAR, "AWS re:Inforce {year}"),
    (_YEAR_BEFORE + r"(?:\bamazon\s+)?\bre\s*[:\-]?\s*mars(?![a-z])" + _YEAR, "Amazon re:MARS {year}"),
    # A Summit is named by its city: one to three capitalised words before the year.
    (
        r"\b(?i:aws)\s+(?i:summit)\s+(?P<city>[A-Z][\w.'’-]*(?:,?\s+[A-Z][\w.'’-]*){0,2}?)\s*[-–—,]?\s*(?P<year>20\d{2})\b",
        "AWS Summit {city} {year}",
    ),
    (
        r"\b(?i:aws)\s+(?i:summit)\s+(?P<year>20\d{2})\s*[-–—,]?\s*(?P<city>[A-Z][\w.'’-]*(?:,?\s+[A-Z][\w.'’-]*){0,2})",
        "AWS Summit {city} {year}",
    ),
    (
        r"\b(?i:aws)\s+(?i:community\s+day)\s+(?P<city>[A-Z][\w.'’-]*(?:,?\s+[A-Z][\w.'’-]*){0,2}?)\s*[-–—,]?\s*(?P<year>20\d{2})\b",
        "AWS Community Day {city} {year}",
    ),
)

_COMPILED: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE if "(?i:" not in pattern else 0), template)
    for pattern, template in EVENT_PATTERNS
)


def _year(raw: str | None) -> int | None:
    if not raw:
        return None
    digits = raw.lstrip("'")
    value = int(digits)
    return value if len(digits) == 4 else 2000 + value


def _render(template: str, groups: dict[str, str | None], year: int | None) -> str:
    city = " ".join((groups.get("city") or "").split())
    name = template.format(year=year if year is not None else "", city=city)
    return " ".join(name.split())


def _match(text: str) -> Event | None:
    for pattern, template in _COMPILED:
        m = pattern.search(text)
        if not m:
            continue
        groups = m.groupdict()
        year = _year(groups.get("year") or groups.get("year_glued") or groups.get("year_before"))
        name = _render(template, groups, year)
        return Event(slug=slugify(name), name=name, year=year)
    return None


@dataclass(frozen=True)
class Keynote:
    """A keynote of a declared event: who gave it and on which day."""

    speaker: str
    day: date

    def matches(self, text: str) -> bool:
        """Whether a lower-cased session title or speaker list names this keynote's speaker."""
        name = self.speaker.lower()
        if name in text:
            return True
        last = name.split()[-1] if name.split() else ""
        return bool(last) and re.search(r"(?<![\w])" + re.escape(last) + r"(?![\w])", text) is not None


@dataclass(frozen=True)
class DeclaredEvent:
    """An event declared in tracker/data/events.toml: its name, days, keynotes and other spellings."""

    event: Event
    starts: date | None = None
    ends: date | None = None
    aliases: tuple[str, ...] = ()
    keynotes: tuple[Keynote, ...] = ()

    def names(self, text: str) -> bool:
        """Whether a text names this event (its display name or an alias, as whole words)."""
        folded = " ".join(clean_text(text).lower().split())
        for name in (self.event.name, *self.aliases):
            needle = " ".join(name.lower().split())
            if needle and re.search(r"(?<![\w:])" + re.escape(needle) + r"(?![\w])", folded):
                return True
        return False

    def near(self, day: date) -> bool:
        """Whether a date falls in the event's days, from a month before to two months after."""
        if self.starts is None:
            return False
        return self.starts - timedelta(days=30) <= day <= (self.ends or self.starts) + timedelta(days=60)


_EVENT_KEYS = {"name", "starts", "ends", "aliases", "keynotes"}


def _as_date(value: object, *, file: str, key: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"expected a date (YYYY-MM-DD), got {value!r}", file=file, key=key)


def load_declared_events(path: Path) -> tuple[DeclaredEvent, ...]:
    """The `[[event]]` tables of an events.toml (none when the file does not exist)."""
    file = str(path)
    data = read_toml(path)
    unknown = set(data) - {"event"}
    if unknown:
        raise ConfigError("unknown key (expected [[event]] tables)", file=file, key=sorted(unknown)[0])
    declared: list[DeclaredEvent] = []
    for number, table in enumerate(data.get("event", []), 1):
        where = f"event[{number}]"
        if not isinstance(table, dict):
            raise ConfigError("expected a table", file=file, key=where)
        extra = set(table) - _EVENT_KEYS
        if extra:
            raise ConfigError(
                f"unknown key (known: {', '.join(sorted(_EVENT_KEYS))})", file=file, key=f"{where}.{sorted(extra)[0]}"
            )
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError("an event needs a name", file=file, key=f"{where}.name")
        aliases = table.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ConfigError("expected a list of strings", file=file, key=f"{where}.aliases")
        starts = _as_date(table.get("starts"), file=file, key=f"{where}.starts")
        ends = _as_date(table.get("ends"), file=file, key=f"{where}.ends")
        if starts and ends and ends < starts:
            raise ConfigError("ends before it starts", file=file, key=f"{where}.ends")
        # A declared name a pattern recognises keeps the pattern's canonical spelling and slug.
        known = _match(clean_text(name))
        event = known if known is not None and known.year is not None else None
        if event is None:
            clean = " ".join(name.split())
            year = starts.year if starts else None
            event = Event(slug=slugify(clean), name=clean, year=year)
        keynotes = []
        for index, item in enumerate(table.get("keynotes", []), 1):
            at = f"{where}.keynotes[{index}]"
            if not isinstance(item, dict) or not isinstance(item.get("speaker"), str) or not item["speaker"].strip():
                raise ConfigError("a keynote is a table with a 'speaker' and a 'day'", file=file, key=at)
            day = _as_date(item.get("day"), file=file, key=f"{at}.day")
            if day is None:
                raise ConfigError("a keynote needs its 'day'", file=file, key=f"{at}.day")
            if starts and not (starts <= day <= (ends or starts)):
                raise ConfigError("the keynote's day is not one of the event's days", file=file, key=f"{at}.day")
            keynotes.append(Keynote(item["speaker"].strip(), day))
        declared.append(DeclaredEvent(event, starts, ends, tuple(a for a in aliases if a.strip()), tuple(keynotes)))
    return tuple(declared)


def _on_day(value: date | datetime | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


def _dated(undated: Event, day: date | None, declared: Sequence[DeclaredEvent]) -> Event:
    """The edition an undated name ("re:Invent") means, from the date of the text naming it."""
    if day is None:
        return undated
    editions = [
        d
        for d in declared
        if d.event.year is not None and d.event.slug == f"{undated.slug}-{d.event.year}" and d.near(day)
    ]
    if not editions:
        return undated
    return min(editions, key=lambda d: abs(((d.starts or day) - day).days)).event


def detect_event(
    *texts: str | None,
    declared: Sequence[DeclaredEvent] = (),
    on: date | datetime | None = None,
) -> Event | None:
    """The event the texts name, in priority order; an edition with a year beats one without.

    Declared events (tracker/data/events.toml) are recognised by name or alias before the patterns;
    a name without a year takes the year of the declared edition around the date ``on``.
    """
    undated: Event | None = None
    for text in texts:
        if not text:
            continue
        for item in declared:
            if item.names(text):
                return item.event
        event = _match(clean_text(text))
        if event is None:
            continue
        if event.year is not None:
            return event
        undated = undated or event
    if undated is not None and declared:
        return _dated(undated, _on_day(on), declared)
    return undated
