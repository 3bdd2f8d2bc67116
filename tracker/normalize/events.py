"""Events (re:Invent, re:Inforce, Summits…) named in titles, headings or declared names.

The recognised events are data: EVENT_PATTERNS below, one row per event family. Each row is a
regular expression (matched case-insensitively, except where it says otherwise with an inline
flag) whose named groups fill a display-name template; the slug is slugify(display name).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

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
    (r"\b(?i:aws)\s+(?i:summit)\s+(?P<year>20\d{2})\s*[-–—,]?\s*(?P<city>[A-Z][\w.'’-]*(?:,?\s+[A-Z][\w.'’-]*){0,2})", "AWS Summit {city} {year}"),
    (
        r"\b(?i:aws)\s+(?i:community\s+day)\s+(?P<city>[A-Z][\w.'’-]*(?:,?\s+[A-Z][\w.'’-]*){0,2}?)\s*[-–—,]?\s*(?P<year>20\d{2})\b",
        "AWS Community Day {city} {year}",
    ),
)

_COMPILED: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE if "(?i:" not in pattern else 0), template) for pattern, template in EVENT_PATTERNS
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


def detect_event(*texts: str | None) -> Event | None:
    """The event the texts name, in priority order; an edition with a year beats one without."""
    undated: Event | None = None
    for text in texts:
        if not text:
            continue
        event = _match(clean_text(text))
        if event is None:
            continue
        if event.year is not None:
            return event
        undated = undated or event
    return undated
