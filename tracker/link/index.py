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
from tracker.link.words import UNIFORM, TokenWeights, _stem

# Cosine similarity (tracker.meaning, multilingual-e5-small) from which a session that shares a
# word with a launch covers it. Chosen by leave-one-event-out cross-validation on
# tests/link/content_pairs.json: the threshold fitted on three events, measured on the fourth,
# was 0.93-0.94 for every event held out.
SAME_MEANING = 0.94
# The lexical score a session needs before its meaning is asked: the same cross-validation
# gave as much with 0.3 as with any shared word, at a fifth of the titles to embed.
MEANING_NEEDS_WORDS = 0.3


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
        if launch.services:
            # A round-up of a service's launches shares no word with them but the service's.
            for key in self._whats_new.get(event, ()):
                seen[key] = None
        if launch.services and threshold > MISSING_SERVICE_FACTOR:
            for service in launch.services:
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
