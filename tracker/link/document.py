"""Links between one document's announcements and its own sessions (structural and by title)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tracker.items import Link, LinkMethod
from tracker.link.match import Candidate, SessionMatch, best_links


def structural_link(session_title: str) -> Link:
    """The link of an announcement made inside a session's section."""
    return Link(LinkMethod.STRUCTURAL, 1.0, f"announced in the section of “{session_title}”")


@dataclass(frozen=True, slots=True)
class DocumentSession:
    """A session of the document being linked, under its key in that document."""

    key: str
    title: str
    event: str | None = None  # event slug


@dataclass(frozen=True, slots=True)
class DocumentLaunch:
    """An announcement of the document being linked."""

    title: str
    services: tuple[str, ...] = ()  # display names of its services
    sessions: tuple[str, ...] = ()  # keys of the sessions whose section encloses it
    event: str | None = None  # event slug
    aliases: tuple[tuple[str, ...], ...] = ()  # per service (same order), its other spellings


def links_in_document(
    sessions: Sequence[DocumentSession], announcements: Sequence[DocumentLaunch], threshold: float
) -> list[list[SessionMatch[str]]]:
    """Links between one document's announcements and its own sessions.

    Returns, per announcement, the sessions it links to (by key): structural ones first, then
    title matches above threshold.
    """
    titles = {s.key: s.title for s in sessions}
    candidates = [(s.key, Candidate(s.title, (), s.event)) for s in sessions]
    result: list[list[SessionMatch[str]]] = []
    for launch in announcements:
        links = [SessionMatch(key, structural_link(titles.get(key, key))) for key in launch.sessions if key in titles]
        taken = {match.session for match in links}
        ann = Candidate(launch.title, launch.services, launch.event, launch.aliases)
        links += best_links(ann, [c for c in candidates if c[0] not in taken], threshold)
        result.append(links)
    return result
