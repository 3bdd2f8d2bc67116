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
    _stem,
    _stems,
    distinctive,
    words,
)
from tracker.textutil import fold

GENERIC_SCORE = 0.45  # a general session about the launch's service: below the default threshold
MISSING_SERVICE_FACTOR = 0.5  # the session does not name a service of the launch
SINGLE_WEAK_WORD_CAP = 0.5  # one common shared word and no service to back it
NAMED_LAUNCH_SCORE = 0.9  # the session names the service and every word of the launch's name
# "What's new with Amazon S3" covers the service's launches of its event: above the default
# threshold, where a general "Dive deep on Amazon S3" stays at GENERIC_SCORE.
WHATS_NEW_SCORE = 0.7
# A launch that is only a service's name is a new service: a session of its event whose subject
# is that service ("Kiro: your agentic IDE", "Spec-driven development with Kiro") covers it.
NEW_SERVICE_SCORE = 0.7
# A session that names the launch's first service and whose own words are mostly (at least half
# of them, by weight) the launch's covers it, however long the launch's title. Not fitted: a
# lower share fitted the labelled pairs better but links a session on another feature of a
# sub-product ("Design DynamoDB global tables for multi-Region writes" for "point-in-time
# recovery for global tables").
SESSION_COVERAGE = 0.5
SESSION_COVERED_SCORE = 0.65
# A session about a product that the launch names too ("… with the Amazon Q index" and "… access
# this Q index"): the service's name followed by the same words in both.
SHARED_PRODUCT_SCORE = 0.7
_TAG = r"^\s*(?:\[[^\]]*\]\s*|\{[^}]*\}\s*)?"
# A round-up of launches and the name it is about: "What's new with Amazon S3", "New LLM
# capabilities in Amazon SageMaker Canvas, with a customer".
_ROUND_UPS = (
    re.compile(r"(?i)^\W*" + _TAG + r"what[’']?s\s+new\s+(?:with|in|for|on)\s+(?P<name>.*)$"),
    re.compile(
        r"(?i)" + _TAG + r"new\s+(?P<what>[^:]{0,60}?\s)?(?:capabilities|features|innovations)\s+(?:in|for|with|on)\s+"
        r"(?P<name>[^:,;()]+)"
    ),
)


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


@dataclass(frozen=True, slots=True)
class _NameRun:
    """A run of capitalised words holding a service name, where it names the launch."""

    words: dict[str, str]  # its words (word → stem), without stop words
    spelled: bool  # it is exactly a spelling of the service (a product the taxonomy knows)
    after: tuple[str, ...]  # the title's words after it, up to the next punctuation


def _name_runs(title: str, services: Sequence[_ServiceNames]) -> list[_NameRun]:
    """The runs of capitalised words holding a service name that name the launch: they start
    the title or follow a launch word."""
    spellings = [sp for s in services for sp in s.spellings]
    spelled_words = {w for sp in spellings for w in sp}
    runs: list[_NameRun] = []
    found = list(_WORD.finditer(title))
    raw = [m.group() for m in found]
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
        first = {w for w, _ in words(raw[0])}
        if i == 0 and sentence_case and raw[0][:1].isupper() and raw[0][1:].islower() and not first & spelled_words:
            start = 1  # "Simplify IAM policy…": the first word is capitalised for its place only
        run = " ".join(raw[start:j])
        run_words = {word: stem for word, stem in words(run) if word not in STOPWORDS}
        if (i == 0 or lead in _LAUNCH_LEADS) and any(sp and sp <= run_words.keys() for sp in spellings):
            after = []
            for k in range(j, len(raw)):
                if title[found[k - 1].end() : found[k].start()].strip():
                    break  # a comma, a colon, a dash: the rest is another clause
                after.append(raw[k])
            spelled = any(sp == run_words.keys() for sp in spellings)
            runs.append(_NameRun(run_words, spelled, tuple(after)))
        i = j
    return runs


def launch_name_words(title: str, services: Sequence[_ServiceNames]) -> frozenset[str]:
    """The words that name the launch next to its service ("Amazon RDS *Custom*", "IAM Policy *Autopilot*").

    A run of capitalised words holding a service name is the launch's name when it starts the
    title or follows a launch word; its words beyond the service's own name must all be in a
    session title that covers this launch.
    """
    if not services:
        return frozenset()
    name_stems = _stems(t for s in services for t in s.name_words)
    return frozenset(stem for run in _name_runs(title, services) for stem in run.words.values()) - name_stems


# A verb after a named product that says what the launch adds to it ("X now supports Y").
_ADDS = frozenset("supports support adds offers introduces launches gets enables brings".split())
# Words that end the phrase of what a launch adds: a preposition, a clause.
_PHRASE_END = frozenset(
    """for in on to with by from of at into via across that which where while as is are was were
    has have had becomes became hits reaches""".split()
)


def launch_feature_words(title: str, services: Sequence[_ServiceNames]) -> frozenset[str]:
    """What a launch adds to the product it names: the words after a verb ("Bedrock Knowledge
    Bases now supports *GraphRAG*"), or right after a product the taxonomy knows ("SageMaker
    HyperPod *flexible training plans*"). A session that names the product and none of them is
    about another part of it."""
    found: set[str] = set()
    for run in _name_runs(title, services):
        rest = [w for w in run.after if w.lower() != "now"]
        if rest and rest[0].lower() in _ADDS:
            rest = rest[2:] if rest[1:2] == ["for"] else rest[1:]  # "… support for multi-agent …"
        elif not (run.spelled and rest and rest[0][:1].islower()):
            # "Amazon RDS Custom for …", "Aurora PostgreSQL zero-ETL integration": the name is the launch
            continue
        for word in rest:
            if word.lower() in _PHRASE_END:
                break
            found |= {stem for w, stem in words(word) if w not in STOPWORDS}
        found -= set(run.words.values())  # "Bedrock Agents support multi-agent …": agents is the product's
    return frozenset(found)


@dataclass(frozen=True, slots=True)
class _Variant:
    """One wording of a launch to score: its whole title, or the head before a subtitle."""

    head: str | None  # the head's text when this is the head variant
    own: frozenset[str]  # distinctive stems
    launch_name: frozenset[str]  # stems of the launch's own name next to its service
    shown: dict[str, str]  # stem -> the word as written, for reasons
    text: str = ""  # the wording itself
    acronyms: frozenset[str] = frozenset()  # "RUM", "IPAM"
    feature: frozenset[str] = frozenset()  # stems of what the launch adds to the product it names


@dataclass(frozen=True, slots=True)
class _Launch:
    """An announcement prepared once for scoring against many sessions."""

    services: tuple[_ServiceNames, ...]
    name_stems: frozenset[str]
    variants: tuple[_Variant, ...]
    # Part of the title is in letters the words do not read (Japanese): its words are not all
    # of what it says, so one shared word is weak evidence.
    unread: bool = False
    # The service the title names first ("Amazon DevOps Guru" of "Amazon DevOps Guru for RDS …"),
    # or every service when the title names none (they come from its context).
    primary: tuple[_ServiceNames, ...] = ()


@dataclass(frozen=True, slots=True)
class _Title:
    """A session title's words and stems, computed once."""

    words: frozenset[str]
    stems: frozenset[str]
    content: frozenset[str]  # stems of its non-stop words
    whats_new: bool = False  # "What's new with X": a round-up of X's launches
    text: str = ""
    acronyms: frozenset[str] = frozenset()
    # The names the title is about, as words: "X: …", "Introducing X", "… with X" / "… using X".
    subjects: tuple[frozenset[str], ...] = ()
    pairs: tuple[tuple[str, str], ...] = ()  # (word, stem) in the title's order
    branded: frozenset[str] = frozenset()  # stems of the words after "Amazon" or "AWS"
    # A round-up's: the words of each name it is about, and the stems of what it says of them.
    topics: tuple[frozenset[str], ...] = ()
    qualifier: frozenset[str] = frozenset()
    subject_names: tuple[str, ...] = ()  # the names the title is about, as written
    brands: tuple[frozenset[str], ...] = ()  # those written "Amazon X" or "AWS X", as words


_SUBJECTS = (
    re.compile(_TAG + r"(?P<name>(?:[^:]|:(?=\S)){1,60}?):\s"),
    re.compile(_TAG + r"introducing\s+(?P<name>.+?)(?:\s+and\s+|$)", re.IGNORECASE),
    re.compile(
        _TAG + r"(?:deep\s+dive|dive\s+deep)\s+(?:into|on)\s+(?P<name>.+?)(?:\s+and\s+|\s*[:&]|$)", re.IGNORECASE
    ),
    re.compile(r"\s(?:with|using)\s+(?P<name>(?:[^:,;()]|:(?=\S)){1,60}?)\s*$", re.IGNORECASE),
)


def _subject_names(title: str) -> tuple[str, ...]:
    return tuple(m.group("name") for pattern in _SUBJECTS if (m := pattern.search(title)))


def _subjects(title: str) -> tuple[frozenset[str], ...]:
    return tuple(core for core in (_core(name) for name in _subject_names(title)) if core)


# Words before a name that make it where a launch happens, not what launched ("… for S3 Tables").
_PLACE = frozenset("for in on to into from at across of inside".split())


def _after_name(pairs: Sequence[tuple[str, str]], name: frozenset[str]) -> Iterable[tuple[str, list[str]]]:
    """Where a title writes a service's own name: the word before it, and the stems of the words
    right after it up to the next stop word ("the Amazon Q *index*", "S3 *Table Buckets*")."""
    n = len(name)
    for i in range(len(pairs) - n + 1):
        if {w for w, _ in pairs[i : i + n]} != name:
            continue
        after = []
        for word, stem in pairs[i + n :]:
            if word in STOPWORDS:
                break
            after.append(stem)
        before = next((w for w, _ in reversed(pairs[:i]) if w not in ("amazon", "aws")), "")
        yield before, after


def _shared_product(variant: _Variant, title: _Title, named: Sequence[_ServiceNames]) -> str | None:
    """A product both titles name: the session is about a service's own name followed by more
    words ("… with the Amazon Q index"), and the launch writes the same words after that name,
    not as the place where it happens ("… access this Q index", not "… for Amazon Q index"),
    and its own name is no more than them. The product as the session writes it, or None."""
    launch_pairs = words(variant.text)
    for subject in title.subject_names:
        subject_pairs = words(subject)
        for service in named:
            for spelling in service.spellings:
                if not spelling <= service.name_words:
                    continue
                for _, theirs in _after_name(subject_pairs, spelling):
                    product = set(theirs)
                    if not product or not variant.launch_name <= product:
                        continue
                    own_name = _stems(service.name_words)
                    if any((part := _stems(known) - own_name) and part <= product for known in service.spellings):
                        continue  # a part of the service the taxonomy knows ("Q Developer"): the service
                    for before, ours in _after_name(launch_pairs, spelling):
                        if before not in _PLACE and product <= set(ours):
                            return subject.strip()
    return None


@functools.lru_cache(maxsize=65536)
def _session_title(title: str, *, event_known: bool = True) -> _Title:
    # A round-up covers the launches of its own event: without a known event it is generic.
    pairs = words(title)
    topic = _round_up_topic(title) if event_known else None
    return _Title(
        frozenset(w for w, _ in pairs),
        frozenset(s for _, s in pairs),
        frozenset(s for w, s in pairs if w not in STOPWORDS and (len(w) > 1 or w.isdigit())),
        topic is not None,
        title,
        _acronyms(title),
        _subjects(title) if event_known else (),
        pairs,
        frozenset(pairs[i + 1][1] for i, (w, _) in enumerate(pairs[:-1]) if w in ("amazon", "aws")),
        topic[0] if topic else (),
        topic[1] if topic else frozenset(),
        _subject_names(title) if event_known else (),
        tuple(b for b in (_brand(n.strip()) for n in _subject_names(title)) if b) if event_known else (),
    )


def _names_alone(title: _Title, stems: frozenset[str]) -> bool:
    """Whether the title writes these stems with no other name before them: "AWS outbound
    identity federation" does, "ECS Managed Instances" (another service's) does not."""
    for i, (_, stem) in enumerate(title.pairs):
        if stem in stems:
            before = title.pairs[i - 1][0] if i else ""
            return not before or before in STOPWORDS
    return False


_ACRONYM = re.compile(r"\b[A-Z]{3,5}\b")


def _acronyms(text: str) -> frozenset[str]:
    """The acronyms a title writes ("RUM", "IPAM")."""
    return frozenset(_ACRONYM.findall(text))


@functools.lru_cache(maxsize=4096)
def _initials(text: str) -> Mapping[str, frozenset[str]]:
    """The initials of each run of three to five words, with the run's stems: "Real-User
    Monitoring" is RUM. A title writes an acronym or its long form, rarely both."""
    pairs = [(w, s) for w, s in words(text) if w not in ("amazon", "aws")]
    out: dict[str, frozenset[str]] = {}
    for i in range(len(pairs)):
        for n in range(3, 6):
            run = pairs[i : i + n]
            if len(run) == n and all(w[0].isalpha() for w, _ in run):
                out.setdefault("".join(w[0] for w, _ in run).upper(), frozenset(s for _, s in run))
    return out


_ALTERNATIVES = re.compile(r"\s+(?:and|&)\s+|,\s*")


def _round_up_topic(title: str) -> tuple[tuple[frozenset[str], ...], frozenset[str]] | None:
    """What a round-up of launches is about: the words of each name it names ("What's new with
    AWS CloudFormation and AWS CDK" → cloudformation; cdk), and of what it says of them ("New
    *generative AI* capabilities in …"); None when the title is no round-up."""
    for pattern in _ROUND_UPS:
        if m := pattern.search(title):
            names = (
                frozenset(w for w, _ in words(part) if w not in STOPWORDS)
                for part in _ALTERNATIVES.split(m.group("name"))
            )
            what = m.groupdict().get("what") or ""
            return tuple(n for n in names if n), frozenset(s for w, s in words(what) if w not in STOPWORDS)
    return None


def is_whats_new(title: str) -> bool:
    """Whether a session title announces a round-up of launches ("What's new with Amazon S3",
    "New … capabilities in Amazon S3")."""
    return _round_up_topic(title) is not None


def _brand(text: str) -> frozenset[str] | None:
    """The words of a text that is only a capitalised name after "Amazon" or "AWS" ("AWS re:Post")."""
    raw = text.split()
    if len(raw) < 2 or raw[0] not in ("Amazon", "AWS") or not all(_is_capital(w) for w in raw[1:]):
        return None
    return _core(text) or None


def _round_up_covers(variant: _Variant, title: _Title, named: Sequence[_ServiceNames]) -> bool:
    """Whether a round-up session ("What's new with Amazon Q Developer agents") covers a launch
    whose services it names: the rest of a name it is about is the launch's.

    A part of the service the round-up names ("SageMaker Canvas") must be in the launch, unless
    the round-up says more that is ("agents" of "Amazon Q Developer agents" for "Q autonomous
    agents…") and the launch names no other part of the service. What "New … capabilities"
    says of the name ("New *generative AI* capabilities in AWS Management Console") must be in
    the launch too, unless it names the part of the service the round-up names.
    """
    launch = {stem for _, stem in words(variant.text)}
    launch_words = {w for w, _ in words(variant.text)}
    own_name = {w for s in named for w in s.name_words}
    qualifier = title.qualifier - GENERIC_SESSION_WORDS
    for topic in title.topics:
        held = [sp for s in named for sp in s.spellings if sp <= topic]
        if not held:
            continue  # "… and AI": a name of no service of the launch
        part = {w for sp in held for w in sp} - own_name
        rest = {_stem(w) for w in topic - own_name - part} - GENERIC_SESSION_WORDS
        if not rest <= launch:
            continue
        names_part = bool(part) and {_stem(w) for w in part} <= launch
        if qualifier and not names_part and not qualifier & launch:
            continue
        if not part or names_part:
            return True
        other_part = any(sp <= launch_words and not sp <= own_name for s in named for sp in s.spellings)
        if rest and not other_part:
            return True
    return False


def _generic(why: str) -> Link:
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
        variants.append(
            _Variant(
                label,
                own,
                frozenset(launch_name_words(text, services)) & own,
                shown,
                text,
                _acronyms(text),
                frozenset(launch_feature_words(text, services)) & own,
            )
        )
    unread = any(ch.isalpha() and not ch.isascii() and not fold(ch) for ch in announcement.title)
    return _Launch(services, name_stems, tuple(variants), unread, _primary(announcement.title, services))


def _primary(title: str, services: Sequence[_ServiceNames]) -> tuple[_ServiceNames, ...]:
    order = [w for w, _ in words(title)]
    first: dict[_ServiceNames, int] = {}
    for service in services:
        for spelling in service.spellings:
            at = [i for i, w in enumerate(order) if w in spelling]
            if len({order[i] for i in at}) == len(spelling) and at:
                first[service] = min(first.get(service, len(order)), min(at))
    if not first:
        return tuple(services)
    earliest = min(first.values())
    return tuple(s for s in services if first.get(s) == earliest)


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
    named = [s for s in launch.services if any(sp <= title.words for sp in s.spellings)]
    link = _score_words(launch, variant, title, weights, threshold, named)
    if (
        title.whats_new
        and (link is None or link.score < WHATS_NEW_SCORE)
        and (threshold is None or WHATS_NEW_SCORE >= threshold)
        and launch.services
        and len(named) == len(launch.services)
        and (variant.own or not launch.unread)
        and _round_up_covers(variant, title, named)
    ):
        return Link(
            LinkMethod.TITLE, WHATS_NEW_SCORE, f"a “what's new” session about {_names(named)}, the launch's service"
        )
    return link


def _score_words(
    launch: _Launch,
    variant: _Variant,
    title: _Title,
    weights: TokenWeights,
    threshold: float | None,
    named: Sequence[_ServiceNames],
) -> Link | None:
    """The pair's link by the words they share; with a threshold, None as soon as the score cannot reach it."""
    services = launch.services
    missing = [s.name for s in services if s not in named]
    own = variant.own
    if not own:
        # The launch title is only a service name ("Amazon Q"): a new service. A session of its
        # event that is about that service ("Kiro: your agentic IDE", "Practical generative AI
        # using Amazon Nova") covers it; any other session about the service could, but none
        # says so specifically.
        # (The session's subject is the name the launch wrote: "Amazon CodeWhisperer" is Amazon
        # Q's, but "Amazon Q generative SQL" is not about it.)
        written = _core(variant.text)
        subject = [s.name for s in services if written in title.subjects and not title.whats_new]
        if (
            subject
            and variant.head is None
            and not launch.unread
            and (threshold is None or NEW_SERVICE_SCORE >= threshold)
        ):
            return Link(
                LinkMethod.TITLE, NEW_SERVICE_SCORE, f"a session about {_names(subject)}, the new service the launch is"
            )
        if services and not missing and not launch.unread and (threshold is None or GENERIC_SCORE >= threshold):
            return _generic(f"session names {_names(named)}, and the launch is only that name")
        return None
    found = own & title.stems
    # An acronym on one side and its long form on the other ("Real-User Monitoring", "RUM").
    if title.acronyms:
        long_forms = _initials(variant.text)
        for acronym in title.acronyms:
            found |= long_forms.get(acronym, frozenset()) & own
    if variant.acronyms:
        long_forms = _initials(title.text)
        for acronym in variant.acronyms & long_forms.keys():
            found |= own & {s for _, s in words(acronym)}
    if not found:
        if (
            services
            and not missing
            and not (title.content - launch.name_stems - GENERIC_SESSION_WORDS)
            and (threshold is None or GENERIC_SCORE >= threshold)
        ):
            return _generic(f"a general session about {_names(named)}, none of the launch's words")
        return None
    coverage = sum(weights.weight(t) for t in found) / sum(weights.weight(t) for t in own)
    # Distinctive words carry the score; naming every service as well adds confidence.
    score = 0.85 * coverage + (0.15 if services and not missing else 0.0)
    notes = []
    launch_name = variant.launch_name
    # The session names the product but nothing of what the launch adds to it: it is about
    # another part of the product ("SageMaker HyperPod flexible training plans" and "Amazon
    # SageMaker HyperPod: reduce costs with new governance capability").
    misses_feature = bool(variant.feature) and not variant.feature & found

    def say(stems: Iterable[str]) -> str:
        return ", ".join(sorted(variant.shown.get(t, t) for t in stems))

    brand = _brand(variant.text)
    if not services and brand and brand in title.brands and not launch.unread:
        # "AWS re:Post – A Reimagined Q&A Experience …": a name the taxonomy does not know yet,
        # a new service, and a session about it ("Remove technical roadblocks with AWS re:Post").
        if threshold is not None and NEW_SERVICE_SCORE < threshold:
            return None
        return Link(
            LinkMethod.TITLE, NEW_SERVICE_SCORE, f"a session about {variant.text}, the new service the launch is"
        )
    if not services and title.branded and not title.branded & own:
        # A launch that names no service, and a session about services it does not name
        # ("Zero-ETL for Applications", "… Amazon Aurora & RDS data in Amazon Redshift with zero-ETL").
        score = min(score, SINGLE_WEAK_WORD_CAP)
        notes.append("the session is about services the launch does not name")
    elif not services:
        if len(found) == 1:
            score = min(score, SINGLE_WEAK_WORD_CAP)
            notes.append("one shared word and no service to back it")
        else:
            score += 0.15 * coverage
    elif (
        missing
        and len(launch_name) >= 2
        and launch_name <= title.stems
        and not misses_feature
        and _names_alone(title, launch_name)
    ):
        # "AWS outbound identity federation" names "AWS IAM Outbound Identity Federation" whole.
        score = max(score, NAMED_LAUNCH_SCORE)
        notes.append(f"names the launch itself ({say(launch_name)}) but not {_names(missing)}")
    elif missing:
        score *= MISSING_SERVICE_FACTOR
        notes.append(f"does not name {_names(missing)}")
    elif launch_name and launch_name < own:
        if launch_name <= title.stems and misses_feature:
            score = min(score, SINGLE_WEAK_WORD_CAP)
            notes.append(f"names {say(launch_name)} but not what the launch adds to it ({say(variant.feature)})")
        elif launch_name <= title.stems:
            score = max(score, NAMED_LAUNCH_SCORE)
            notes.append(f"names the launch itself ({say(launch_name)})")
        elif launch_name & found:
            notes.append(f"has part of the launch's name, not {say(launch_name - title.stems)}")
        else:
            score = min(score, SINGLE_WEAK_WORD_CAP)
            notes.append(f"misses the launch's name ({say(launch_name - title.stems)})")
    if services and not missing and not misses_feature and score < SHARED_PRODUCT_SCORE:
        product = _shared_product(variant, title, named)
        if product:
            score = SHARED_PRODUCT_SCORE
            notes.append(f"both are about {product}")
    misses_name = bool(launch_name) and launch_name < own and (not launch_name <= title.stems or misses_feature)
    primary_named = bool(launch.primary) and all(s in named for s in launch.primary)
    spelled = {t for s in named for spelling in s.spellings for t in _stems(spelling)}
    if (
        len(found) >= 2
        and primary_named
        and not misses_name
        and score < SESSION_COVERED_SCORE
        and title.branded <= own | launch.name_stems | spelled
    ):
        # The other way round: a session named after part of a long launch title ("Data residency
        # capabilities in AWS Control Tower" for "AWS Control Tower – Region Deny and Guardrails
        # to Help You Meet Data Residency Requirements") has most of its own words in it, and
        # names its first service and no service the launch does not.
        theirs = title.content - launch.name_stems - GENERIC_SESSION_WORDS - spelled
        covered = (
            sum(weights.weight(t) for t in theirs & own) / sum(weights.weight(t) for t in theirs) if theirs else 0.0
        )
        if covered >= SESSION_COVERAGE:
            score = SESSION_COVERED_SCORE
            notes.append(f"{covered:.0%} of the session's own words (by weight) are the launch's")
    if len(found) == 1 and weights.common(next(iter(found))) and (not services or missing):
        score = min(score, SINGLE_WEAK_WORD_CAP)
    if len(found) == 1 and launch.unread:
        score = min(score, SINGLE_WEAK_WORD_CAP)
        notes.append("one shared word, and the rest of the launch's title is in letters the words do not read")
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
