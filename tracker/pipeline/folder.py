"""Publishing to a folder from the published state: what changed since the last publish, or everything.

The store keeps what the last publish wrote (`tracker.store.published`): up to which revision,
and each feed's entries in the feed's order. A publish then reads the announcements changed since
(`tracker.store.changes`) and their old places, moves their entries, and renders only the feed
documents the moves touch (`tracker.publish.delta`), reading those documents' entries: a run that
changed k announcements reads about k records plus a page or two of each of their feeds.

Everything is published instead (`--full`, or by itself) when there is no state, when it is of
another folder or of other settings (title, page size, base URL, renderer version), when the
folder does not carry the state's marker (emptied, restored, a publish cut short), when most of
the store changed, or when the state disagrees with the store on the way (`StaleState`). A full
publish places every announcement in chunks, then reads the feed of every announcement once,
newest first, and hands each record to each feed it is in, which renders a document as soon as
it is whole: it holds a chunk of records and, per feed, at most two documents, not the store.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session

from tracker.items import AnnouncementRecord
from tracker.pipeline.context import Context
from tracker.publish import FeedContext, FeedWriter, PublishReport
from tracker.publish.delta import MANY_EDITS, PagePlan, plan_pages, spans
from tracker.publish.feeds import (
    EPOCH,
    FEED_KINDS,
    DocumentRenderer,
    FeedKind,
    FeedSpec,
    all_spec,
    archive_page,
    archive_path,
    document_paths,
    entry_order,
    feed_updated,
    page_count,
    record_feeds,
    redate_opml,
    settings_digest,
    subscription_paging,
)
from tracker.publish.writer import (
    current_file,
    forget_fingerprints,
    forget_marker,
    load_fingerprints,
    read_marker,
    save_fingerprints,
    save_marker,
)
from tracker.store.db import unit_of_work
from tracker.store.published import (
    FeedEntry,
    PublishedFeed,
    PublishState,
    add_entries,
    add_feed,
    changed_since,
    clear_published_state,
    count_newer,
    count_older,
    current_revision,
    delete_feed,
    entries_of,
    feed_range,
    feed_sizes,
    newest_feed_update,
    orphaned_entries,
    placement_records,
    publish_state,
    published_feeds,
    published_feeds_of,
    records_of,
    refresh_entry_statistics,
    remove_entries,
    save_publish_state,
    update_feed,
)

log = logging.getLogger(__name__)

Place = tuple[int, str]  # (order_ts, key): an entry's place in its feed, ascending = newest first


# The first cap of a count of the entries before or after a place (then 4x, 16x...).
FIRST_COUNT = 256
# Past this many changed announcements (or a fifth of the store), a full publish is cheaper.
MANY_CHANGES = 20_000


class StaleState(Exception):
    """The published state does not match the store: publish everything instead."""


def publish_folder(ctx: Context, feed_ctx: FeedContext, *, full: bool = False) -> PublishReport:
    """Publish to the output folder: only what changed since the last publish, unless `full`
    or the published state cannot be used (then every feed, recording the state anew)."""
    job = _Job(ctx, feed_ctx)
    if not full:
        try:
            report = _publish_changes(job)
        except StaleState as exc:
            log.warning("publishing every feed: %s", exc)
        else:
            if report is not None:
                return report
    return _publish_everything(job)


class _Job:
    """What one publish to a folder works with."""

    def __init__(self, ctx: Context, feed_ctx: FeedContext) -> None:
        settings = ctx.settings
        self.ctx = ctx
        self.feed_ctx = feed_ctx
        self.output: Path = settings.output_dir
        self.title = settings.feed_title
        self.limit = settings.feed_limit
        if self.limit < 1:
            raise ValueError(f"limit must be positive, got {self.limit}")
        self.target = str(self.output.resolve())
        self.settings = settings_digest(feed_ctx, title=self.title, limit=self.limit)


def _marker(state: PublishState) -> str:
    return f"{state.token} {state.revision}"


def _why_not(job: _Job, state: PublishState | None, marker: str | None) -> str | None:
    """Why the published state cannot be built on, or None when it can."""
    if state is None:
        return "no published state in the store (a first publish, or one after an upgrade)"
    if state.target != job.target:
        return f"the last publish was to {state.target}"
    if state.settings != job.settings:
        return "the feeds' settings or renderers changed since the last publish"
    if marker != _marker(state):
        return "the folder does not hold the last publish (emptied, restored, or a publish was cut short)"
    if not (job.output / "index.opml").is_file():
        return "index.opml is missing"
    return None


def _publish_changes(job: _Job) -> PublishReport | None:
    """Render what changed since the last publish; None when the published state cannot be used."""
    marker = read_marker(job.output)
    with unit_of_work(job.ctx.factory) as session:
        state = publish_state(session)
        why = _why_not(job, state, marker)
        if why is not None or state is None:
            log.info("publishing every feed: %s", why)
            return None
        revision = current_revision(session)
        changed = changed_since(session, state.revision)
        orphans = orphaned_entries(session)
        if not changed and not orphans:
            log.info("publishing: nothing changed since revision %d", state.revision)
            return PublishReport(written=[], unchanged=0, removed=[])
        stored = sum(f.entries for f in published_feeds_of(session, kind=FeedKind.ALL))
        if len(changed) + len(orphans) > max(MANY_CHANGES, stored // 5):
            # Most of the store changed (a taxonomy change re-extracted): a full publish reads the
            # records in one pass instead of holding every changed one at once.
            log.info("publishing every feed: %d of %d announcements changed", len(changed), stored)
            return None
        log.info(
            "publishing %d changed and %d removed announcements (revision %d -> %d)",
            len(changed),
            len({e.key for e in orphans}),
            state.revision,
            revision,
        )
        # From the first file changed on, the folder matches no recorded state: a publish cut
        # short is followed by a full one, and a full one renders everything (the fingerprints
        # are not kept up to date here: that would read and write all of them).
        forget_marker(job.output)
        forget_fingerprints(job.output)
        # No sweep of the whole folder for a killed publish's temporary files: that publish left
        # no marker, so a full publish (which sweeps) comes first.
        writer = FeedWriter(job.output, sweep=False)
        renderer = DocumentRenderer(job.feed_ctx, sink=writer.write, fingerprints=False)
        delta = _Feeds(job, session, renderer, remove=writer.remove)
        newest = newest_feed_update(session)
        delta.apply(changed, orphans)
        delta.render_indexes_after(newest, keep=writer.keep, current=lambda rel: current_file(job.output, rel))
        new_state = replace(state, revision=revision)
        save_publish_state(session, new_state, at=datetime.now(UTC))
    report = writer.finish()
    save_marker(job.output, _marker(new_state))
    return report


def _publish_everything(job: _Job) -> PublishReport:
    """Render every feed from the store, recording the published state anew."""
    output = job.output
    known = load_fingerprints(output)
    forget_fingerprints(output)
    forget_marker(output)
    # Every caller holds the run lock (tracker.lock): any temporary file already there was
    # left by a publish that was killed, so it is removed whatever its age.
    writer = FeedWriter(output, stale_temp_after=0)
    renderer = DocumentRenderer(job.feed_ctx, known=known, sink=writer.write)
    with unit_of_work(job.ctx.factory) as session:
        revision = current_revision(session)
        clear_published_state(session)
        feeds = _Feeds(job, session, renderer)
        feeds.place_everything()
        feeds.render_indexes()
        state = PublishState(job.target, uuid.uuid4().hex, revision, job.settings)
        save_publish_state(session, state, at=datetime.now(UTC))
    writer.keep(renderer.build.kept)
    report = writer.finish(prune=True)
    save_fingerprints(output, renderer.build.fingerprints)
    save_marker(output, _marker(state))
    return report


def _stored_spec(feed: PublishedFeed) -> FeedSpec:
    return FeedSpec(
        path=feed.path,
        title=feed.title,
        description=feed.description,
        kind=feed.kind,
        slug=feed.slug,
        event_slug=feed.event_slug,
        category=feed.category,
    )


def _feed_row(spec: FeedSpec, *, feed_id: int = 0, entries: int = 0, updated: datetime = EPOCH) -> PublishedFeed:
    return PublishedFeed(
        id=feed_id,
        path=spec.path,
        kind=spec.kind,
        slug=spec.slug,
        event_slug=spec.event_slug,
        title=spec.title,
        description=spec.description,
        category=spec.category,
        entries=entries,
        updated=updated,
    )


def _spec_order(spec: FeedSpec) -> tuple[int, str, str]:
    # As tracker.publish.feeds.feed_specs lists them: all, services, events, event-services.
    return (FEED_KINDS.index(spec.kind), spec.event_slug or spec.slug or "", spec.slug or "")


def _nothing_to_remove(paths: Iterable[str]) -> None:
    """A full publish removes nothing by name: it prunes what it did not write."""
    for path in paths:  # pragma: no cover - a full publish plans no removal
        raise AssertionError(f"a full publish does not remove {path}")


def _warn_skipped(skipped: Iterable[str]) -> None:
    for what in sorted(skipped):
        # A slug outside [a-z0-9-] could name a path outside the output folder.
        log.warning("no feed for %s: its slug is not [a-z0-9-]+", what)


class _FeedPass:
    """One feed's documents assembled from its entries as they are read, newest first, and each
    rendered as soon as it is whole: at most the subscription document and one page are held."""

    def __init__(
        self, spec: FeedSpec, total: int, limit: int, renderer: DocumentRenderer, *, pages: Iterable[int] | None = None
    ) -> None:
        self.spec = spec
        self.total = total
        self.limit = limit
        self.renderer = renderer
        self.pages = page_count(total, limit)
        self.first_paged = total - self.pages * limit  # newer entries are on no archive page yet
        self.wanted = None if pages is None else set(pages)  # None: every page
        self.size = min(limit, total)
        self.subscription: list[AnnouncementRecord] = []
        self.open: dict[int, list[AnnouncementRecord]] = {}
        self.updated = EPOCH
        self.seen = 0

    def add(self, record: AnnouncementRecord, at: int) -> None:
        """The record at place `at` (0 = newest) of the feed."""
        self.seen += 1
        ctx = self.renderer.ctx
        if at < self.size:
            self.subscription.append(record)
            if len(self.subscription) == self.size:
                self.updated = feed_updated(self.subscription)
                self.renderer.render(self.spec, self.subscription, subscription_paging(self.spec, self.pages, ctx))
                self.subscription = []
        if at >= self.first_paged:
            number = self.pages - (at - self.first_paged) // self.limit
            if self.wanted is None or number in self.wanted:
                page = self.open.setdefault(number, [])
                page.append(record)
                if len(page) == self.limit:
                    page_spec, paging = archive_page(self.spec, number, self.pages, ctx)
                    self.renderer.render(page_spec, page, paging)
                    del self.open[number]

    def finish(self) -> datetime:
        """Check every planned document was whole; the subscription document's updated."""
        if self.total == 0:  # the feed of every announcement, with none yet
            self.renderer.render(self.spec, [], subscription_paging(self.spec, 0, self.renderer.ctx))
        if self.open or self.subscription:
            raise StaleState(f"{self.spec.path}: documents not read whole ({self.seen} entries read)")
        return self.updated


class _Feeds:
    """The feeds of one publish: entries moved in the published state, documents rendered."""

    def __init__(
        self,
        job: _Job,
        session: Session,
        renderer: DocumentRenderer,
        remove: Callable[[Iterable[str]], None] | None = None,
    ) -> None:
        self.job = job
        self.session = session
        self.renderer = renderer
        self.remove = remove or _nothing_to_remove
        self.limit = job.limit
        self.changed: dict[int, AnnouncementRecord] = {}  # the changed records, read once
        self.checking = True  # whether the entries read are checked against their records' feeds
        # After `apply`: whether the list of feeds the indexes show changed (a feed added or
        # gone, a title, description or category).
        self.listing_changed = False

    # -- what changed ----------------------------------------------------------------------

    def apply(self, changed: Sequence[int], orphans: Sequence[FeedEntry]) -> None:
        """Move the entries of the changed and removed announcements; render what that touches."""
        session = self.session
        self.changed = records_of(session, changed)
        entries = [*entries_of(session, changed), *orphans]
        new: dict[str, dict[Place, int]] = {}
        specs: dict[str, FeedSpec] = {}
        skipped: set[str] = set()
        for record in self.changed.values():
            place = entry_order(record)
            for spec in record_feeds(record, title=self.job.title, skipped=skipped):
                specs.setdefault(spec.path, spec)
                new.setdefault(spec.path, {})[place] = record.id
        _warn_skipped(skipped)
        # Only the feeds the change touches: those of the entries it moves and those it enters.
        stored = {f.path: f for f in published_feeds_of(session, paths=new, ids={e.feed_id for e in entries})}
        paths = {f.id: f.path for f in stored.values()}
        old: dict[str, dict[Place, int | None]] = {}
        for entry in entries:
            old.setdefault(paths[entry.feed_id], {})[(entry.order_ts, entry.key)] = entry.announcement_id
        for path in sorted(set(old) | set(new)):
            feed = stored.get(path)
            found = specs.get(path) or (_stored_spec(feed) if feed is not None else None)
            if found is None:  # pragma: no cover - an old entry always has its stored feed
                raise StaleState(f"entries of an unknown feed {path!r}")
            self._change_feed(found, feed, old.get(path, {}), new.get(path, {}))

    def _change_feed(
        self, spec: FeedSpec, feed: PublishedFeed | None, old: dict[Place, int | None], new: dict[Place, int]
    ) -> None:
        """One feed: its entries moved in the store, then the documents that moved rendered."""
        session = self.session
        # An entry whose announcement is gone (None) leaves; one moved or re-created elsewhere too.
        removed = [place for place, ann in old.items() if ann is None or new.get(place) != ann]
        added = [place for place, ann in new.items() if old.get(place) != ann]
        edited = [place for place, ann in new.items() if old.get(place) == ann]
        old_total = feed.entries if feed is not None else 0
        total = old_total - len(removed) + len(added)
        if total < 0:
            raise StaleState(f"{spec.path} would have {total} entries")
        feed_id = feed.id if feed is not None else add_feed(session, _feed_row(spec))
        remove_entries(session, [FeedEntry(feed_id, *place, old[place]) for place in removed])
        add_entries(session, [FeedEntry(feed_id, *place, new[place]) for place in added])
        if total == 0 and spec.kind != FeedKind.ALL:
            # Its last entry left (a service no launch has any more): its files go.
            gone = [spec.path] + [archive_path(spec.path, n) for n in range(1, page_count(old_total, self.limit) + 1)]
            self.remove([p for doc in gone for p in document_paths(doc)])
            delete_feed(session, feed_id)
            self.listing_changed = True
            return
        relisted = feed is None or (feed.title, feed.description, feed.category) != (
            spec.title,
            spec.description,
            spec.category,
        )
        self.listing_changed |= relisted
        everything = relisted or len(edited) > MANY_EDITS
        shifted_from = None
        if not everything and (removed or added):
            oldest = max([*removed, *added])
            shifted_from = self._older(feed_id, oldest, total, present=oldest in new)
        older = [] if everything else [self._older(feed_id, place, total, present=True) for place in edited]
        plan = plan_pages(old_total, total, self.limit, shifted_from=shifted_from, edited=older, everything=everything)
        self.remove([p for n in plan.remove for p in document_paths(archive_path(spec.path, n))])
        updated = self._render(spec, feed_id, total, plan)
        update_feed(session, _feed_row(spec, feed_id=feed_id, entries=total, updated=updated))

    def _older(self, feed_id: int, place: Place, total: int, *, present: bool) -> int:
        """How many entries of the feed are older than `place`, counted from the nearer end:
        both ends with a cap that doubles, so the count costs about min(newer, older) rows."""
        cap = FIRST_COUNT
        while True:
            newer = count_newer(self.session, feed_id, *place, cap=cap)
            if newer < cap:
                return total - newer - (1 if present else 0)
            older = count_older(self.session, feed_id, *place, cap=cap)
            if older < cap:
                return older
            cap *= 4

    # -- everything ------------------------------------------------------------------------

    def place_everything(self) -> None:
        """Every announcement's entries, in chunks; then every feed rendered from them."""
        session = self.session
        title = self.job.title
        ids: dict[str, int] = {}
        specs: dict[str, FeedSpec] = {}
        everything = all_spec(title)  # published even when the store is empty
        ids[everything.path] = add_feed(session, _feed_row(everything))
        specs[everything.path] = everything
        skipped: set[str] = set()
        placed = 0
        for chunk in placement_records(session):
            entries: list[FeedEntry] = []
            for record in chunk:
                place = entry_order(record)
                for spec in record_feeds(record, title=title, skipped=skipped):
                    feed_id = ids.get(spec.path)
                    if feed_id is None:
                        feed_id = ids[spec.path] = add_feed(session, _feed_row(spec))
                        specs[spec.path] = spec
                    entries.append(FeedEntry(feed_id, *place, record.id))
            placed += add_entries(session, entries)
        _warn_skipped(skipped)
        refresh_entry_statistics(session)
        sizes = feed_sizes(session)
        log.info("publishing every feed: %d feeds, %d entries", len(ids), placed)
        # One pass over the feed of every announcement, newest first: every other feed is a part
        # of the same order, so each record is read once and handed to each of its feeds, which
        # renders a document as soon as it is whole.
        passes = {
            path: _FeedPass(spec, sizes.get(ids[path], 0), self.limit, self.renderer) for path, spec in specs.items()
        }
        at = dict.fromkeys(passes, 0)
        total = sizes.get(ids[everything.path], 0)
        for read in feed_range(session, ids[everything.path], 0, total, total=total):
            records = records_of(session, [e.announcement_id for e in read if e.announcement_id is not None])
            for entry in read:
                record = self._checked(records, entry, everything.path)
                for spec in record_feeds(record, title=title):
                    passes[spec.path].add(record, at[spec.path])
                    at[spec.path] += 1
        for path, feed in passes.items():
            if at[path] != feed.total:
                raise StaleState(f"{path}: {at[path]} entries read, {feed.total} placed")
            updated = feed.finish()
            spec = specs[path]
            update_feed(session, _feed_row(spec, feed_id=ids[path], entries=feed.total, updated=updated))

    # -- rendering -------------------------------------------------------------------------

    def _records(self, entries: Sequence[FeedEntry]) -> dict[int, AnnouncementRecord]:
        wanted = {e.announcement_id for e in entries if e.announcement_id is not None}
        found = {i: self.changed[i] for i in wanted if i in self.changed}
        missing = wanted - found.keys()
        if missing:
            found.update(records_of(self.session, sorted(missing)))
        return found

    def _belongs(self, record: AnnouncementRecord, path: str) -> bool:
        return any(spec.path == path for spec in record_feeds(record, title=self.job.title))

    def _render(self, spec: FeedSpec, feed_id: int, total: int, plan: PagePlan) -> datetime:
        """The feed's subscription document and the planned archive pages, read from its entries
        as they come; returns the subscription's updated."""
        feed = _FeedPass(spec, total, self.limit, self.renderer, pages=plan.render)
        for start, stop in spans(plan.render, total, self.limit):
            at = start
            for chunk in feed_range(self.session, feed_id, start, stop, total=total):
                records = self._records(chunk)
                for entry in chunk:
                    record = self._checked(records, entry, spec.path)
                    if self.checking and record.id not in self.changed and not self._belongs(record, spec.path):
                        # A change the store did not mark (a write behind its back).
                        raise StaleState(f"{spec.path}: {entry.key!r} is no longer an entry of it")
                    feed.add(record, at)
                    at += 1
            if at != min(stop, total):
                raise StaleState(f"{spec.path} has fewer entries than recorded ({at} of {total})")
        return feed.finish()

    @staticmethod
    def _checked(records: dict[int, AnnouncementRecord], entry: FeedEntry, path: str) -> AnnouncementRecord:
        record = records.get(entry.announcement_id) if entry.announcement_id is not None else None
        if record is None or entry_order(record) != (entry.order_ts, entry.key):
            raise StaleState(f"{path}: the entry {entry.key!r} is not where the store says")
        return record

    def render_indexes_after(
        self,
        newest: datetime | None,
        *,
        keep: Callable[[Iterable[str]], None],
        current: Callable[[str], bytes | None],
    ) -> None:
        """The indexes after `apply`, the newest feed `updated` having been `newest` before it:
        when the list of feeds is the same, index.html is already right on disk (the folder holds
        the last publish) and index.opml differs at most by its dateModified (the newest
        `updated`); else both are rendered from every feed. `keep` takes the files left as they
        are, `current` reads one."""
        if not self.listing_changed:
            was = newest or EPOCH
            now = newest_feed_update(self.session) or EPOCH
            opml = current("index.opml")
            redated = None if opml is None else redate_opml(opml, was, now)
            if redated is not None and current("index.html") is not None:
                keep(["index.html"])
                if redated == opml:
                    keep(["index.opml"])
                else:
                    self.renderer.emit("index.opml", redated)
                return
        self.render_indexes()

    def render_indexes(self) -> None:
        """index.opml and index.html, from every published feed."""
        feeds = published_feeds(self.session)
        specs = [_stored_spec(f) for f in sorted(feeds, key=lambda f: _spec_order(_stored_spec(f)))]
        newest = max((f.updated for f in feeds), default=EPOCH)
        self.renderer.render_indexes(specs, title=self.job.title, updated=newest)
