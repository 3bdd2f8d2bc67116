"""Links across documents: announcements tied to the sessions of their event whose title names them."""

from __future__ import annotations

from tracker import link as linking
from tracker.pipeline.context import Context
from tracker.store.db import unit_of_work
from tracker.store.sessions import (
    announcements_for_linking,
    link_session,
    sessions_for_linking,
    title_links_of_event,
    unlink_session,
)


def link_across_documents(ctx: Context) -> int:
    """Link announcements to the sessions of their event, in any document, whose title names them."""
    created = 0
    with unit_of_work(ctx.factory) as session:
        sessions = sessions_for_linking(session)
        # Only a shared known event makes a title match across documents credible, so only
        # the announcements of events that have sessions are read (not the whole store).
        index = linking.SessionIndex(
            (x.id, linking.Candidate(x.title, (), x.event_slug)) for x in sessions if x.event_slug is not None
        )
        services = {s.slug: s for s in ctx.taxonomy.services}
        titles = {x.id: x.title for x in sessions}
        threshold = ctx.settings.link_threshold
        for event_slug in sorted(e for e in index.weights if e is not None):
            stored = title_links_of_event(session, event_slug)
            for stored_ann in announcements_for_linking(session, event_slug):
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
    return created
