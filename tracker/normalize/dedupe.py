"""Cross-document dedupe: is a newly seen announcement a launch the store already has?

Exact keys (`title_key`) already merge "Announcing Amazon X" with "Amazon X is now generally
available". This catches the rest of the ways one launch is written in different places: a
News Blog post title with a tagline ("Introducing Amazon X for the data you need fast"), a
What's New headline with a verb after the service ("AWS Lambda announces durable timers").
It compares the words that name the launch once the service's own words and launch wording
are set aside; a merge needs at least two such words and all of the shorter title's, or the
shorter title written whole as the other's name ("Amazon X Y" in "Introducing Amazon X Y, a
new way to …"). Titles are compared as the other writes them: an acronym or its long form,
words written as one ("GuardDuty", "Guard Duty"), Japanese text between words as a space.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence, Set
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from operator import ne

from tracker import meaning
from tracker.items import NormalizedAnnouncement, Service
from tracker.normalize.events import detect_event
from tracker.normalize.text import clean_text, fold, fold_spaced, title_key

# Words that say how something is announced, not what: they never tell two launches apart.
_FILLER = frozenset(
    """a an and the of for on in to with by at from into via your you our we us is are be can it its
    that this these now new today announce announces announced announcing introduce introduces
    introducing launch launches launched launching unveil unveils add adds added support supports
    supported enable enables enabled offer offers available availability generally general ga
    preview public expands expanded extends aws amazon instance instances type types family service
    feature features capability capabilities tool tools option powered as up using use coming""".split()
)
_WORD = re.compile(r"[a-z0-9]+")
# Launches that share their words but are months apart are usually a region expansion or a
# successor, not the same launch.
MAX_DAYS_APART = 45
MIN_SHARED_WORDS = 2


_SUFFIXES = ("ations", "ation", "ing", "ed", "e")
# Short forms that titles write for a word: only those that stand for one word alone ("min"
# may be a minute, so it is not here).
_SHORT_FORMS = {"max": "maximum"}


# The caches of what a title comparison derives of one title hold the titles a backfill is
# comparing now (the stored launches near the new ones): a few thousand, not every title seen,
# which would cost a backfill of 45,000 documents tens of MB. At 16,384 entries each (65,536
# before), the benchmark backfill peaked at 436 MB, not 504 MB, and ran no slower (180 s, 191 s).
@lru_cache(maxsize=16384)
def _stem(word: str) -> str:
    # A light fold: "doubling" and "double", "automated" and "automate" share a stem.
    word = _SHORT_FORMS.get(word, word)
    if len(word) > 4 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    if not word.endswith(_SUFFIXES):
        return word  # most words: no suffix to try
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4 and not word.isdigit():
            return word[: -len(suffix)]
    return word


# The filler as the words of a title are compared: stemmed ("instances" is "instanc").
_GENERIC = _FILLER | frozenset(_stem(w) for w in _FILLER)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


# "Integrated Development Environment (IDE)": the long form is the acronym, written twice.
_ACRONYM = re.compile(r"\b((?:[A-Za-z][\w-]*\s+){1,6}?)\(([A-Z]{2,6})\)")
_PLURAL_ACRONYM = re.compile(r"\b([A-Z]{2,})s\b")
_VERSION = re.compile(r"(?i)\bversion\s+(\d+)\b")  # "Version 2" is "v2"
_ORDINAL = re.compile(r"(?i)\b(\d+)(?:st|nd|rd|th)\b")  # "3rd generation" is generation 3


@lru_cache(maxsize=16384)
def _plain_alone(title: str) -> str:
    return _ORDINAL.sub(r"\1", _VERSION.sub(r"v\1", _PLURAL_ACRONYM.sub(r"\1", fold_spaced(title))))


@lru_cache(maxsize=16384)
def _has_long_form(title: str) -> bool:
    """Whether a title writes a long form with its acronym: only then does `_plain` depend on the other title."""
    text = _plain_alone(title)
    # Most titles have no parenthesis, without which the pattern (slow to fail) cannot match.
    return "(" in text and _ACRONYM.search(text) is not None


def _against(title: str, other: str | None) -> str | None:
    """The other title as far as `_plain(title, other)` depends on it: None when it does not.

    Most titles write no long form with its acronym, so what is derived from a title compared
    with another is then the title's own, cached once per title instead of once per pair (a
    backfill compares each new launch with hundreds of stored ones).
    """
    return other if other is not None and _has_long_form(title) else None


@lru_cache(maxsize=16384)
def _plain(title: str, other: str | None = None) -> str:
    """A title as compared with another: every character without an ASCII form a space, an
    acronym in the singular ("LLMs" is "LLM"), and a long form with its acronym ("Integrated
    Development Environment (IDE)") written as the other title writes it: the acronym where
    that title has it, else the long form."""
    text = _plain_alone(title)
    if other is None or not _has_long_form(title):
        return text
    theirs = set(_WORD.findall(_PLURAL_ACRONYM.sub(r"\1", fold_spaced(other)).lower()))

    def one(m: re.Match[str]) -> str:
        words, acronym = m.group(1).split(), m.group(2)
        if len(words) < len(acronym) or "".join(w[0] for w in words[-len(acronym) :]).upper() != acronym:
            return m.group(0)
        if acronym.lower() in theirs:
            return " ".join(words[: -len(acronym)]) + " " + acronym + " "
        return m.group(1) + " "

    return _ACRONYM.sub(one, text)


@lru_cache(maxsize=16384)
def _lossy(title: str) -> bool:
    """Whether a title has letters without an ASCII form: its words are not all of its name."""
    return any(ch.isalpha() and not fold(ch) for ch in _NON_ASCII.findall(title))


@lru_cache(maxsize=16384)
def _words(text: str) -> frozenset[str]:
    # Cached: a backfill reads the same titles and service names for every candidate pair.
    return frozenset(_stem(w) for w in _WORD.findall(fold(fold_spaced(text)).lower().replace("'", "")))


@lru_cache(maxsize=4096)
def _service_words(service: Service) -> frozenset[str]:
    words = set(_words(service.name))
    for alias in service.aliases:
        # Only short aliases are the service's name; long ones may carry a feature's words.
        if len(alias.split()) <= 3:
            words |= _words(alias)
    return frozenset(words)


def _title_words(title: str, other: str | None = None) -> frozenset[str]:
    return _title_words_against(title, _against(title, other))


@lru_cache(maxsize=16384)
def _title_words_against(title: str, other: str | None) -> frozenset[str]:
    return _words(title_key(_plain(title, other)))


def launch_words(title: str, services: Iterable[Service] = ()) -> frozenset[str]:
    """The words of a title that name the launch itself."""
    generic = set(_GENERIC)
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
# "Now available in" is an expansion before a Region ("in Europe (Milan)", "in the AWS GovCloud
# (US) Regions"), not before a service or product ("Amazon Q is now available in SageMaker Canvas").
_GEOGRAPHY = (
    r"(?:the\s+)?(?:aws\s+)?(?:us|u\.s\.|north america|south america|americas|asia|asia pacific|europe|eu|canada|"
    r"middle east|africa|israel|mexico|china|india|japan|australia|seoul|tokyo|singapore|sydney|mumbai|"
    r"frankfurt|ireland|london|paris|stockholm|milan|zurich|spain|bahrain|uae|jakarta|melbourne|hyderabad|"
    r"osaka|hong kong|s[aã]o paulo|calgary|malaysia|thailand|taipei|new zealand|govcloud)\b"
)
_EXPANSION = re.compile(
    r"(?i)\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|more|additional|new|other|all)\s+"
    r"(?:(?:aws|commercial|global)\s+)?regions?\b|\bexpands?\b.*\bregions?\b|"
    rf"\bnow available in\s+(?:{_GEOGRAPHY}|.*\bregions?\b)|"
    r"\bgovcloud\b|\bregional expansion\b"
)


@lru_cache(maxsize=16384)
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
    return _decide(title, services, when, event, other_title, other_services, other_when, other_event, explain=False)[0]


def decide(
    title: str,
    services: Iterable[Service],
    when: datetime | None,
    event: str | None,
    other_title: str,
    other_services: Iterable[Service],
    other_when: datetime | None,
    other_event: str | None,
) -> tuple[bool, str]:
    """`same_announcement` with the step that decided it, in a few words (for error analysis)."""
    return _decide(title, services, when, event, other_title, other_services, other_when, other_event, explain=True)


def _decide(
    title: str,
    services: Iterable[Service],
    when: datetime | None,
    event: str | None,
    other_title: str,
    other_services: Iterable[Service],
    other_when: datetime | None,
    other_event: str | None,
    *,
    explain: bool,
) -> tuple[bool, str]:
    # `explain`: whether the naming words are written into the reason (a backfill asks for the
    # answer alone, of most pairs, and writing the words was a tenth of the comparison).
    services, other_services = list(services), list(other_services)
    slugs = frozenset(s.slug for s in services)
    other_slugs = frozenset(s.slug for s in other_services)
    gated = _gate(
        (is_expansion(title), is_expansion(other_title)),
        (event, other_event),
        (when, other_when),
        _identical(title, other_title),
        (_numbers(title, services), _numbers(other_title, other_services)),
        (slugs, other_slugs),
    )
    if gated is not None:
        return gated
    same_event = bool(event) and event == other_event
    mine, theirs = _naming_words(title, services, other_title, other_services)
    words = f"naming words {sorted(mine)} / {sorted(theirs)} (Jaccard {_jaccard(mine, theirs):.2f})" if explain else ""
    lossy, other_lossy = _lossy(title), _lossy(other_title)
    if lossy and other_lossy:
        # Two titles written in Japanese keep of their names only what has an ASCII form (the
        # service, a product): "Amazon S3 で…" and "Amazon S3 に…" agree on those whatever
        # launch each names. Only meaning compares them.
        pass
    elif (
        slugs
        and slugs == other_slugs
        and not mine
        and not theirs
        and not (lossy or other_lossy)
        and _spelled_alike(bare_key(title), bare_key(other_title))
    ):
        return True, "both titles are the service's name"  # one spelling ("AWS Clean Room(s)")
    elif same_event and slugs and slugs == other_slugs and _jaccard(mine, theirs) > SAME_EVENT_OVERLAP:
        return True, "one event, one service, mostly the same naming words"
    elif slugs and slugs == other_slugs and _names_within(title, other_title, services):
        # "Amazon X Y" and "Introducing Amazon X Y, a new way to …": the name and its tagline
        return True, "the name and its tagline"
    elif _words_agree(mine, theirs):
        return True, "naming words agree"
    # Meaning compares what the titles say, not which services they are of: both must name
    # services (a title that names none takes them from its context, `services_for`), at one
    # event (across events the same meaning is most often a later launch).
    if not same_event:
        return False, words + "; meaning is asked only within one event"
    if _bare(title, services) or _bare(other_title, other_services):
        return False, words + "; a title is only its services' names"
    if _names_differ(title, services, other_title, other_services):
        return False, words + "; each names something the other does not"
    if _within(title, other_title, services) == "target":
        return False, words + "; a launch for the other's product"
    if not (slugs and other_slugs):
        return False, words + "; a title names no service"
    # Two shared naming words lower the bar only for titles of the same services: "Lambda
    # … event filtering for SQS, DynamoDB and Kinesis as event sources" and "Lambda … partial
    # batch response for SQS as an event source" share "event source" and are two launches.
    if _same_meaning(title, other_title, len(mine & theirs) if slugs == other_slugs else 0):
        return True, "same meaning"
    return False, words + "; meaning below the threshold"


def _gate(
    expansions: tuple[bool, bool],
    events: tuple[str | None, str | None],
    dates: tuple[datetime | None, datetime | None],
    identical: bool,
    numbers: tuple[frozenset[str], frozenset[str]],
    slugs: tuple[frozenset[str], frozenset[str]],
) -> tuple[bool, str] | None:
    """The steps every pair of titles passes before their words are compared (`_decide`, and
    `_decide_sides` on what each side derived once): a decision with its reason, or None."""
    if expansions[0] != expansions[1]:
        return False, "one title reads as a Region expansion"
    event, other_event = events
    same_event = bool(event) and event == other_event
    if event and other_event and event != other_event:
        return False, "other events"
    if identical and same_event:
        return True, "identical name at one event"
    when, other_when = dates
    if when is None or other_when is None:
        return False, "undated side (only an identical name merges)"
    if not same_event and abs((when - other_when).total_seconds()) > MAX_DAYS_APART * 86400:
        return False, f"dated more than {MAX_DAYS_APART} days apart"
    if identical:
        return True, "identical name"
    versions, other_versions = numbers
    if versions and other_versions and versions != other_versions:
        # Trainium2 and Trainium3, Kubernetes 1.28 and 1.29: versions, not wordings
        return False, f"numbers differ {sorted(versions)} / {sorted(other_versions)}"
    mine, theirs = slugs
    if mine and theirs:
        if not (mine <= theirs or theirs <= mine):
            return False, f"services differ {sorted(mine)} / {sorted(theirs)}"
    elif not same_event:
        return False, "a title naming no service, across events"
    return None


_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
# Cosine similarities of multilingual-e5-small (tracker.meaning) from which two titles of one
# event, dated, that the rules above leave open and that name no two different things
# (`_names_differ`), are one launch: alone; with two shared naming words and the same services;
# and across languages (Japanese, Chinese or Korean on one side only), where the model's scores
# run lower (a title and its translation score 0.89-0.94, two launches of one service 0.82-0.89).
# Two titles in one language, English or Japanese, that are two launches of one service score
# up to 0.95 when both are short ("X adds variables to workflows", "X adds a local test mode for
# workflows"): sameness sits high. Fitted by tests/normalize/test_merge_pairs.py, which checks
# these values, on the labelled pairs of tests/normalize/merge_pairs.json together with the
# pairs written for it in tests/normalize/meaning_calibration.json (translations, and launches
# of one service that neighbour in topic, in both languages): each threshold merges no negative
# and the most positives, midway between the scores around it.
SAME_MEANING = 0.9481
SAME_MEANING_SHARED = 0.9481
SAME_MEANING_CROSS = 0.894


def _same_meaning(title: str, other_title: str, shared: int) -> bool:
    # Only within one event: across events the same meaning is most often a later launch.
    score = meaning.similarity(title, other_title)
    if score is None:
        return False
    if bool(_CJK.search(title)) != bool(_CJK.search(other_title)):
        return score >= SAME_MEANING_CROSS
    return score >= SAME_MEANING or (shared >= MIN_SHARED_WORDS and score >= SAME_MEANING_SHARED)


_NUMBER = re.compile(r"\d+")
SAME_EVENT_OVERLAP = 0.5


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def _numbers(title: str, services: Iterable[Service] = ()) -> frozenset[str]:
    """The numbers of a title outside its services' own names (the 2 of "EC2", the 3 of "S3")."""
    return _numbers_of(title, tuple(services))


@lru_cache(maxsize=16384)
def _numbers_of(title: str, services: tuple[Service, ...]) -> frozenset[str]:
    names = {w for service in services for w in _WORD.findall(fold(service.name).lower())}
    words = _WORD.findall(fold(fold_spaced(title)).lower())
    return frozenset(n for w in words if w not in names for n in _NUMBER.findall(w))


def _identical(title: str, other_title: str) -> bool:
    """Whether two titles are one name once launch wording and brand words are set aside.

    A title with words that have no ASCII form (Japanese) keeps only some of its words in its
    key, so it is identical only to the very same text.
    """
    if _lossy(title) or _lossy(other_title):
        return _whole_text(title) == _whole_text(other_title)
    return bare_key(title) == bare_key(other_title)


@lru_cache(maxsize=16384)
def _whole_text(title: str) -> str:
    """A title as `_identical` compares it whole: cleaned, case-folded, its spaces one each."""
    return " ".join(clean_text(title).casefold().split())


# A name inside a longer title ends where a verb, a tagline or a qualifier naming a target
# begins: "Amazon X Y helps …", "Amazon X Y, a purpose-built …", "Amazon X Y for Redis and …".
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:['.][A-Za-z0-9]+)*|[,:;(\[–—]|(?<=\s)-(?=\s)")
_BRAND = frozenset({"amazon", "aws"})
_LEADS = frozenset(
    "introducing introduces announcing announces new now today launching unveiling join preview of the".split()
)
# Verbs after a name that describe it; not those that add something to it ("X now supports Y",
# "X adds Y" is the launch of Y in X, another launch than X).
_PREDICATES = frozenset(
    """is are helps help makes make delivers deliver simplifies simplify accelerates improves reduces
    enhances unifies streamlines speeds boosts lowers automates optimizes""".split()
)
# "… for Amazon X", "… to DynamoDB global tables": a feature of the product, not the product.
_TARGETS = frozenset("for to in on into".split())
_AVAILABLE = frozenset("available generally ga".split())
_QUALIFIERS = frozenset("for in with on to".split())
_BUNDLES = frozenset({"and", "or"})
_LAUNCH_VERBS = frozenset("launches announces introduces unveils debuts adds".split())
_STAGES = frozenset("ga preview available generally now public limited".split())


def _tokens(title: str, other: str | None = None) -> tuple[str, ...]:
    cleaned = _clean(title)
    return _tokens_against(cleaned, _against(cleaned, other and _clean(other)))


@lru_cache(maxsize=16384)
def _clean(text: str) -> str:
    return clean_text(text)


@lru_cache(maxsize=16384)
def _tokens_against(cleaned: str, other: str | None) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(fold(_plain(cleaned, other)).replace("'", "")))


def _bare(title: str, services: Sequence[Service]) -> bool:
    """Whether a title is only its services' names ("Amazon Nova", "Amazon ECS, Amazon EKS"):
    any launch of them is near it in meaning."""
    if _lossy(title) or not services:
        return False
    names = set(_GENERIC)
    for service in services:
        names |= _words(service.name)
    return _words(bare_key(fold_spaced(title))) <= names


def _past_service(words: list[str], own: Set[str]) -> list[str]:
    """The words after the services' own names ("… in the AWS Management Console simplifies")."""
    i = 0
    while i < len(words):
        low = words[i].lower()
        if low in own:
            i += 1
        elif low in _QUALIFIERS or low == "the":
            j = i + 1
            while j < len(words) and words[j].lower() == "the":
                j += 1
            if j < len(words) and words[j].lower() in own:
                i = j
            else:
                break
        else:
            break
    return words[i:]


def _names_within(title: str, other_title: str, services: Sequence[Service]) -> bool:
    """Whether the shorter title is a name that the longer one writes whole, as its name (`_within`)."""
    return _within(title, other_title, services) == "name"


def _within(title: str, other_title: str, services: Sequence[Service]) -> str | None:
    """Whether the shorter title is a name that the longer one writes whole, as its name.

    "name" when it does, "target" when the longer title is a launch for the shorter's product
    ("Notebook Jobs for Amazon SageMaker Studio" for "Amazon SageMaker Studio"), else None.
    The name must be more than a word of launch wording; a bare service name ("Amazon Q") counts
    only at the start of the other title, followed by a tagline ("Introducing Amazon Q, a new …"),
    since any launch of the service writes its name. Around the name in the longer title stand
    launch words, the services' own names, or where the name ends: a verb, punctuation, the end,
    or a qualifier naming a target ("for Redis"); never another capitalised word, which would
    make it a longer name ("Amazon Nova" in "Amazon Nova Canvas").
    """
    # What depends on one title, or on the services, is derived once (cached): a backfill asks
    # this of each new launch against every stored launch of its services.
    mine, theirs = _tokens(title, other_title), _tokens(other_title, title)
    return _within_tokens(title, other_title, mine, theirs, _own_words(tuple(services)))


def _within_tokens(
    title: str, other_title: str, mine: tuple[str, ...], theirs: tuple[str, ...], own: frozenset[str]
) -> str | None:
    """`_within` of two titles' tokens (`_tokens` of each against the other) and the services' own words."""
    short, long, short_tokens, long_tokens = (
        (title, other_title, mine, theirs) if len(mine) <= len(theirs) else (other_title, title, theirs, mine)
    )
    name = _launch_name(short_tokens, own)
    if not name or _lossy(short):
        return None
    bare = set(name) <= own
    if not bare and not (set(name) - _FILLER):
        return None
    words, lower, present = _unbranded(long_tokens)
    first = name[0]
    if first not in present:
        return None  # the longer title does not write the name's first word: nowhere to find it
    found: str | None = None
    for start in range(len(words) - len(name) + 1):
        if lower[start] != first or lower[start : start + len(name)] != name:
            continue
        before = [w for w in words[:start] if w[0].isalnum()]
        after = list(words[start + len(name) :])
        if bare:
            if all(w.lower() in _LEADS for w in before) and (not after or not after[0][0].isalnum()):
                return "name"
            continue
        if before and not (before[-1].lower() in own or before[-1].lower() in _LEADS or before[-1][0].islower()):
            continue
        if before and before[-1].lower() in _BUNDLES:
            continue  # "Construct Hub and AWS CDK v2" bundles two launches: neither is the whole
        ahead = [w for w in before if w.lower() not in own]
        if ahead and ahead[-1].lower() in _TARGETS:
            found = "target"  # "Notebook Jobs for Amazon SageMaker Studio" is a launch for the product
            continue
        after = _past_service(after, own)
        if after and after[0] == "(" and len(after) > 1 and after[1][0].isupper() and after[1].lower() not in _STAGES:
            continue  # "Aurora Serverless (PostgreSQL)": an edition of the name, another launch
        if not after or not after[0][0].isalnum() or after[0].lower() in _PREDICATES:
            return "name"
        if after[0].lower() == "now" and len(after) > 1 and after[1].lower() in _AVAILABLE | _PREDICATES:
            return "name"  # "X now generally available", "X now delivers …"
        if after[0] == "for" and len(after) > 1 and after[1][0].isupper():
            return "name"  # "… for Redis and Memcached": the engines it serves
    return found


@lru_cache(maxsize=4096)
def _own_words(services: tuple[Service, ...]) -> frozenset[str]:
    """The words of the services' names (`_within`)."""
    return frozenset(w for s in services for w in _WORD.findall(fold(s.name).lower()))


@lru_cache(maxsize=8192)
def _launch_name(tokens: tuple[str, ...], own: frozenset[str]) -> tuple[str, ...]:
    """The words of a title that are the name of its launch (`_within`): past the lead words and
    a launch verb after the services' names, before the stage words and a qualifier naming the
    title's own service."""
    name = [w.lower() for w in tokens if w[0].isalnum() and w.lower() not in _BRAND]
    while name and name[0] in _LEADS:
        name.pop(0)
    # "Amazon Braket launches Braket Direct" names Braket Direct.
    verb = next((k for k, w in enumerate(name) if w in _LAUNCH_VERBS and set(name[:k]) <= own), None)
    if verb is not None:
        name = name[verb + 1 :]
    while name and name[-1] in _STAGES:
        name.pop()
    # "Knowledge Bases for Amazon Bedrock": the qualifier naming its own service is not the name.
    for cut in range(1, len(name) - 1):
        if name[cut] in _QUALIFIERS and set(name[cut + 1 :]) <= own:
            name = name[:cut]
            break
    return tuple(name)


@lru_cache(maxsize=8192)
def _unbranded(tokens: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...], frozenset[str]]:
    """A title's tokens without the brand words, as written, in lower case, and the set of those (`_within`)."""
    words = tuple(w for w in tokens if w.lower() not in _BRAND)
    lower = tuple(w.lower() for w in words)
    return words, lower, frozenset(lower)


# How alike two spellings of one bare service name must be to be one name with a typo
# ("DeepComposer" / "Deep Composor"), and the shortest spelling that may carry one.
TYPO_RATIO = 0.9
TYPO_MIN_CHARS = 6


def _spelled_alike(key: str, other_key: str) -> bool:
    """Whether two bare titles are one name: the same words, or one spelling with a typo (never
    with other digits: "Inferentia" and "Inferentia2" are two chips)."""
    if _words(key) == _words(other_key):
        return True
    a, b = key.replace(" ", ""), other_key.replace(" ", "")
    if min(len(a), len(b)) < TYPO_MIN_CHARS or re.sub(r"\D", "", a) != re.sub(r"\D", "", b):
        return False
    return difflib.SequenceMatcher(None, a, b).ratio() >= TYPO_RATIO


@lru_cache(maxsize=16384)
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
    common = tuple(s for s in other_services if s.slug in mine_slugs)
    forms, other_forms = _forms(title, other_title), _forms(other_title, title)
    words = _joined_forms(forms, other_forms)
    other_words = _joined_forms(other_forms, forms)
    # The services' names are set aside always, a short alias only when both titles write it.
    _, aliases = _common_names(common)
    shared = words & other_words if aliases else frozenset()
    extra = frozenset().union(*(spelled for spelled in aliases if spelled <= shared)) if aliases else frozenset()
    mine, theirs = _naming_of(words, common), _naming_of(other_words, common)
    if extra:
        mine, theirs = mine - extra, theirs - extra
    return mine, theirs


@lru_cache(maxsize=4096)
def _common_names(common: tuple[Service, ...]) -> tuple[frozenset[str], tuple[frozenset[str], ...]]:
    """What `_naming_words` sets aside for the services both titles name: the filler and the
    services' own names always; the words of each short alias (three words at most) only when
    both titles write it. Derived once per set of services, not once per pair."""
    generic = set(_GENERIC)
    aliases: list[frozenset[str]] = []
    for service in common:
        for name in (service.name, *service.aliases):
            spelled = _words(name)
            if not spelled:
                continue
            if name == service.name:
                generic |= spelled
            elif len(spelled) <= 3:
                aliases.append(spelled)
    base = frozenset(generic)
    return base, tuple(a for a in dict.fromkeys(aliases) if not a <= base)


@lru_cache(maxsize=4096)
def _naming_of(found: frozenset[str], common: tuple[Service, ...]) -> frozenset[str]:
    """The words of `found` that may name a launch: not filler, not the services' own names, not one letter."""
    base = _common_names(common)[0]
    return frozenset(w for w in found if w not in base and (len(w) > 1 or w.isdigit()))


@lru_cache(maxsize=16384)
def _sequence_against(title: str, other: str | None) -> tuple[str, ...]:
    return tuple(_stem(w) for w in title_key(_plain(title, other)).split())


MIN_MISSPELT = 8  # a long word with one letter changed is the same word misspelt


def _misspelt(word: str, other: frozenset[str]) -> str | None:
    """One spelling of `word` and the word of `other` it differs from by one letter ("Composor",
    "Composer"), if there is such a word.

    Only long words of letters: a digit or a short word changed is another name (Inf1, Inf2)."""
    if len(word) < MIN_MISSPELT or not word.isalpha() or word in other:
        return None
    for candidate in other:
        if len(candidate) == len(word) and candidate.isalpha():
            if sum(1 for x, y in zip(word, candidate, strict=True) if x != y) == 1:
                return min(word, candidate)  # one spelling for both titles, whichever is asked
    return None


@dataclass(frozen=True, slots=True)
class _Forms:
    """What `_joined` reads of one title, as compared with another (`_against`): derived once."""

    sequence: tuple[str, ...]  # its words in order, stemmed
    words: frozenset[str]  # the same as a set
    joinable: frozenset[str]  # each two neighbours written as one, and the stem of that
    long: frozenset[str]  # its words that could be a misspelling (`_misspelt`)
    joined_long: tuple[str, ...]  # the joined stems that could be one (long, of letters)
    title_words: frozenset[str]  # `_title_words`: what the other title's words are looked up in
    lengths: frozenset[int]  # `_misspelt_lengths` of those
    title_long: tuple[str, ...]  # those of them a word may be a misspelling of (`_misspelt`)


def _forms(title: str, other_title: str) -> _Forms:
    return _forms_against(title, _against(title, other_title))


# Bounded as the caches above are: the titles a backfill compares at one time are those near in
# date to the new ones. A title's forms hold its words only, 2-5 kB (they held each long word's
# one-letter keys too, about 10 kB: 4,096 of them put a backfill's peak over its 500 MB).
@lru_cache(maxsize=2048)
def _forms_against(title: str, other: str | None) -> _Forms:
    sequence = _sequence_against(title, other)
    joined = [sequence[i] + sequence[i + 1] for i in range(len(sequence) - 1)]
    stems = [_stem(pair) for pair in joined]
    long = frozenset(w for w in sequence if _may_be_misspelt(w))
    title_words = _title_words_against(title, other)
    return _Forms(
        sequence=sequence,
        words=frozenset(sequence),
        joinable=frozenset(joined) | frozenset(stems),
        long=long,
        joined_long=tuple(dict.fromkeys(w for w in stems if _may_be_misspelt(w))),
        title_words=title_words,
        lengths=_misspelt_lengths(title_words),
        title_long=tuple(w for w in title_words if _may_be_misspelt(w)),
    )


def _joined(title: str, other_title: str) -> frozenset[str]:
    """A title's words, two of them written as one where the other title writes them so:
    "Guard Duty" and "GuardDuty", "Ultra Servers" and "UltraServer", "Graviton 4" and "Graviton4";
    a long word misspelt by one letter as the other title spells it."""
    return _joined_forms(_forms(title, other_title), _forms(other_title, title))


def _joined_forms(mine: _Forms, theirs: _Forms) -> frozenset[str]:
    """`_joined` of the forms of a title and of the other title."""
    other = theirs.title_words
    # A word can be a misspelling only of a word of the other title as long as it: most words
    # have no such word to be compared with (this pass was most of a pair's comparison).
    lengths = theirs.lengths
    if mine.joinable.isdisjoint(other):
        # No two words the other title writes as one, and no word it may spell otherwise: the
        # title's own words, as the walk below would find them (most pairs).
        if not lengths:
            return mine.words
        # A joined stem is not a word of the other title here: one a letter apart from one of
        # its words (of one length) is a misspelling of it. So is a word of this title the
        # other does not write.
        targets = theirs.title_long
        if not any(
            _one_letter_apart(word, target)
            for word in (*mine.joined_long, *(mine.long - other))
            if len(word) in lengths
            for target in targets
            if len(target) == len(word)
        ):
            return mine.words
    sequence = mine.sequence
    out: list[str] = []
    i = 0
    n = len(sequence)
    while i < n:
        word = sequence[i]
        if i + 1 < n:
            pair = word + sequence[i + 1]
            stem = _stem(pair)
            misspelt = _misspelt(stem, other) if len(stem) in lengths else None
            if pair in other or stem in other or misspelt:
                out.append(misspelt or stem)
                i += 2
                continue
        out.append((_misspelt(word, other) if len(word) in lengths else None) or word)
        i += 1
    return frozenset(out)


def _may_be_misspelt(word: str) -> bool:
    """Whether a word is long and of letters: only such a word is a misspelling (`_misspelt`)."""
    return len(word) >= MIN_MISSPELT and word.isalpha()


def _one_letter_apart(word: str, other: str) -> bool:
    """Whether two words of one length differ in at most one letter."""
    return len(word) == len(other) and sum(map(ne, word, other)) <= 1


@lru_cache(maxsize=8192)
def _misspelt_lengths(other: frozenset[str]) -> frozenset[int]:
    """The lengths of the words of `other` that a word may be a misspelling of (`_misspelt`)."""
    return frozenset(len(word) for word in other if len(word) >= MIN_MISSPELT and word.isalpha())


# Capitalised words that many launches write ("generative AI"): they name no one thing.
_COMMON_NAMES = frozenset({"ai", "genai", "api", "apis", "sdk", "cli", "ui"})


def _other_names(title: str, services: Sequence[Service], other_title: str) -> frozenset[str]:
    """The words of a title that name something (capitalised past its first word, or written
    like a name anywhere: "AgentCore", "SDK") and that the other title does not write."""
    other = _joined(other_title, title)
    generic = set(_GENERIC) | _LEADS | _COMMON_NAMES
    for service in services:
        for name in (service.name, *service.aliases):
            spelled = _words(name)
            # The service's own name, or an alias that the other title writes too.
            if name == service.name or spelled <= other:
                generic |= spelled
    out = set()
    for k, token in enumerate(w for w in _tokens(title, other_title) if w[0].isalnum()):
        named = token[0].isupper() and (k > 0 or any(c.isupper() or c.isdigit() for c in token[1:]))
        stem = _stem(token.lower())
        if named and stem not in generic and stem not in other and token.lower() not in other:
            out.add(stem)
    return frozenset(out)


def _names_differ(title: str, services: Sequence[Service], other_title: str, other_services: Sequence[Service]) -> bool:
    """Whether each title names something the other does not ("S3 Express price cut" and "S3
    Metadata price cut", "AgentCore Runtime" and "AgentCore Memory"): two things, not two
    wordings. A short title (two naming words at most) is all name: "Prompt caching" and
    "Prompt Routing" are two things too."""
    if _other_names(title, services, other_title) and _other_names(other_title, other_services, title):
        return True
    if _lossy(title) or _lossy(other_title):
        return False  # a Japanese title's readable words are not all of its name
    mine, theirs = _naming_words(title, list(services), other_title, list(other_services))
    if 0 < len(mine) <= 2 and 0 < len(theirs) <= 2 and mine - theirs and theirs - mine:
        return True
    # A short name and a longer one ("SageMaker Studio", "SageMaker Unified Studio"; "Knowledge
    # Bases for Amazon Bedrock", "… Knowledge Bases with S3 Vectors"): two products.
    for short, other, other_names in (
        (mine, theirs, _other_names(other_title, other_services, title)),
        (theirs, mine, _other_names(title, services, other_title)),
    ):
        if len(short) <= 2 and short <= other and other_names:
            return True
    return False


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
    # What `_decide` derives of the new title is derived once, not once per stored launch.
    me = _side(title, tuple(services))
    for other in known:
        theirs = [service_index[s] for s in other.service_slugs if s in service_index]
        them = _side(other.title, tuple(theirs))
        same = _decide_sides(me, when, event, them, other.announced_at, other.event)
        if same is None:
            same = same_announcement(title, services, when, event, other.title, theirs, other.announced_at, other.event)
        if not same:
            continue
        mine, other_words = _naming_words(title, services, other.title, theirs)
        # Prefer the candidate whose naming words overlap most (Jaccard).
        closeness = _jaccard(mine, other_words)
        if best is None or closeness > best[0]:
            best = (closeness, other.key)
    return best[1] if best else None


@dataclass(frozen=True, slots=True)
class _Side:
    """What `_decide` reads of one title with its services, derived once (`find_duplicate`)."""

    title: str
    services: tuple[Service, ...]
    slugs: frozenset[str]
    expansion: bool  # `is_expansion`
    lossy: bool  # `_lossy`
    identity: str  # what `_identical` compares when a side is lossy (`_whole_text`), else `bare_key`
    bare: str  # `bare_key`
    numbers: frozenset[str]  # `_numbers`
    # None when the title writes a long form with its acronym: what follows depends on the other.
    forms: _Forms | None  # `_forms` against any other title
    naming: frozenset[str]  # the words of `forms` that may name a launch whatever the services
    tokens: tuple[str, ...]  # `_tokens` against any other title
    common: tuple[frozenset[str], tuple[frozenset[str], ...]]  # `_common_names` of its services
    own: frozenset[str]  # `_own_words` of its services (`_within`, asked with this side's services)


# Bounded as `_forms_against`, whose forms a side holds: the titles compared at one time.
@lru_cache(maxsize=2048)
def _side(title: str, services: tuple[Service, ...]) -> _Side:
    cleaned = _clean(title)
    plain = not _has_long_form(title) and not _has_long_form(cleaned)
    forms = _forms_against(title, None) if plain else None
    lossy = _lossy(title)
    return _Side(
        title=title,
        services=services,
        slugs=frozenset(s.slug for s in services),
        expansion=is_expansion(title),
        lossy=lossy,
        identity=_whole_text(title),
        bare=bare_key(title),
        numbers=_numbers_of(title, services),
        forms=forms,
        naming=_naming_of_base(forms.words) if forms else frozenset(),
        tokens=_tokens_against(cleaned, None) if plain else (),
        common=_common_names(services),
        own=_own_words(services),
    )


def _decide_sides(
    me: _Side,
    when: datetime | None,
    event: str | None,
    them: _Side,
    other_when: datetime | None,
    other_event: str | None,
) -> bool | None:
    """`same_announcement` of two sides, or None where it must be asked whole (one event, a long
    form with its acronym): the same steps, on what each side derived once."""
    identical = me.identity == them.identity if me.lossy or them.lossy else me.bare == them.bare
    gated = _gate(
        (me.expansion, them.expansion),
        (event, other_event),
        (when, other_when),
        identical,
        (me.numbers, them.numbers),
        (me.slugs, them.slugs),
    )
    if gated is not None:
        return gated[0]
    same_event = bool(event) and event == other_event
    slugs, other_slugs = me.slugs, them.slugs
    if same_event or me.forms is None or them.forms is None:
        return None
    if me.lossy and them.lossy:
        return False  # only meaning compares them, and only within one event
    # `_naming_words`: the services both name are the other's of this title's (all of them when
    # the other's are within this title's).
    if other_slugs <= slugs:
        base, aliases = them.common
    else:
        base, aliases = _common_names(tuple(s for s in them.services if s.slug in slugs))
    words, other_words = _joined_forms(me.forms, them.forms), _joined_forms(them.forms, me.forms)
    mine = (me.naming if words is me.forms.words else _naming_of_base(words)) - base
    theirs = (them.naming if other_words is them.forms.words else _naming_of_base(other_words)) - base
    if aliases:
        shared = words & other_words
        extra = frozenset().union(*(spelled for spelled in aliases if spelled <= shared))
        if extra:
            mine, theirs = mine - extra, theirs - extra
    if _words_agree(mine, theirs):
        return True
    if slugs != other_slugs:
        return False
    if not mine and not theirs and not (me.lossy or them.lossy) and _spelled_alike(me.bare, them.bare):
        return True  # both titles are the service's name
    # Not at one event: meaning is not asked.
    return _within_tokens(me.title, them.title, me.tokens, them.tokens, me.own) == "name"


def _naming_of_base(found: frozenset[str]) -> frozenset[str]:
    """The words of `found` outside the filler and of more than one letter (`_naming_of` before the services' names)."""
    return frozenset(w for w in found if w not in _GENERIC and (len(w) > 1 or w.isdigit()))


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
