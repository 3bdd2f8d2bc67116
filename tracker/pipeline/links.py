"""Links across documents: announcements tied to the sessions of their event whose title names them.

A launch's links depend only on the launch (title, services, event) and on its event's sessions
(the index's words and weights come from the sessions alone), so a linking pass scores again
only the announcements changed since the last one, and every announcement of an event whose
sessions changed; a change of the threshold, the taxonomy or the matcher (the meaning model
appearing or going) scores everything again. The store's revisions (`tracker.store.changes`) say
what changed; `link_state` says up to which revision the last pass went.
"""

from __future__ import annotations

import hashlib
import logging

from tracker import link as linking
from tracker import meaning
from tracker.pipeline.context import Context
from tracker.store.changes import store_revision
from tracker.store.db import unit_of_work
from tracker.store.sessions import (
    LinkableAnnouncement,
    LinkState,
    announcements_for_linking,
    events_with_sessions_changed_since,
    link_session,
    link_state,
    save_link_state,
    sessions_for_linking,
    title_links_of_event,
    unlink_session,
)

log = logging.getLogger(__name__)


def _settings(ctx: Context) -> str:
    """What every link depends on besides the launch and its event's sessions."""
    text = f"{ctx.settings.link_threshold!r}|{ctx.version}|{meaning.installed()}"
    return hashlib.sha256(text.encode()).hexdigest()


def link_across_documents(ctx: Context, *, full: bool = False) -> int:
    """Link announcements to the sessions of their event, in any document, whose title names them;
    only what changed since the last pass is scored again (everything with `full`)."""
    created = 0
    settings = _settings(ctx)
    with unit_of_work(ctx.factory) as session:
        last = None if full else link_state(session)
        since = last.revision if last is not None and last.settings == settings else None
        sessions = sessions_for_linking(session)
        # Only a shared known event makes a title match across documents credible, so only
        # the announcements of events that have sessions are read (not the whole store).
        index = linking.SessionIndex(
            (x.id, linking.Candidate(x.title, (), x.event_slug)) for x in sessions if x.event_slug is not None
        )
        services = {s.slug: s for s in ctx.taxonomy.services}
        titles = {x.id: x.title for x in sessions}
        threshold = ctx.settings.link_threshold
        redo = set() if since is None else events_with_sessions_changed_since(session, since)
        changed: dict[str | None, list[LinkableAnnouncement]] = {}
        if since is not None:
            for found in announcements_for_linking(session, changed_since=since):
                changed.setdefault(found.event_slug, []).append(found)
        scored = 0
        for event_slug in sorted(e for e in index.weights if e is not None):
            every = since is None or event_slug in redo
            candidates = announcements_for_linking(session, event_slug) if every else changed.get(event_slug, [])
            if not candidates:
                continue
            scored += len(candidates)
            stored = title_links_of_event(
                session, event_slug, announcement_ids=None if every else [c.id for c in candidates]
            )
            for stored_ann in candidates:
                ann_id = stored_ann.id
                known = [services[s] for s in stored_ann.service_slugs if s in services]
                ann = linking.Candidate(
                    stored_ann.title, tuple(s.name for s in known), event_slug, tuple(s.aliases for s in known)
                )
                made = set()
                for match in index.links(ann, threshold):
                    made.add(int(match.session))
                    created += link_session(session, ann_id, int(match.session), match.link)
                # A title link that no longer reaches the threshold (raised, or a better scorer)
                # goes, unless its own document's sessions still justify it.
                for sid in linking.stale_title_links(ann, stored.get(ann_id, set()) - made, titles, threshold):
                    created += unlink_session(session, ann_id, sid)
        # This pass's own links raised the revision of what they changed: those are done too.
        save_link_state(session, LinkState(store_revision(session), settings))
    log.info(
        "linking across documents: %d announcements scored (%s), %d links made or changed",
        scored,
        "all" if since is None else f"changed since revision {since}",
        created,
    )
    return created
