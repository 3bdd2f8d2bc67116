"""Scoring announcement ↔ session pairs: pure functions returning `Link` values.

Two methods:
- structural: an announcement made inside a session's section of a document (a keynote
  heading with its video link) is covered by that session, score 1.0;
- title: a session whose title names the launch covers it. The score weighs the launch's
  distinctive words (not its service names, which many sessions share) found in the
  session title; a session that only names the launch's service scores low, so the
  threshold keeps it out. A wrong link is worse than a missing one.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tracker.items import Link

log = logging.getLogger(__name__)

# Words that say nothing about which launch a title is about.
STOPWORDS = frozenset(
    """a an and the of for on in to with by at from into via your you our we is are be now new
    introducing announcing announce announces launch launches launched available availability
    general generally preview ga support supports adds add using use how what whats why when
    deep dive overview intro introduction getting started build building best practices
    session keynote breakout talk re invent reinvent aws amazon service services more all""".split()
)
TOKEN = re.compile(r"[a-z0-9]+")
SERVICE_ONLY_SCORE = 0.4  # a session naming only the launch's service: below any sane threshold


def tokens(text: str) -> list[str]:
    """Lower-case word tokens, with a trailing plural 's' folded on longer words."""
    out = []
    for tok in TOKEN.findall(text.lower().replace("'", "")):
        if len(tok) > 4 and tok.endswith("s") and not tok.endswith("ss"):
            tok = tok[:-1]
        out.append(tok)
    return out


def distinctive(text: str, service_words: Iterable[str] = ()) -> set[str]:
    """The words of a title that identify the launch itself."""
    generic = STOPWORDS | {t for w in service_words for t in tokens(w)}
    return {t for t in tokens(text) if t not in generic and (len(t) > 1 or t.isdigit())}


@dataclass(frozen=True, slots=True)
class Candidate:
    """What linking needs to know of an announcement or a session."""

    title: str
    services: tuple[str, ...] = ()  # display names / aliases of its services
    event: str | None = None  # event slug


def score_title_match(announcement: Candidate, session: Candidate) -> Link | None:
    """Score how well a session's title names an announcement; None when unrelated."""
    if announcement.event and session.event and announcement.event != session.event:
        return None
    session_tokens = set(tokens(session.title))
    service_words = {t for name in announcement.services for t in tokens(name)} - STOPWORDS
    own = distinctive(announcement.title, announcement.services)
    names_service = bool(service_words) and bool(service_words & session_tokens)
    if not own:
        # The launch title is only a service name ("Amazon Q"): any session about the
        # service could cover it, but none says so specifically.
        if names_service:
            return Link("title", SERVICE_ONLY_SCORE, f"session names the service {announcement.services[0]}")
        return None
    found = own & session_tokens
    coverage = len(found) / len(own)
    if coverage == 0:
        if names_service:
            return Link("title", SERVICE_ONLY_SCORE * 0.5, "session names the service only")
        return None
    # Distinctive words carry the score; naming the service as well adds confidence.
    score = 0.85 * coverage + (0.15 if names_service or not service_words else 0.0)
    if len(own) == 1 and not names_service and service_words:
        score = min(score, 0.5)  # one shared word and no shared service is weak evidence
    reason = f"session title has {len(found)}/{len(own)} of the launch's words ({', '.join(sorted(found))})"
    return Link("title", round(score, 3), reason)


def best_links(
    announcement: Candidate, sessions: Sequence[tuple[str, Candidate]], threshold: float
) -> list[tuple[str, Link]]:
    """Sessions (by key) whose title match reaches the threshold, best first."""
    scored = []
    for key, session in sessions:
        link = score_title_match(announcement, session)
        if link is not None and link.score >= threshold:
            scored.append((key, link))
    scored.sort(key=lambda pair: -pair[1].score)
    return scored


def structural_link(session_title: str) -> Link:
    """The link of an announcement made inside a session's section."""
    return Link("structural", 1.0, f"announced in the section of “{session_title}”")


def links_in_document(
    sessions: Sequence[tuple[str, str, str | None]],
    announcements: Sequence[tuple[str, tuple[str, ...], tuple[str, ...], str | None]],
    threshold: float,
) -> list[list[tuple[str, Link]]]:
    """Links between one document's announcements and its own sessions.

    sessions: (key, title, event slug); announcements: (title, service names, keys of the
    sessions whose section encloses it, event slug). Returns, per announcement, its
    (session key, Link) pairs: structural ones first, then title matches above threshold.
    """
    titles = {key: title for key, title, _ in sessions}
    candidates = [(key, Candidate(title, (), event)) for key, title, event in sessions]
    result: list[list[tuple[str, Link]]] = []
    for title, services, enclosing, event in announcements:
        links: list[tuple[str, Link]] = [
            (key, structural_link(titles.get(key, key))) for key in enclosing if key in titles
        ]
        taken = {key for key, _ in links}
        ann = Candidate(title, services, event)
        for key, link in best_links(ann, [c for c in candidates if c[0] not in taken], threshold):
            links.append((key, link))
        result.append(links)
    return result
