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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache

from tracker import meaning
from tracker.items import NormalizedAnnouncement, Service
from tracker.normalize.events import detect_event
from tracker.normalize.text import fold, title_key

# Words that say how something is announced, not what: they never tell two launches apart.
_FILLER = frozenset(
    """a an and the of for on in to with by at from into via your you our we us is are be can it its
    that this these now new today announce announces announced announcing introduce introduces
    introducing launch launches launched launching unveil unveils add adds added support supports
    supported enable enables enabled offer offers available availability generally general ga
    preview public expands expanded extends aws amazon instance instances type types family service
    feature features capability capabilities option powered""".split()
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
    event: str | None = None


# A launch's later expansion to more Regions is another announcement than the launch itself.
_EXPANSION = re.compile(
    r"(?i)\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|more|additional|new|other|all)\s+"
    r"(?:(?:aws|commercial|global)\s+)?regions?\b|\bnow available in\b|\bexpands?\b.*\bregions?\b|"
    r"\bgovcloud\b|\bregional expansion\b"
)


def is_expansion(title: str) -> bool:
    """Whether a title announces a Region expansion of an earlier launch."""
    return _EXPANSION.search(title) is not None


def same_announcement(
    title: str,
    services: Iterable[Service],
    when: datetime | None,
    event: str | None,
    other_title: str,
    other_services: Iterable[Service],
    other_when: datetime | None,
    other_event: str | None,
) -> bool:
    """Whether two announcements are one launch.

    A Region expansion is never its launch. The same name at the same event is one launch,
    whatever dates its documents carry; otherwise both must be dated within MAX_DAYS_APART of
    each other (an undated one merges only on an identical name at the same event), name the
    same services (one side's within the other's) and the same naming words.
    """
    services, other_services = list(services), list(other_services)
    if is_expansion(title) != is_expansion(other_title):
        return False
    same_event = bool(event) and event == other_event
    if event and other_event and event != other_event:
        return False
    identical = bare_key(title) == bare_key(other_title)
    if identical and same_event:
        return True
    if when is None or other_when is None:
        return False
    if not same_event and abs((when - other_when).total_seconds()) > MAX_DAYS_APART * 86400:
        return False
    if identical:
        return True
    if _numbers(title) and _numbers(other_title) and _numbers(title) != _numbers(other_title):
        return False  # Trainium2 and Trainium3, Kubernetes 1.28 and 1.29: versions, not wordings
    slugs = frozenset(s.slug for s in services)
    other_slugs = frozenset(s.slug for s in other_services)
    if slugs and other_slugs:
        if not (slugs <= other_slugs or other_slugs <= slugs):
            return False
    elif not same_event:
        return False  # a title naming no known service is compared only within its event
    mine, theirs = _naming_words(title, services, other_title, other_services)
    if (
        slugs
        and slugs == other_slugs
        and not mine
        and not theirs
        and _words(bare_key(title)) == _words(bare_key(other_title))
    ):
        return True  # both titles are the service's name, in one spelling ("AWS Clean Room(s)")
    if same_event and slugs and slugs == other_slugs and _jaccard(mine, theirs) > SAME_EVENT_OVERLAP:
        return True  # one event, one service, mostly the same naming words
    if _words_agree(mine, theirs):
        return True
    return same_event and _same_meaning(title, other_title)


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# Cosine similarity of multilingual-e5-small (tracker.meaning) from which two titles of one
# event, dated, not told apart by the rules above, are one launch. Chosen by cross-validation
# on tests/normalize/merge_pairs.json (threshold fitted on 4/5 of the pairs, measured on the
# rest): the e5 scale is compressed (unrelated titles score about 0.75), so sameness sits high.
# Held out, that gave precision 0.983 and recall 0.715 (0.570 without meaning); most folds chose
# these values, which make no wrong merge on the whole set.
SAME_MEANING = 0.955
# With Japanese (or Chinese, Korean) on either side the model's scores run lower.
SAME_MEANING_CJK = 0.84


def _same_meaning(title: str, other_title: str) -> bool:
    # Only within one event: across events the same meaning is most often a later launch.
    score = meaning.similarity(title, other_title)
    if score is None:
        return False
    cjk = bool(_CJK.search(title) or _CJK.search(other_title))
    return score >= (SAME_MEANING_CJK if cjk else SAME_MEANING)


_NUMBER = re.compile(r"\d+")
SAME_EVENT_OVERLAP = 0.5


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _numbers(title: str) -> frozenset[str]:
    return frozenset(_NUMBER.findall(title))


def bare_key(title: str) -> str:
    """A title's dedupe text without its brand ("Amazon", "AWS") words."""
    return " ".join(w for w in title_key(title).split() if w not in ("amazon", "aws"))


def _naming_words(
    title: str, services: list[Service], other_title: str, other_services: list[Service]
) -> tuple[frozenset[str], frozenset[str]]:
    # The services both sides name are set aside, by the spellings each title uses: an alias
    # one title does not write ("S3 Express" of Amazon S3 in "S3 Metadata price cut") is part
    # of what tells launches apart.
    mine_slugs = {s.slug for s in services}
    common = [s for s in other_services if s.slug in mine_slugs]
    shared = _title_words(title) & _title_words(other_title)
    generic = set(_FILLER)
    for service in common:
        for name in (service.name, *service.aliases):
            spelled = _words(name)
            # The service's name, or a short alias that both titles write.
            if spelled and (name == service.name or (len(spelled) <= 3 and spelled <= shared)):
                generic |= spelled

    def naming(text: str) -> frozenset[str]:
        return frozenset(w for w in _title_words(text) if w not in generic and (len(w) > 1 or w.isdigit()))

    return naming(title), naming(other_title)


def _words_agree(mine: frozenset[str], theirs: frozenset[str]) -> bool:
    small, big = sorted((mine, theirs), key=len)
    if not small or not small <= big:
        return False
    if len(small) >= MIN_SHARED_WORDS or small == big:
        return True
    # One naming word: enough when it is distinctive ("Inf2", "Graviton4") and the other
    # title adds little to it.
    (word,) = tuple(small)
    return (any(ch.isdigit() for ch in word) or len(word) >= 6) and len(big) <= 2


def find_duplicate(
    title: str,
    services: Iterable[Service],
    when: datetime | None,
    known: Iterable[Known],
    service_index: dict[str, Service],
    *,
    event: str | None = None,
) -> str | None:
    """The key of the stored announcement this one duplicates, if any (the closest wins)."""
    services = list(services)
    best: tuple[float, str] | None = None
    for other in known:
        theirs = [service_index[s] for s in other.service_slugs if s in service_index]
        if not same_announcement(title, services, when, event, other.title, theirs, other.announced_at, other.event):
            continue
        mine, other_words = _naming_words(title, services, other.title, theirs)
        # Prefer the candidate whose naming words overlap most (Jaccard).
        closeness = _jaccard(mine, other_words)
        if best is None or closeness > best[0]:
            best = (closeness, other.key)
    return best[1] if best else None


def same_key_other_launch(
    when: datetime | None, event: str | None, stored_when: datetime | None, stored_event: str | None
) -> bool:
    """Whether an announcement whose key is already stored is nonetheless another launch: its
    event is another, or both are dated and far apart outside one event (a name reused years
    later, a preview and its GA a year on)."""
    if event and stored_event:
        return event != stored_event
    if when is not None and stored_when is not None:
        return abs((when - stored_when).total_seconds()) > MAX_DAYS_APART * 86400
    return False


def own_key(na: NormalizedAnnouncement) -> NormalizedAnnouncement:
    """The announcement under a key of its own, for when its key is stored for another launch of
    the same name (`same_key_other_launch`): the key gets the event's slug, else the year."""
    event = detect_event(na.event) if na.event else None
    suffix = event.slug if event else (str(na.announced_at.year) if na.announced_at else "other")
    return replace(na, key=f"{na.key}-{suffix}")


def keep_previous_key(
    normalized: list[NormalizedAnnouncement], previous: Sequence[str]
) -> list[NormalizedAnnouncement]:
    """A one-launch document (a What's New item, a launch post) whose title was reworded upstream
    is still the same launch: it keeps the key of the one announcement it mentioned before."""
    if len(normalized) == 1 and len(previous) == 1 and previous[0] != normalized[0].key:
        return [replace(normalized[0], key=previous[0])]
    return normalized
