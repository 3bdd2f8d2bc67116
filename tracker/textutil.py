"""Text helpers shared by every stage: clean text, slugs, and the dates people type.

It sits below the stages (it imports only `tracker.redact`), so extract, normalize, store,
web and the CLI use one definition of each:

* `slugify` makes every slug: service and event slugs (and so published feed paths such as
  ``events/aws-reinvent-2023``), session title keys and in-document keys.
* `parse_bound` and `check_range` give ``since``/``until`` one meaning in the CLI and the API:
  a bare date ``until=2023-11-30`` includes that whole day, a date-time is exact, the range is
  ``[since, until)``.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta

from tracker.redact import strip_controls

log = logging.getLogger(__name__)

# --- text ------------------------------------------------------------------------------------


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    """A count with its noun: "1 announcement", "2 announcements" (`nouns` for an irregular plural)."""
    return f"{count:,} {noun if count == 1 else nouns or noun + 's'}"


_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_EMPHASIS = re.compile(r"(?<![\w*])(\*{1,3}|_{1,3})(?=\S)(.+?)(?<=\S)\1(?![\w*])")
_STRAY_MARKERS = re.compile(r"\*{2,}|(?<![\w])__|__(?![\w])|`+")
# An apostrophe or colon inside a word joins it: "re:Invent" is one word, as people read it.
_INNER_JOINER = re.compile(r"(?<=[a-z0-9])['’:](?=[a-z0-9])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def clean_text(s: str) -> str:
    """Collapse whitespace, strip markdown emphasis markers, unescape (double-escaped) HTML entities
    and remove terminal escape sequences, C0/C1 controls and bidirectional overrides."""
    if not s:
        return ""
    # Feeds double-escape entities ("&amp;nbsp;"): unescape until the text stops changing.
    for _ in range(3):
        unescaped = html.unescape(s)
        if unescaped == s:
            break
        s = unescaped
    # After unescaping: "&#27;[2J" is an escape sequence too. A screen-clearing sequence or a
    # right-to-left override in a title would reach terminals, feed readers and the API.
    s = strip_controls(s).translate(_INVISIBLE)
    # Whitespace collapsed first as well: emphasis across a line break ("*a\nb*") is emphasis
    # once the break is a space, and cleaning the result again must change nothing.
    s = " ".join(s.split())
    # Most texts have no marker at all: the two patterns (lookarounds over every character of
    # a long summary) were most of a backfill's cleaning, to change nothing.
    if "*" not in s and "_" not in s and "`" not in s:
        return s
    previous = None
    while previous != s:
        previous = s
        s = _EMPHASIS.sub(r"\2", s)
    s = _STRAY_MARKERS.sub("", s)
    return " ".join(s.split())


def fold(s: str) -> str:
    """Accents folded to ASCII (é → e); characters without an ASCII form are dropped."""
    return unicodedata.normalize("NFKD", s).encode("ascii", "ignore").decode("ascii")


_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_QUOTES = {"’": "'", "‘": "'"}


def fold_spaced(s: str) -> str:
    """`fold`, with every character that has no ASCII form (Japanese, a dash) a space.

    `fold` drops such characters, which glues the words around them: "ECSがVPC Lattice" became
    "ECSVPC Lattice", "Personalizeの新レシピNext" one word "PersonalizeNext".
    """
    if s.isascii():
        return s  # most titles: nothing to fold
    return _NON_ASCII.sub(lambda m: _QUOTES.get(m.group(), fold(m.group()) or " "), s)


def slugify(s: str, limit: int | None = None) -> str:
    """Lower-case ASCII words joined by hyphens; apostrophes and colons inside a word join it
    ("re:Invent" → "reinvent", "O'Reilly" → "oreilly"); at most `limit` characters; '' when nothing is left.

    Never change what this returns for a text: service and event slugs are published feed paths
    and stored keys (tests/test_textutil.py pins the published forms).
    """
    text = fold(clean_text(s)).lower()
    text = _INNER_JOINER.sub("", text)
    slug = _NON_ALNUM.sub("-", text).strip("-")
    if limit is not None and len(slug) > limit:
        slug = slug[:limit].rstrip("-")
    return slug


# --- dates people type -----------------------------------------------------------------------

DATE_RANGE = "between 0001-01-01 and 9999-12-31 (in UTC)"


class DateError(ValueError):
    """A `since`/`until` value that is not a usable date; the message says what to write instead."""


def parse_bound(value: str, *, end: bool = False) -> datetime:
    """A `since` (end=False) or `until` (end=True) bound as an aware UTC datetime.

    YYYY-MM-DD is a whole day: as `since` its first moment, as `until` the first moment of the
    next day, so that the range [since, until) includes the day named. An ISO 8601 date-time is
    that exact moment (naive = UTC). Every result is a moment datetime can hold in UTC:
    0001-01-01T00:00:00+14:00 is in year 0 in UTC, and the end of 9999-12-31 is in year 10000.
    """
    value = value.strip()
    if not value.isascii():
        # fromisoformat and strptime take other scripts' digits; dates are written in ASCII.
        raise DateError(f"{value!r} is not a date; write it in ASCII, e.g. 2030-12-05")
    day = _day(value)
    if day is not None:
        moment = datetime.combine(day, time(0), tzinfo=UTC)
        if not end:
            return moment
        try:
            return moment + timedelta(days=1)
        except OverflowError:
            raise DateError(
                f"the end of {value} is past the last moment a date can name; "
                f"give {value}T23:59:59Z instead (dates are {DATE_RANGE})"
            ) from None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise DateError(
            f"{value[:40]!r} is not a date; use YYYY-MM-DD or an ISO 8601 date-time such as 2030-12-05T10:00:00Z"
        ) from None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise DateError(f"{value} is not {DATE_RANGE}") from None


def _day(value: str) -> date | None:
    """The day a value names when it is a date without a time (2030-12-05, 20301205), else None."""
    if "T" in value.upper() or " " in value or ":" in value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def check_range(since: datetime | None, until: datetime | None) -> None:
    """Refuse an empty range: `since` must come before `until` (both already parsed by `parse_bound`)."""
    if since is not None and until is not None and since >= until:
        raise DateError("'since' must be before 'until' (a bare 'until' date includes that day)")
