"""Scoring announcement ↔ session pairs: pure functions returning `Link` values.

Two methods:
- structural: an announcement made inside a session's section of a document (a keynote
  heading with its video link) is covered by that session, score 1.0;
- title: a session whose title names the launch covers it. The score is the share of the
  launch's distinctive words (its title without stop words and without its services' names)
  found in the session title, each word weighted by how rare it is among the session titles
  (``TokenWeights``: "serverless" or "data" say less than "limitless"). The session must also
  name every service of the launch; a session that names the service and nothing of the
  launch (a generic "What's new with Amazon S3") scores ``GENERIC_SCORE``, below any sane
  threshold. A wrong link is worse than a missing one.

``SessionIndex`` finds the candidates of an announcement through an inverted index by token,
so linking costs what the shared words cost, never all pairs.
"""

from __future__ import annotations

import functools
import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tracker.items import Link

log = logging.getLogger(__name__)

# Words that say nothing about which launch a title is about.
STOPWORDS = frozenset(
    """a an and the of for on in to with by at from into via your you our we is are be it its as or
    now new newly introducing introduce introduces announcing announce announces announced launch
    launches launched launching available availability general generally preview ga support supports
    supported adds add added using use uses how what whats why when where which can that this these
    deep dive dives overview intro introduction getting started build building builds best practices
    session keynote breakout talk re invent reinvent aws amazon service services more all
    today lets let also than up out about across over under without within between
    region regions several additional expand expands expanded expansion update updates""".split()
)
TOKEN = re.compile(r"[a-z0-9]+")
GENERIC_SCORE = 0.45  # a general session about the launch's service: below the default threshold
MISSING_SERVICE_FACTOR = 0.5  # the session does not name a service of the launch
SINGLE_WEAK_WORD_CAP = 0.5  # one common shared word and no service to back it
NAMED_LAUNCH_SCORE = 0.9  # the session names the service and every word of the launch's name


_SUFFIXES = ("ations", "ation", "ically", "ally", "ing", "ed", "ic", "e")


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """A light suffix fold so that automatic/automated or scale/scaling share a stem."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4 and not word.isdigit():
            return word[: -len(suffix)]
    return word


def _fold_plural(tok: str) -> str:
    if len(tok) >= 4 and tok.endswith("s") and not tok.endswith(("ss", "us", "is")):
        return tok[:-1]
    return tok


# Words a session title uses to say it is a general session about a service, not about a launch.
GENERIC_SESSION_WORDS = frozenset(
    _stem(_fold_plural(word))
    for word in """whats new latest innovation innovations update updates announcement announcements
    feature features roadmap recap highlight highlights top year review look ahead future state""".split()
)


_GLUED_NUMBER = re.compile(r"([a-z]{4,})(\d{1,2})")


@functools.lru_cache(maxsize=65536)
def words(text: str) -> tuple[tuple[str, str], ...]:
    """(word, stem) pairs: the word lower-cased with a plural 's' folded, the stem for matching.

    A generation number glued to a name is its own word ("Trainium2" = "Trainium 2"), so both
    spellings compare alike; short names such as EC2 or S3 stay whole.
    """
    text = _GLUED_NUMBER.sub(r"\1 \2", text.lower().replace("'", "").replace("’", ""))
    return tuple((w, _stem(w)) for w in (_fold_plural(t) for t in TOKEN.findall(text)))


def tokens(text: str) -> list[str]:
    """The stems of a text's words (what titles are compared on)."""
    return [stem for _, stem in words(text)]


def _core(name: str) -> frozenset[str]:
    """A service spelling's own words ("Amazon Elastic File System" → elastic, file, system).

    Whole words, not stems: "transformation" does not name AWS Transform.
    """
    return frozenset(word for word, _ in words(name) if word not in STOPWORDS)


def _stems(names: Iterable[str]) -> set[str]:
    return {_stem(word) for word in names}


def distinctive(text: str, service_words: Iterable[str] = (), *, stems: Iterable[str] = ()) -> set[str]:
    """The stems of a title's words that identify the launch itself (not its services, not filler).

    service_words: service names whose words are left out; stems: stems left out as well.
    """
    generic = {t for w in service_words for t in tokens(w)} | set(stems)
    return {
        stem for word, stem in words(text)
        if word not in STOPWORDS and stem not in generic and (len(word) > 1 or word.isdigit())
    }


@dataclass(frozen=True, slots=True)
class Candidate:
    """What linking needs to know of an announcement or a session."""

    title: str
    services: tuple[str, ...] = ()  # display names of its services
    event: str | None = None  # event slug
    aliases: tuple[tuple[str, ...], ...] = ()  # per service (same order), its other spellings


@dataclass(frozen=True, slots=True)
class _ServiceNames:
    name: str
    name_words: frozenset[str]  # words removed from the launch's words: they name the service
    spellings: tuple[frozenset[str], ...]  # any of them inside a session title (as words) names it


def _service_names(cand: Candidate) -> list[_ServiceNames]:
    return [
        _service_entry(name, cand.aliases[i] if i < len(cand.aliases) else ())
        for i, name in enumerate(cand.services)
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


@dataclass
class TokenWeights:
    """Inverse document frequency of title words over a collection of session titles."""

    counts: Counter[str] = field(default_factory=Counter)
    total: int = 0

    @classmethod
    def of(cls, titles: Iterable[str]) -> TokenWeights:
        """Weights learnt from these titles."""
        weights = cls()
        for title in titles:
            weights.add(title)
        return weights

    def add(self, title: str) -> None:
        """Count one more title."""
        self.total += 1
        self.counts.update(set(tokens(title)))

    def weight(self, token: str) -> float:
        """ln(N / df), at least 1; uniform when the collection is too small to tell."""
        if self.total < 30:
            return 1.0
        return max(1.0, math.log((self.total + 1) / (self.counts.get(token, 0) + 1)))

    def common(self, token: str) -> bool:
        """Whether the word is in more than 2% of the titles."""
        return self.total >= 30 and self.counts.get(token, 0) * 50 > self.total


UNIFORM = TokenWeights()


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


def _session_title(title: str) -> _Title:
    pairs = words(title)
    return _Title(
        frozenset(w for w, _ in pairs),
        frozenset(s for _, s in pairs),
        frozenset(s for w, s in pairs if w not in STOPWORDS and (len(w) > 1 or w.isdigit())),
    )


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
    return _best(_prepare(announcement), _session_title(session.title), weights or UNIFORM)


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
        if services and not missing and (threshold is None or GENERIC_SCORE >= threshold):
            return Link("title", GENERIC_SCORE, f"session names {_names(named)}, and the launch is only that name")
        return None
    found = own & title.stems
    if not found:
        if (services and not missing and not (title.content - launch.name_stems - GENERIC_SESSION_WORDS)
                and (threshold is None or GENERIC_SCORE >= threshold)):
            return Link("title", GENERIC_SCORE, f"a general session about {_names(named)}, none of the launch's words")
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
    return Link("title", score, reason)


def _names(items: Sequence[_ServiceNames] | Sequence[str]) -> str:
    return ", ".join(item if isinstance(item, str) else item.name for item in items)


def best_links(
    announcement: Candidate,
    sessions: Sequence[tuple[str, Candidate]],
    threshold: float,
    weights: TokenWeights | None = None,
) -> list[tuple[str, Link]]:
    """Sessions (by key) whose title match reaches the threshold, best first."""
    scored = []
    for key, session in sessions:
        link = score_title_match(announcement, session, weights)
        if link is not None and link.score >= threshold:
            scored.append((key, link))
    scored.sort(key=lambda pair: -pair[1].score)
    return scored


class SessionIndex:
    """Sessions indexed by title word and event: candidates of a launch without scanning all pairs."""

    def __init__(self, sessions: Iterable[tuple[int | str, Candidate]] = ()) -> None:
        self._titles: dict[int | str, _Title] = {}
        self._postings: dict[tuple[str | None, str], list[int | str]] = {}
        self.weights: dict[str | None, TokenWeights] = {}
        for key, cand in sessions:
            self.add(key, cand)

    def __len__(self) -> int:
        return len(self._titles)

    def add(self, key: int | str, session: Candidate) -> None:
        """Index one session under each of its title words."""
        title = _session_title(session.title)
        self._titles[key] = title
        self.weights.setdefault(session.event, TokenWeights()).add(session.title)
        for tok in title.content:
            self._postings.setdefault((session.event, tok), []).append(key)

    def _posting(self, event: str | None, stem: str) -> list[int | str]:
        return self._postings.get((event, stem), [])

    def _naming(self, event: str | None, service: _ServiceNames) -> set[int | str]:
        """Sessions whose title holds a spelling of the service (through its rarest word)."""
        out: set[int | str] = set()
        for spelling in service.spellings:
            rarest = min((_stem(t) for t in spelling), key=lambda t: len(self._posting(event, t)))
            out.update(self._posting(event, rarest))
        return out

    def candidates(self, announcement: Candidate, threshold: float = 0.0) -> list[int | str]:
        """Sessions of the announcement's event that could reach the threshold.

        They share a distinctive word with it (or, for a bare service name, name the service);
        above ``MISSING_SERVICE_FACTOR`` they must also hold a spelling of each of its services.
        """
        return self._candidates(_prepare(announcement), announcement.event, threshold)

    def _candidates(self, launch: _Launch, event: str | None, threshold: float) -> list[int | str]:
        probe: set[str] = set()
        for variant in launch.variants:
            probe |= variant.own
        seen: dict[int | str, None] = {}
        if probe:
            for tok in probe:
                for key in self._posting(event, tok):
                    seen[key] = None
        else:
            for service in launch.services:
                for key in self._naming(event, service):
                    seen[key] = None
        if launch.services and threshold > MISSING_SERVICE_FACTOR:
            for service in launch.services:
                naming = self._naming(event, service)
                seen = {key: None for key in seen if key in naming}
        return list(seen)

    def links(self, announcement: Candidate, threshold: float) -> list[tuple[int | str, Link]]:
        """The sessions of the same event whose title covers the announcement, best first."""
        if announcement.event is None:
            return []  # across documents, only a shared known event makes a title match credible
        weights = self.weights.get(announcement.event, UNIFORM)
        launch = _prepare(announcement)
        out = []
        for key in self._candidates(launch, announcement.event, threshold):
            link = _best(launch, self._titles[key], weights, threshold)
            if link is not None and link.score >= threshold:
                out.append((key, link))
        out.sort(key=lambda pair: -pair[1].score)
        return out


def structural_link(session_title: str) -> Link:
    """The link of an announcement made inside a session's section."""
    return Link("structural", 1.0, f"announced in the section of “{session_title}”")


def links_in_document(
    sessions: Sequence[tuple[str, str, str | None]],
    announcements: Sequence[tuple[str, tuple[str, ...], tuple[str, ...], str | None]]
    | Sequence[tuple[str, tuple[str, ...], tuple[str, ...], str | None, tuple[tuple[str, ...], ...]]],
    threshold: float,
) -> list[list[tuple[str, Link]]]:
    """Links between one document's announcements and its own sessions.

    sessions: (key, title, event slug); announcements: (title, service names, keys of the
    sessions whose section encloses it, event slug[, per service its other spellings]).
    Returns, per announcement, its (session key, Link) pairs: structural ones first, then
    title matches above threshold.
    """
    titles = {key: title for key, title, _ in sessions}
    candidates = [(key, Candidate(title, (), event)) for key, title, event in sessions]
    result: list[list[tuple[str, Link]]] = []
    for row in announcements:
        title, services, enclosing, event = row[0], row[1], row[2], row[3]
        aliases = row[4] if len(row) > 4 else ()
        links: list[tuple[str, Link]] = [
            (key, structural_link(titles.get(key, key))) for key in enclosing if key in titles
        ]
        taken = {key for key, _ in links}
        ann = Candidate(title, services, event, aliases)
        for key, link in best_links(ann, [c for c in candidates if c[0] not in taken], threshold):
            links.append((key, link))
        result.append(links)
    return result
