"""Links between one document's announcements and its own sessions (structural and by title)."""

from __future__ import annotations

from collections.abc import Sequence

from tracker.items import Link, LinkMethod
from tracker.link.match import Candidate, SessionMatch, best_links


def structural_link(session_title: str) -> Link:
    """The link of an announcement made inside a session's section."""
    return Link(LinkMethod.STRUCTURAL, 1.0, f"announced in the section of “{session_title}”")


def links_in_document(
    sessions: Sequence[tuple[str, str, str | None]],
    announcements: Sequence[tuple[str, tuple[str, ...], tuple[str, ...], str | None]]
    | Sequence[tuple[str, tuple[str, ...], tuple[str, ...], str | None, tuple[tuple[str, ...], ...]]],
    threshold: float,
) -> list[list[SessionMatch[str]]]:
    """Links between one document's announcements and its own sessions.

    sessions: (key, title, event slug); announcements: (title, service names, keys of the
    sessions whose section encloses it, event slug[, per service its other spellings]).
    Returns, per announcement, the sessions it links to (by key): structural ones first, then
    title matches above threshold.
    """
    titles = {key: title for key, title, _ in sessions}
    candidates = [(key, Candidate(title, (), event)) for key, title, event in sessions]
    result: list[list[SessionMatch[str]]] = []
    for row in announcements:
        title, services, enclosing, event = row[0], row[1], row[2], row[3]
        aliases = row[4] if len(row) > 4 else ()
        links = [SessionMatch(key, structural_link(titles.get(key, key))) for key in enclosing if key in titles]
        taken = {match.session for match in links}
        ann = Candidate(title, services, event, aliases)
        links += best_links(ann, [c for c in candidates if c[0] not in taken], threshold)
        result.append(links)
    return result
