"""An inverted index of session titles: the candidates of a launch without scanning every pair."""

from __future__ import annotations

from collections.abc import Iterable

from tracker import meaning
from tracker.items import Link
from tracker.link.match import (
    MISSING_SERVICE_FACTOR,
    Candidate,
    SessionMatch,
    _best,
    _Launch,
    _prepare,
    _ServiceNames,
    _session_title,
    _Title,
)
from tracker.link.words import STOPWORDS, UNIFORM, TokenWeights, _stem, words

# Cosine similarity (tracker.meaning, multilingual-e5-small) from which a session that shares
# words with a launch covers it, and the title score it needs before its meaning is asked.
# Fitted on tests/link/content_pairs.json together with SESSION_COVERAGE, as the values that
# make the links worth most when a wrong link costs 19 right ones (precision 0.95 to break
# even); tests/link/test_content_pairs.py fits them again and measures them leave-one-event-out
# (fitted on three events, measured on the fourth: precision 0.980, recall 0.714).
SAME_MEANING = 0.941
MEANING_NEEDS_WORDS = 0.376


class SessionIndex:
    """Sessions indexed by title word and event: candidates of a launch without scanning all pairs."""

    def __init__(self, sessions: Iterable[tuple[int | str, Candidate]] = ()) -> None:
        self._titles: dict[int | str, _Title] = {}
        self._texts: dict[int | str, str] = {}
        self._whats_new: dict[str | None, list[int | str]] = {}
        self._postings: dict[tuple[str | None, str], list[int | str]] = {}
        self.weights: dict[str | None, TokenWeights] = {}
        for key, cand in sessions:
            self.add(key, cand)

    def __len__(self) -> int:
        return len(self._titles)

    def add(self, key: int | str, session: Candidate) -> None:
        """Index one session under each of its title words."""
        title = _session_title(session.title, event_known=session.event is not None)
        self._titles[key] = title
        self._texts[key] = session.title
        if title.whats_new:
            self._whats_new.setdefault(session.event, []).append(key)
        self.weights.setdefault(session.event, TokenWeights()).add(session.title)
        # A one-letter service name ("Amazon Q") is no distinctive word, but sessions that name
        # the service are found through it (`_naming`).
        letters = {
            stem for word, stem in words(session.title) if len(word) == 1 and word.isalpha() and word not in STOPWORDS
        }
        for tok in title.content | letters:
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
        if launch.services:
            # A round-up of a service's launches shares no word with them but the service's.
            for key in self._whats_new.get(event, ()):
                seen[key] = None
        if launch.services and threshold > MISSING_SERVICE_FACTOR:
            # Above that, a session names the launch's first service (`_score`).
            for service in launch.primary:
                naming = self._naming(event, service)
                seen = {key: None for key in seen if key in naming}
        return list(seen)

    def links(self, announcement: Candidate, threshold: float) -> list[SessionMatch[int | str]]:
        """The sessions of the same event whose title covers the announcement, best first."""
        if announcement.event is None:
            return []  # across documents, only a shared known event makes a title match credible
        weights = self.weights.get(announcement.event, UNIFORM)
        launch = _prepare(announcement)
        out: list[SessionMatch[int | str]] = []
        for key in self._candidates(launch, announcement.event, threshold):
            link = _best(launch, self._titles[key], weights, threshold)
            if link is not None and link.score >= threshold:
                out.append(SessionMatch(key, link))
        if meaning.available():
            linked = {match.session for match in out}
            for key in self._candidates(launch, announcement.event, 0.0):
                if key not in linked:
                    link = self._by_meaning(announcement.title, launch, key, weights, threshold)
                    if link is not None:
                        out.append(SessionMatch(key, link))
        out.sort(key=lambda match: -match.link.score)
        return out

    def _by_meaning(
        self, title: str, launch: _Launch, key: int | str, weights: TokenWeights, threshold: float
    ) -> Link | None:
        """A session that shares a word with the launch and says the same thing in other words."""
        lexical = _best(launch, self._titles[key], weights, MEANING_NEEDS_WORDS)
        if lexical is None:
            # Meaning alone links too much ("Amazon Nova Canvas" is near every Nova talk), and
            # embedding every session that shares one word with a launch costs minutes.
            return None
        score = meaning.similarity(title, self._texts[key])
        if score is None or score < SAME_MEANING or score < threshold:
            return None
        return Link("title", round(score, 3), f"{lexical.reason}; the titles mean the same (similarity {score:.2f})")
