"""The words of titles: stems, distinctive words, and how rare each is among session titles."""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

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

_SUFFIXES = (
    "izations",
    "ization",
    "izing",
    "ized",
    "izes",
    "ize",
    "ations",
    "ation",
    "ically",
    "ally",
    "ing",
    "ed",
    "ic",
    "e",
)


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
        stem
        for word, stem in words(text)
        if word not in STOPWORDS and stem not in generic and (len(word) > 1 or word.isdigit())
    }


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
