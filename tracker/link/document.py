"""Links between one document's announcements and its own sessions (structural and by title)."""

from __future__ import annotations

from collections.abc import Sequence

from tracker.items import Link, LinkMethod
from tracker.link.match import Candidate, best_links


def structural_link(session_title: str) -> Link:
    """The link of an announcement made inside a session's section."""
    return Link(LinkMethod.STRUCTURAL, 1.0, f"announced in the section of “{session_title}”")


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
