"""Cross-document dedupe: is a newly seen announcement a launch the store already has?

Exact keys (`title_key`) already merge "Announcing Amazon X" with "Amazon X is now generally
available". This catches the rest of the ways one launch is written in different places: a
News Blog post title with a tagline ("Introducing Amazon X for the data you need fast"), a
What's New headline with a verb after the service ("AWS Lambda announces durable timers").
It compares the words that name the launch once the service's own words and launch wording
are set aside; a merge needs at least two such words and all of the shorter title's.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from tracker.items import Service
from tracker.normalize.text import fold, title_key

# Words that say how something is announced, not what: they never tell two launches apart.
_FILLER = frozenset(
    """a an and the of for on in to with by at from into via your you our we us is are be can it its
    that this these now new today announce announces announced announcing introduce introduces
    introducing launch launches launched launching unveil unveils add adds added support supports
    supported enable enables enabled offer offers available availability generally general ga
    preview public expands expanded extends aws amazon""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
# Launches that share their words but are months apart are usually a region expansion or a
# successor, not the same launch.
MAX_DAYS_APART = 45
MIN_SHARED_WORDS = 2


def _stem(word: str) -> str:
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


@lru_cache(maxsize=65536)
def _words(text: str) -> frozenset[str]:
    # Cached: a backfill reads the same titles and service names for every candidate pair.
    return frozenset(_stem(w) for w in _WORD.findall(fold(text).lower().replace("'", "").replace("’", "")))


@lru_cache(maxsize=4096)
def _service_words(service: Service) -> frozenset[str]:
    words = set(_words(service.name))
    for alias in service.aliases:
        # Only short aliases are the service's name; long ones may carry a feature's words.
        if len(alias.split()) <= 3:
            words |= _words(alias)
    return frozenset(words)


@lru_cache(maxsize=65536)
def _title_words(title: str) -> frozenset[str]:
    return _words(title_key(title))


def launch_words(title: str, services: Iterable[Service] = ()) -> frozenset[str]:
    """The words of a title that name the launch itself."""
    generic = set(_FILLER)
    for service in services:
        generic |= _service_words(service)
    return frozenset(w for w in _title_words(title) if w not in generic and (len(w) > 1 or w.isdigit()))


@dataclass(frozen=True, slots=True)
class Known:
    """A stored announcement that a new one may duplicate."""

    key: str
    title: str
    service_slugs: frozenset[str]
    announced_at: datetime | None


def same_launch(
    words: frozenset[str], slugs: frozenset[str], when: datetime | None,
    other_words: frozenset[str], other: Known,
) -> bool:
    """Whether two announcements are one launch: shared service, close dates, same naming words."""
    if not _may_be_same(slugs, when, other):
        return False
    small, big = sorted((words, other_words), key=len)
    return len(small) >= MIN_SHARED_WORDS and small <= big


def _may_be_same(slugs: frozenset[str], when: datetime | None, other: Known) -> bool:
    # One side's services must hold the other's: a launch that names a service the other
    # lacks ("zero-ETL with OpenSearch" against "zero-ETL with Redshift") is another launch.
    if not slugs or not other.service_slugs:
        return False
    if not (slugs <= other.service_slugs or other.service_slugs <= slugs):
        return False
    if when is not None and other.announced_at is not None:
        return abs((when - other.announced_at).total_seconds()) <= MAX_DAYS_APART * 86400
    return True


def find_duplicate(
    title: str, services: Iterable[Service], when: datetime | None, known: Iterable[Known],
    service_index: dict[str, Service],
) -> str | None:
    """The key of the stored announcement this one duplicates, if any (the closest wins)."""
    services = list(services)
    slugs = frozenset(s.slug for s in services)
    best: tuple[float, str] | None = None
    for other in known:
        if not _may_be_same(slugs, when, other):
            continue  # the cheap tests first: most candidates fail them
        # Both titles are read with both sides' services set aside.
        both = [*services, *(service_index[s] for s in other.service_slugs if s in service_index)]
        mine, other_words = launch_words(title, both), launch_words(other.title, both)
        if not same_launch(mine, slugs, when, other_words, other):
            continue
        # Prefer the candidate whose naming words overlap most (Jaccard).
        closeness = len(mine & other_words) / max(1, len(mine | other_words))
        if best is None or closeness > best[0]:
            best = (closeness, other.key)
    return best[1] if best else None
