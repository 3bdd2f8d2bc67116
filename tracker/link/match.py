"""Scoring an announcement against a session title: the title method of linking."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from tracker.items import Link, LinkMethod
from tracker.link.words import (
    GENERIC_SESSION_WORDS,
    STOPWORDS,
    UNIFORM,
    TokenWeights,
    _core,
    _stems,
    distinctive,
    words,
)

GENERIC_SCORE = 0.45  # a general session about the launch's service: below the default threshold
MISSING_SERVICE_FACTOR = 0.5  # the session does not name a service of the launch
SINGLE_WEAK_WORD_CAP = 0.5  # one common shared word and no service to back it
NAMED_LAUNCH_SCORE = 0.9  # the session names the service and every word of the launch's name
# "What's new with Amazon S3" covers the service's launches of its event: above the default
# threshold, where a general "Dive deep on Amazon S3" stays at GENERIC_SCORE.
WHATS_NEW_SCORE = 0.7
_WHATS_NEW = re.compile(r"(?i)^\W*(?:\[[^\]]*\]\s*|\{[^}]*\}\s*)?what[’']?s\s+new\s+(?:with|in|for|on)\b")


@dataclass(frozen=True, slots=True)
class Candidate:
    """What linking needs to know of an announcement or a session."""

    title: str
    services: tuple[str, ...] = ()  # display names of its services
    event: str | None = None  # event slug
    aliases: tuple[tuple[str, ...], ...] = ()  # per service (same order), its other spellings


K = TypeVar("K", int, str, int | str)  # how the caller names its sessions: a document's keys, stored ids


@dataclass(frozen=True, slots=True)
class SessionMatch(Generic[K]):
    """A session an announcement links to, by the caller's key for it, and why."""

    session: K
    link: Link


@dataclass(frozen=True, slots=True)
class _ServiceNames:
    name: str
    name_words: frozenset[str]  # words removed from the launch's words: they name the service
    spellings: tuple[frozenset[str], ...]  # any of them inside a session title (as words) names it


def _service_names(cand: Candidate) -> list[_ServiceNames]:
    return [
        _service_entry(name, cand.aliases[i] if i < len(cand.aliases) else ()) for i, name in enumerate(cand.services)
    ]


@functools.lru_cache(maxsize=4096)
def _service_entry(name: str, aliases: tuple[str, ...]) -> _ServiceNames:
    # Cached: the same few hundred services recur across every announcement of a store.
    own = _core(name)
    name_words = set(own)
    spellings = [own] if own else []
    for alias in aliases:
        core = _core(alias)
        # Lower-case ids ("logs", "monitoring") are API names, not how people write a service.
        if not core or alias == alias.lower():
            continue
        spellings.append(core)
        # A long form of the name ("Amazon Elastic File System") is the service's name; a
        # sub-product ("S3 Express One Zone") holds the name plus the launch's own words.
        if alias.split()[0] in ("Amazon", "AWS") and not (core & own):
            name_words |= core
    return _ServiceNames(name, frozenset(name_words), tuple(dict.fromkeys(spellings)))


# Words before a capitalised name that make it the launch ("… using Amazon ECS Express Mode");
# after "in"/"for"/"to"/"on" the name is where the launch happens ("… in Amazon SageMaker Studio").
_LAUNCH_LEADS = frozenset("introducing announcing announces new using with meet via".split())
_HEAD = re.compile(r"\s+[–—-]\s+|:\s+|\s+\(")
_WORD = re.compile(r"[^\s,;:()\[\]{}]+")


def _is_capital(word: str) -> bool:
    core = word.strip("'\"“”‘’.!?")
    return bool(core) and (core[0].isupper() or core[0].isdigit() or any(c.isupper() for c in core[1:]))


def launch_name_words(title: str, services: Sequence[_ServiceNames]) -> frozenset[str]:
    """The words that name the launch next to its service ("Amazon RDS *Custom*", "IAM Policy *Autopilot*").

    A run of capitalised words holding a service name is the launch's name when it starts the
    title or follows a launch word; its words beyond the service's own name must all be in a
    session title that covers this launch.
    """
    if not services:
        return frozenset()
    name_stems = _stems(t for s in services for t in s.name_words)
    spellings = [sp for s in services for sp in s.spellings]
    found: set[str] = set()
    raw = _WORD.findall(title)
    lower = [w for w in raw[1:] if w[:1].islower() and w.lower() not in STOPWORDS]
    sentence_case = len(lower) >= 2
    i = 0
    while i < len(raw):
        if not _is_capital(raw[i]):
            i += 1
            continue
        j = i
        while j < len(raw) and _is_capital(raw[j]):
            j += 1
        lead = raw[i - 1].lower().strip(":") if i else ""
        start = i
        if i == 0 and sentence_case and raw[0][:1].isupper() and raw[0][1:].islower():
            start = 1  # "Simplify IAM policy…": the first word is capitalised for its place only
        run = " ".join(raw[start:j])
        run_words = {word: stem for word, stem in words(run) if word not in STOPWORDS}
        if (i == 0 or lead in _LAUNCH_LEADS) and any(sp and sp <= run_words.keys() for sp in spellings):
            found |= set(run_words.values()) - name_stems
        i = j
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class _Variant:
    """One wording of a launch to score: its whole title, or the head before a subtitle."""

    head: str | None  # the head's text when this is the head variant
    own: frozenset[str]  # distinctive stems
    launch_name: frozenset[str]  # stems of the launch's own name next to its service
    shown: dict[str, str]  # stem -> the word as written, for reasons


@dataclass(frozen=True, slots=True)
class _Launch:
    """An announcement prepared once for scoring against many sessions."""

    services: tuple[_ServiceNames, ...]
    name_stems: frozenset[str]
    variants: tuple[_Variant, ...]


@dataclass(frozen=True, slots=True)
class _Title:
    """A session title's words and stems, computed once."""

    words: frozenset[str]
    stems: frozenset[str]
    content: frozenset[str]  # stems of its non-stop words
    whats_new: bool = False  # "What's new with X": a round-up of X's launches


def _session_title(title: str, *, event_known: bool = True) -> _Title:
    # A round-up covers the launches of its own event: without a known event it is generic.
    pairs = words(title)
    return _Title(
        frozenset(w for w, _ in pairs),
        frozenset(s for _, s in pairs),
        frozenset(s for w, s in pairs if w not in STOPWORDS and (len(w) > 1 or w.isdigit())),
        event_known and is_whats_new(title),
    )


def is_whats_new(title: str) -> bool:
    """Whether a session title announces a round-up of launches ("What's new with Amazon S3")."""
    return _WHATS_NEW.search(title) is not None


def _generic_score(title: _Title) -> float:
    return WHATS_NEW_SCORE if title.whats_new else GENERIC_SCORE


def _generic(named: Sequence[_ServiceNames], title: _Title, why: str) -> Link:
    if title.whats_new:
        return Link(
            LinkMethod.TITLE, WHATS_NEW_SCORE, f"a “what's new” session about {_names(named)}, the launch's service"
        )
    return Link(LinkMethod.TITLE, GENERIC_SCORE, why)


def _prepare(announcement: Candidate) -> _Launch:
    services = tuple(_service_names(announcement))
    name_stems = frozenset(_stems(t for s in services for t in s.name_words))
    texts: list[tuple[str, str | None]] = [(announcement.title, None)]
    head = _HEAD.split(announcement.title, maxsplit=1)[0].strip()
    if head and head != announcement.title.strip():
        texts.append((head, head))
    variants = []
    for text, label in texts:
        own = frozenset(distinctive(text, stems=name_stems))
        shown = {stem: word for word, stem in reversed(words(text))}
        variants.append(_Variant(label, own, frozenset(launch_name_words(text, services)) & own, shown))
    return _Launch(services, name_stems, tuple(variants))


def score_title_match(
    announcement: Candidate,
    session: Candidate,
    weights: TokenWeights | None = None,
    *,
    strict_event: bool = False,
) -> Link | None:
    """Score how well a session's title names an announcement; None when unrelated.

    With ``strict_event`` both must belong to the same known event (linking across
    documents); otherwise only two different known events rule a pair out. A title with a
    subtitle ("X – what it does") is also scored on its head alone; the better score counts.
    """
    if announcement.event != session.event and (strict_event or (announcement.event and session.event)):
        return None
    same_event = bool(announcement.event) and announcement.event == session.event
    return _best(_prepare(announcement), _session_title(session.title, event_known=same_event), weights or UNIFORM)


def _best(launch: _Launch, title: _Title, weights: TokenWeights, threshold: float | None = None) -> Link | None:
    best: Link | None = None
    for variant in launch.variants:
        link = _score(launch, variant, title, weights, threshold)
        if link is not None and (best is None or link.score > best.score):
            best = link
    return best


def _score(
    launch: _Launch, variant: _Variant, title: _Title, weights: TokenWeights, threshold: float | None
) -> Link | None:
    """The pair's link; with a threshold, None as soon as the score cannot reach it."""
    services = launch.services
    named = [s for s in services if any(sp <= title.words for sp in s.spellings)]
    missing = [s.name for s in services if s not in named]
    own = variant.own
    if not own:
        # The launch title is only a service name ("Amazon Q"): any session about the
        # service could cover it, but none says so specifically.
        if services and not missing and (threshold is None or _generic_score(title) >= threshold):
            return _generic(named, title, f"session names {_names(named)}, and the launch is only that name")
        return None
    found = own & title.stems
    if not found:
        if (
            services
            and not missing
            and not (title.content - launch.name_stems - GENERIC_SESSION_WORDS)
            and (threshold is None or _generic_score(title) >= threshold)
        ):
            return _generic(named, title, f"a general session about {_names(named)}, none of the launch's words")
        return None
    coverage = sum(weights.weight(t) for t in found) / sum(weights.weight(t) for t in own)
    # Distinctive words carry the score; naming every service as well adds confidence.
    score = 0.85 * coverage + (0.15 if services and not missing else 0.0)
    notes = []
    launch_name = variant.launch_name

    def say(stems: Iterable[str]) -> str:
        return ", ".join(sorted(variant.shown.get(t, t) for t in stems))

    if not services:
        if len(found) == 1:
            score = min(score, SINGLE_WEAK_WORD_CAP)
            notes.append("one shared word and no service to back it")
        else:
            score += 0.15 * coverage
    elif missing:
        score *= MISSING_SERVICE_FACTOR
        notes.append(f"does not name {_names(missing)}")
    elif launch_name and launch_name < own:
        if launch_name <= title.stems:
            score = max(score, NAMED_LAUNCH_SCORE)
            notes.append(f"names the launch itself ({say(launch_name)})")
        else:
            score = min(score, SINGLE_WEAK_WORD_CAP)
            notes.append(f"misses the launch's name ({say(launch_name - title.stems)})")
    if len(found) == 1 and weights.common(next(iter(found))) and (not services or missing):
        score = min(score, SINGLE_WEAK_WORD_CAP)
    score = round(min(score, 1.0), 3)
    if threshold is not None and score < threshold:
        return None
    reason = f"session title has {len(found)}/{len(own)} of the launch's words ({say(found)}; {coverage:.0%} by weight)"
    if named:
        reason += f" and names {_names(named)}"
    if notes:
        reason += "; " + "; ".join(notes)
    if variant.head:
        reason += f" (title head “{variant.head}”)"
    return Link(LinkMethod.TITLE, score, reason)


def _names(items: Sequence[_ServiceNames] | Sequence[str]) -> str:
    return ", ".join(item if isinstance(item, str) else item.name for item in items)


def best_links(
    announcement: Candidate,
    sessions: Sequence[tuple[str, Candidate]],
    threshold: float,
    weights: TokenWeights | None = None,
) -> list[SessionMatch[str]]:
    """Sessions (by key) whose title match reaches the threshold, best first."""
    scored = []
    for key, session in sessions:
        link = score_title_match(announcement, session, weights)
        if link is not None and link.score >= threshold:
            scored.append(SessionMatch(key, link))
    scored.sort(key=lambda match: -match.link.score)
    return scored


def stale_title_links(
    announcement: Candidate, linked: Iterable[int], titles: Mapping[int, str], threshold: float
) -> list[int]:
    """The sessions (by id, titles in `titles`) of an announcement's stored title links that no
    longer reach `threshold` (it was raised, or the scorer got stricter): links to remove."""
    stale: list[int] = []
    for sid in linked:
        again = score_title_match(announcement, Candidate(titles.get(sid, ""), (), None))
        if again is None or again.score < threshold:
            stale.append(sid)
    return stale
