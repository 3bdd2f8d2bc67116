"""One run: fetch → extract → normalise → store → link → publish.

The pipeline owns the transactions: one per fetched document, so a failure in one
document rolls back that document only. A failing source is recorded and the run goes on.
Only this module imports every stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
import signal
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tracker import link as linking
from tracker.config import Settings, SourceConfig, SourceKind, data_file
from tracker.errors import ConfigError, ExtractError, FailureKind, FetchError, TrackerError
from tracker.extract import EXTRACTOR_VERSION, KINDS, extract
from tracker.extract.rules import Rules, load_rules
from tracker.items import AnnouncementRecord, Document, NormalizedAnnouncement, RawDocument, RunStatus, SourceStatus
from tracker.normalize import Taxonomy, dedupe, normalize
from tracker.normalize.events import DeclaredEvent, detect_event, load_declared_events
from tracker.parallel import Job, default_workers, extract_archived
from tracker.publish import (
    FeedContext,
    FeedWriter,
    PublishReport,
    build_feeds,
    forget_fingerprints,
    load_fingerprints,
    save_fingerprints,
)
from tracker.publish.objectstore import ObjectStoreWriter, feeds_present
from tracker.redact import mask_text, mask_url
from tracker.sources import Fetcher, hosts_of, is_remote, push
from tracker.sources.guard import check_document
from tracker.sources.prefetch import Prefetch, runs_ahead
from tracker.store.announcements import (
    add_mention,
    announcements_created_since,
    declare_event,
    dedupe_candidates,
    get_or_create_event,
    keys_mentioned_by,
    stored_date_and_event,
    sync_services,
    upsert_announcement,
)
from tracker.store.archive import Archive
from tracker.store.db import DiskError, disk_error, is_disk_failure, open_store, unit_of_work
from tracker.store.documents import archived_bodies, document_is_current, document_states, upsert_document
from tracker.store.queries import query_announcements
from tracker.store.runs import finish_run, previous_run, start_run
from tracker.store.sessions import (
    announcements_for_linking,
    link_session,
    sessions_for_linking,
    title_links_of_event,
    unlink_session,
    upsert_session,
)
from tracker.store.sources import (
    get_or_create_source,
    load_robots,
    record_fetch_failure,
    record_fetch_success,
    save_robots,
    source_cache,
)
from tracker.textutil import plural

log = logging.getLogger(__name__)
# Marks a log line whose error the caller also gets (a failed outcome, an exception) and reports:
# the CLI prints those errors itself and drops these lines, so each error is printed once;
# `tracker schedule` and embedding applications keep them.
REPORTED = {"reported": True}


class Progress(Protocol):
    """Where a long run reports (tracker.console.Bars on a terminal): with `done`, a count of `total`
    `unit` under `label`, called often (the reporter draws at its own pace); without, a line of news."""

    def __call__(self, label: str, done: int | None = None, total: int | None = None, unit: str = "documents") -> None:
        """Report a count, or a line when `done` is None."""


@dataclass
class SourceOutcome:
    """What happened to one source in a run."""

    name: str
    status: str = SourceStatus.OK
    error_kind: str | None = None
    error: str | None = None
    documents: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, object]:
        """Plain data for the runs table and JSON output."""
        return {
            "status": self.status,
            "error_kind": self.error_kind,
            "error": self.error,
            "documents": self.documents,
            **dict(self.counts),
        }


@dataclass
class RunReport:
    """The outcome of one run."""

    outcomes: list[SourceOutcome] = field(default_factory=list)
    published: PublishReport | None = None
    links_across_documents: int = 0  # links made or changed by link_across_documents

    @property
    def failed(self) -> list[SourceOutcome]:
        """The sources that failed."""
        return [o for o in self.outcomes if o.status == SourceStatus.FAILED]

    @property
    def counts(self) -> Counter[str]:
        """Counts summed over sources."""
        total: Counter[str] = Counter()
        for outcome in self.outcomes:
            total.update(outcome.counts)
            total["documents"] += outcome.documents
        total["links_across_documents"] += self.links_across_documents
        return total


class Context:
    """What the stages need for a run, built once from settings."""

    def __init__(self, settings: Settings, *, now: datetime | None = None) -> None:
        self.settings = settings
        self.now = now or datetime.now(UTC)
        # Asked between documents: True means stop (SIGTERM to `tracker schedule`).
        self.stop: Callable[[], bool] = lambda: False
        self.factory: sessionmaker[Session] = open_store(settings.database_url)
        self.taxonomy = Taxonomy.load(data_file(settings.config_dir, "services.toml").parent)
        self.rules_file = data_file(settings.config_dir, "extract.toml")
        self.rules: Rules = load_rules(self.rules_file)
        self.archive = Archive(settings.archive_dir)
        self.services_by_slug = {s.slug: s for s in self.taxonomy.services}
        # A stored document is redone when what was extracted from it changed (its content
        # hash) or when the code or the taxonomy that normalise it did. The rules' version is
        # left out on purpose: after a rules change, `tracker reextract` re-extracts every
        # body and stores again only the documents whose extraction came out different.
        self.version = f"{EXTRACTOR_VERSION}+{_taxonomy_fingerprint(self.taxonomy)}"
        # Events declared in tracker/data/events.toml: their days, and names no pattern knows.
        self.events: tuple[DeclaredEvent, ...] = load_declared_events(data_file(settings.config_dir, "events.toml"))
        with unit_of_work(self.factory) as session:
            sync_services(session, self.taxonomy.services)
            for declared in self.events:
                declare_event(
                    session,
                    declared.event.slug,
                    declared.event.name,
                    declared.event.year,
                    starts_on=declared.starts,
                    ends_on=declared.ends,
                )


def _taxonomy_fingerprint(taxonomy: Taxonomy) -> str:
    digest = hashlib.sha1()
    for service in taxonomy.services:
        digest.update(f"{service.slug}|{service.name}|{'|'.join(service.aliases)}\n".encode())
    return digest.hexdigest()[:8]


def _document_hash(doc: Document) -> str:
    """Hash of what was extracted from a document: unchanged hash, nothing to redo."""
    payload = repr(
        (doc.title, doc.author, doc.published_at, doc.categories, doc.event, doc.announcements, doc.sessions)
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _event_for(
    session: Session, *texts: str | None, declared: Sequence[DeclaredEvent] = (), on: datetime | None = None
) -> tuple[int | None, str | None]:
    event = detect_event(*texts, declared=declared, on=on)
    if event is None:
        return None, None
    return get_or_create_event(session, event.slug, event.name, event.year), event.slug


def ingest_document(
    ctx: Context,
    session: Session,
    doc: Document,
    *,
    source: str | None,
    archive_sha: str | None,
    declared_event: str | None = None,
    content_hash: str | None = None,
) -> Counter[str]:
    """Store one extracted document with its announcements, sessions and links."""
    counts: Counter[str] = Counter()
    doc_id, changed = upsert_document(
        session,
        url=doc.url,
        title=doc.title,
        author=doc.author,
        published_at=doc.published_at,
        content_hash=content_hash or _document_hash(doc),
        extractor_version=ctx.version,
        archive_sha=archive_sha,
        source_name=source,
        kind=doc.kind,
        fetched_at=ctx.now,
    )
    if not changed:
        counts["documents_unchanged"] += 1
        return counts
    counts["documents_changed"] += 1
    doc_event = declared_event or doc.event

    session_ids: dict[str, int] = {}
    session_events: dict[str, str | None] = {}
    for conf in doc.sessions:
        event_id, event_slug = _event_for(
            session,
            declared_event,
            conf.event,
            doc_event,
            doc.title,
            declared=ctx.events,
            on=conf.published_at or doc.published_at,
        )
        session_ids[conf.key] = upsert_session(session, conf, event_id=event_id, event_slug=event_slug)
        session_events[conf.key] = event_slug
        counts["sessions"] += 1

    normalized = normalize(doc, ctx.taxonomy, now=ctx.now, events=ctx.events, declared_event=declared_event)
    if len(normalized) == 1:
        # A one-launch document (a What's New item, a launch post) whose title was reworded
        # upstream is still the same launch: it keeps the announcement it already had.
        previous = keys_mentioned_by(session, doc_id)
        if len(previous) == 1 and previous[0] != normalized[0].key:
            normalized = [replace(normalized[0], key=previous[0])]
    in_doc = linking.links_in_document(
        [(conf.key, conf.title, session_events.get(conf.key)) for conf in doc.sessions],
        [
            (
                na.announcement.title,
                tuple(s.name for s in na.services),
                na.announcement.sessions,
                None,
                tuple(s.aliases for s in na.services),
            )
            for na in normalized
        ],
        ctx.settings.link_threshold,
    )
    for na, links in zip(normalized, in_doc, strict=True):
        event_id, _ = _event_for(session, na.event, declared=ctx.events, on=na.announced_at or doc.published_at)
        na, stored = _own_key(session, na)
        duplicate = None if stored else _stored_duplicate(ctx, session, na)
        if duplicate is not None:
            na = replace(na, key=duplicate)
            counts["announcements_merged"] += 1
        ann_id, status = upsert_announcement(session, na, now=ctx.now, event_id=event_id, document_url=doc.url)
        counts[f"announcements_{status}"] += 1
        if add_mention(
            session,
            ann_id,
            doc_id,
            excerpt=na.announcement.excerpt or na.announcement.title,
            position=na.announcement.position,
            rule=na.announcement.rule,
            new_announcement=status == "created",
        ):
            counts["mentions"] += 1
        for key, link in links:
            if link_session(session, ann_id, session_ids[key], link):
                counts["links"] += 1
    return counts


def _stored_duplicate(ctx: Context, session: Session, na: NormalizedAnnouncement) -> str | None:
    """The key of a stored announcement that is this same launch under other words, if any
    (for an announcement whose own key is not stored yet)."""
    if not na.services:
        return None
    when = na.announced_at or na.announcement.published_at
    known = [
        dedupe.Known(key, title, slugs, announced_at, event)
        for key, title, slugs, announced_at, event in dedupe_candidates(
            session, (s.slug for s in na.services), around=when, days=dedupe.MAX_DAYS_APART
        )
        if key != na.key
    ]
    return dedupe.find_duplicate(na.announcement.title, na.services, when, known, ctx.services_by_slug, event=na.event)


def _own_key(session: Session, na: NormalizedAnnouncement) -> tuple[NormalizedAnnouncement, bool]:
    """The announcement under a key of its own when its key is taken by another launch of the
    same name (another event, or years apart): the key gets the event's slug or the year.
    Also says whether its (final) key is stored already."""
    stored = stored_date_and_event(session, na.key)
    if stored is None:
        return na, False
    if not dedupe.same_key_other_launch(na.announced_at, na.event, *stored):
        return na, True
    event = detect_event(na.event) if na.event else None
    suffix = event.slug if event else (str(na.announced_at.year) if na.announced_at else "other")
    na = replace(na, key=f"{na.key}-{suffix}")
    return na, stored_date_and_event(session, na.key) is not None


def extract_raw(
    ctx: Context, raw: RawDocument, *, kind: str = SourceKind.AUTO, event: str | None = None, url: str | None = None
) -> list[Document]:
    """Extract the documents of fetched bytes with the run's rules (`url`: the public address
    of a saved file, which the document then is)."""
    return extract(raw.body, url=url or raw.url, content_type=raw.content_type, kind=kind, rules=ctx.rules, event=event)


def process_source(
    ctx: Context,
    fetcher: Fetcher,
    source: SourceConfig,
    *,
    progress: Progress | None = None,
    prefetch: Prefetch | None = None,
) -> SourceOutcome:
    """Fetch (or take from `prefetch`), extract and store one source; failures are recorded, never raised."""
    outcome = SourceOutcome(source.name)
    with unit_of_work(ctx.factory) as session:
        get_or_create_source(session, source.name, kind=source.kind, url=source.url)
        etag, last_modified = source_cache(session, source.name)
    try:
        if prefetch is not None and prefetch.has(source.name):
            raw = prefetch.result(source.name)
        else:
            raw = fetcher.fetch(source.url, source=source.name, etag=etag, last_modified=last_modified)
        if raw.not_modified:
            outcome.status = SourceStatus.NOT_MODIFIED
        else:
            # Hostile XML and a feed source answering with an error page are refused whole;
            # a charset the server got wrong is corrected.
            raw = check_document(raw, source.kind)
            archive_sha = archive(ctx, raw.body)
            docs = extract_raw(ctx, raw, kind=source.kind, event=source.event, url=source.public_url)
            if not source.fetch_pages:
                # Batched: one commit per INGEST_BATCH documents, one savepoint per document.
                done = ingest_many(
                    ctx,
                    (Prepared(doc, archive_sha) for doc in docs),
                    outcome,
                    source=source.name,
                    declared_event=source.event,
                    progress=progress,
                    total=len(docs),
                    stop=ctx.stop,
                )
                if not done:
                    outcome.status = SourceStatus.INTERRUPTED
                    return outcome
                docs = []
            for index, doc in enumerate(docs, 1):
                if ctx.stop():
                    # Stopping between documents: the validators are not saved, so the
                    # next run fetches this source again and stores the rest.
                    outcome.status = SourceStatus.INTERRUPTED
                    return outcome
                # One transaction per document: a bad document loses only itself.
                try:
                    doc_hash, doc_sha = None, archive_sha
                    if source.fetch_pages:
                        doc, doc_hash, page_sha = with_page(ctx, fetcher, source, doc, outcome.counts)
                        doc_sha = page_sha or archive_sha
                    with unit_of_work(ctx.factory) as session:
                        outcome.counts.update(
                            ingest_document(
                                ctx,
                                session,
                                doc,
                                source=source.name,
                                archive_sha=doc_sha,
                                declared_event=source.event,
                                content_hash=doc_hash,
                            )
                        )
                    outcome.documents += 1
                except DiskError:
                    raise  # a full or read-only disk fails every later document too: the run ends
                except TrackerError as exc:
                    log.warning("%s: document %s failed: %s", source.name, mask_url(doc.url), mask_text(str(exc)))
                    outcome.counts["documents_failed"] += 1
                if progress:
                    progress(source.name, index, len(docs))
    except (FetchError, ExtractError) as exc:
        outcome.status = SourceStatus.FAILED
        outcome.error_kind = getattr(exc, "kind", FailureKind.EXTRACT)
        # Recorded, printed and logged without the credentials or tokens of any URL in it.
        outcome.error = mask_text(str(exc))
        log.error("source %s failed: %s", source.name, outcome.error, extra=REPORTED)
        with unit_of_work(ctx.factory) as session:
            record_fetch_failure(
                session, source.name, at=ctx.now, kind=outcome.error_kind or FailureKind.ERROR, message=outcome.error
            )
        return outcome
    # The cache validators are saved only once the documents are stored, so that an
    # interrupted run fetches the source again instead of skipping it.
    with unit_of_work(ctx.factory) as session:
        record_fetch_success(
            session, source.name, at=ctx.now, etag=raw.etag, last_modified=raw.last_modified, status=outcome.status
        )
    return outcome


class StoredRobots:
    """The fetcher's robots.txt cache, kept in the store between runs."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def load(self, origin: str) -> tuple[bytes, str | None, str | None] | None:
        """The kept robots.txt of an origin."""
        with unit_of_work(self.ctx.factory) as session:
            return load_robots(session, origin)

    def save(self, origin: str, body: bytes, etag: str | None, last_modified: str | None) -> None:
        """Keep a freshly fetched robots.txt."""
        with unit_of_work(self.ctx.factory) as session:
            save_robots(session, origin, body, etag=etag, last_modified=last_modified, at=self.ctx.now)


def with_page(
    ctx: Context, fetcher: Fetcher, source: SourceConfig, item: Document, counts: Counter[str]
) -> tuple[Document, str | None, str | None]:
    """A feed item completed from its own page: (document, content hash, archive sha of the page).

    The document keeps the item's hash, so an item unchanged in the feed costs no page fetch on
    the next run; when the page cannot be fetched, the feed's own content is stored under a hash
    that differs from the item's, so the page is tried again next time.
    """
    item_hash = _document_hash(item)
    if not is_remote(item.url):
        return item, None, None
    with unit_of_work(ctx.factory) as session:
        if document_is_current(session, item.url, item_hash, ctx.version):
            return item, item_hash, None
    try:
        page = check_document(fetcher.fetch(item.url, source=source.name), "html")
        page_docs = extract(
            page.body,
            url=item.url,
            content_type=page.content_type,
            kind=SourceKind.HTML,
            rules=ctx.rules,
            event=source.event,
        )
    except (FetchError, ExtractError) as exc:
        log.warning(
            "%s: page %s not used, keeping the feed's content: %s", source.name, mask_url(item.url), mask_text(str(exc))
        )
        counts["pages_failed"] += 1
        return item, hashlib.sha256(f"feed-only:{item_hash}".encode()).hexdigest(), None
    counts["pages_fetched"] += 1
    page_sha = archive(ctx, page.body)
    if not page_docs:
        return item, item_hash, page_sha
    page_doc = page_docs[0]
    # The feed's metadata (title, date, categories) is the reliable part; the page has the full text.
    merged = replace(
        item,
        author=item.author or page_doc.author,
        published_at=item.published_at or page_doc.published_at,
        announcements=page_doc.announcements or item.announcements,
        sessions=item.sessions + page_doc.sessions,
    )
    return merged, item_hash, page_sha


def link_across_documents(ctx: Context) -> int:
    """Link announcements to the sessions of their event, in any document, whose title names them."""
    created = 0
    with unit_of_work(ctx.factory) as session:
        sessions = sessions_for_linking(session)
        # Only a shared known event makes a title match across documents credible, so only
        # the announcements of events that have sessions are read (not the whole store).
        index = linking.SessionIndex(
            (sid, linking.Candidate(title, (), event_slug))
            for sid, title, _code, event_slug, _kind in sessions
            if event_slug is not None
        )
        services = {s.slug: s for s in ctx.taxonomy.services}
        titles = {sid: title for sid, title, _code, _event, _kind in sessions}
        threshold = ctx.settings.link_threshold
        for event_slug in sorted(e for e in index.weights if e is not None):
            stored = title_links_of_event(session, event_slug)
            for ann_id, title, service_slugs, _ in announcements_for_linking(session, event_slug):
                known = [services[s] for s in service_slugs if s in services]
                ann = linking.Candidate(
                    title, tuple(s.name for s in known), event_slug, tuple(s.aliases for s in known)
                )
                made = set()
                for sid, link in index.links(ann, threshold):
                    made.add(int(sid))
                    created += link_session(session, ann_id, int(sid), link)
                # A title link that no longer reaches the threshold (raised, or a better scorer)
                # goes, unless its own document's sessions still justify it.
                for sid in stored.get(ann_id, set()) - made:
                    again = linking.score_title_match(ann, linking.Candidate(titles.get(sid, ""), (), None))
                    if again is None or again.score < threshold:
                        created += unlink_session(session, ann_id, sid)
    return created


def archive(ctx: Context, body: bytes) -> str:
    """Archive fetched bytes; a disk that refuses them is a `DiskError` (exit 74) naming the folder."""
    try:
        return ctx.archive.put(body)
    except OSError as exc:
        raise disk_error(exc, ctx.settings.archive_dir, "archiving a fetched document", "archive_dir") from exc


def publish(ctx: Context) -> PublishReport:
    """Rebuild the feeds from the store; only changed files are written (a disk that refuses
    them is a `DiskError`, exit 74, naming the file; a bucket that does, a `PublishError`, exit 69)."""
    try:
        return _publish(ctx)
    except OSError as exc:
        raise disk_error(exc, ctx.settings.output_dir, "writing the feeds", "output_dir (--output)") from exc


def _publish(ctx: Context) -> PublishReport:
    with unit_of_work(ctx.factory) as session:
        records = query_announcements(session)
    feed_ctx = FeedContext(
        base_url=ctx.settings.base_url, author=ctx.settings.feed_author, hub=ctx.settings.push_hub or None
    )
    if ctx.settings.object_store is not None:
        return _publish_to_bucket(ctx, records, feed_ctx)
    output = ctx.settings.output_dir
    # Feed documents whose inputs are those they were last written from are not rendered again;
    # the others are written as they are rendered, so no more than one is held in memory.
    known = load_fingerprints(output)
    forget_fingerprints(output)
    # Every caller holds the run lock (tracker.lock): any temporary file already there was
    # left by a publish that was killed, so it is removed whatever its age.
    writer = FeedWriter(output, stale_temp_after=0)
    build = build_feeds(
        records,
        feed_ctx,
        title=ctx.settings.feed_title,
        limit=ctx.settings.feed_limit,
        known=known,
        sink=writer.write,
    )
    writer.keep(build.kept)
    report = writer.finish(prune=True)
    save_fingerprints(output, build.fingerprints)
    return report


def _publish_to_bucket(ctx: Context, records: list[AnnouncementRecord], feed_ctx: FeedContext) -> PublishReport:
    """The same publish into object storage (output_dir = "s3://bucket/prefix"): only changed objects are put."""
    assert ctx.settings.object_store is not None
    # The bucket's own listing and fingerprints say what is there; the writer drops the
    # fingerprints itself before the first object changes (none when nothing does).
    writer = ObjectStoreWriter(
        ctx.settings.object_store,
        connect_timeout=ctx.settings.http.connect_timeout,
        read_timeout=ctx.settings.http.timeout,
    )
    build = build_feeds(
        records,
        feed_ctx,
        title=ctx.settings.feed_title,
        limit=ctx.settings.feed_limit,
        known=writer.load_fingerprints(),
        sink=writer.write,
    )
    writer.keep(build.kept)
    report = writer.finish(prune=True)
    writer.save_fingerprints(build.fingerprints)
    return report


def push_changes(ctx: Context, published: PublishReport) -> push.PushReport:
    """After a publish: ping the WebSub hub about changed feeds, send this run's new announcements to webhooks."""
    webhooks = push.load_webhooks(ctx.settings.config_dir / "webhooks.toml")
    hub = ctx.settings.push_hub or None
    # Subscription feeds only: archive pages and the indexes are not WebSub topics.
    changed = [
        ctx.settings.base_url + path
        for path in published.written
        if path.endswith((".atom", ".rss", ".json")) and not path.startswith("archive/")
    ]
    if not webhooks and not (hub and changed):
        return push.PushReport()
    new: list[AnnouncementRecord] = []
    if webhooks:
        with unit_of_work(ctx.factory) as session:
            new = announcements_created_since(session, ctx.now)
    with push.Pusher(
        user_agent=ctx.settings.http.user_agent, timeout=ctx.settings.push_timeout, retries=ctx.settings.push_retries
    ) as pusher:
        return push.push(pusher, hub=hub, changed_feeds=changed, webhooks=webhooks, new_announcements=new)


def run(
    settings: Settings,
    *,
    sources: Sequence[SourceConfig] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    do_publish: bool = True,
    stop: Callable[[], bool] | None = None,
    slot: datetime | None = None,
) -> RunReport:
    """One full cycle over the configured (or given) sources; `stop()` True ends it after the document in hand.

    `slot` is the scheduled time the run is for (`tracker.schedule`), recorded with it.
    """
    ctx = Context(settings, now=now)
    if stop is not None:
        ctx.stop = stop
    chosen = [s for s in (settings.sources if sources is None else sources) if s.enabled]
    report = RunReport()
    with unit_of_work(ctx.factory) as session:
        run_id = start_run(session, at=ctx.now, slot=slot)
    with recorded_failure(ctx, run_id, report):
        _run(ctx, run_id, report, chosen, progress=progress, do_publish=do_publish)
    return report


def _run(
    ctx: Context,
    run_id: int,
    report: RunReport,
    chosen: Sequence[SourceConfig],
    *,
    progress: Progress | None,
    do_publish: bool,
) -> None:
    """The body of `run`, after its start is recorded."""
    settings = ctx.settings
    allowed = hosts_of(s.url for s in chosen if is_remote(s.url))
    with (
        Fetcher(settings.http, allowed_hosts=allowed or None, robots_cache=StoredRobots(ctx)) as fetcher,
        _prefetch(ctx, fetcher, chosen) as prefetch,
    ):
        for number, source in enumerate(chosen, 1):
            if ctx.stop():
                log.warning(
                    "stopping: %d of %d sources not processed in this run", len(chosen) - number + 1, len(chosen)
                )
                break
            if progress:
                progress(f"[{number}/{len(chosen)}] {source.name}: {mask_url(source.url)}")
            outcome = process_source(ctx, fetcher, source, progress=progress, prefetch=prefetch)
            report.outcomes.append(outcome)
            if progress:
                progress(f"[{number}/{len(chosen)}] {source.name}: {_describe(outcome)}")
                if len(chosen) > 1:
                    progress("sources", number, len(chosen), unit="sources")
    # A run that changed nothing after a run that published leaves links and feeds as they are:
    # both read the whole store, so skipping them keeps a quiet day's cost flat as the store grows.
    quiet = _nothing_changed(report) and _feeds_current(ctx, run_id)
    if quiet:
        log.info("nothing changed since the last published run: linking and publishing skipped")
        report.published = PublishReport(written=[], unchanged=0, removed=[]) if do_publish else None
    else:
        report.links_across_documents = link_across_documents(ctx)
        if do_publish:
            report.published = publish(ctx)
            push_changes(ctx, report.published)
    counts = report.counts
    if quiet or do_publish:
        counts["published"] = 1  # the feeds match the store as of this run
    with unit_of_work(ctx.factory) as session:
        finish_run(
            session,
            run_id,
            at=datetime.now(UTC),
            status=RunStatus.INTERRUPTED if ctx.stop() else RunStatus.FAILED if report.failed else RunStatus.OK,
            counts=dict(counts),
            outcomes={o.name: o.as_dict() for o in report.outcomes},
        )
    log.info("run finished: %s", json.dumps(dict(counts), sort_keys=True))


def failure_reason(exc: BaseException) -> str:
    """What ended a run, in words for `tracker status` (URLs masked)."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (SIGINT, Ctrl-C)"
    if isinstance(exc, SystemExit):
        code = exc.code
        if code == 128 + signal.SIGTERM:
            return "stopped by SIGTERM"
        return f"stopped (exit {code})"
    if isinstance(exc, MemoryError):
        return "out of memory (MemoryError)"
    if isinstance(exc, DiskError):
        return f"disk error: {mask_text(str(exc))}"
    detail = mask_text(str(exc)).strip()
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__


@contextmanager
def recorded_failure(ctx: Context, run_id: int, report: RunReport) -> Iterator[None]:
    """Whatever ends the block early (an error, MemoryError, Ctrl-C, SIGTERM) marks the run
    failed with its reason before it propagates: no run is left "running" but a killed one."""
    try:
        yield
    except BaseException as exc:
        reason = failure_reason(exc)
        log.error("run %d failed: %s", run_id, reason, extra=REPORTED)
        try:
            with unit_of_work(ctx.factory) as session:
                finish_run(
                    session,
                    run_id,
                    at=datetime.now(UTC),
                    status=RunStatus.FAILED,
                    counts=dict(report.counts),
                    outcomes={o.name: o.as_dict() for o in report.outcomes},
                    error=reason,
                )
        except Exception as again:  # noqa: BLE001 - the first error is the one to report
            # A full disk may refuse this write too: the log line above still says why.
            log.error("run %d could not be marked failed: %s", run_id, mask_text(str(again)))
        raise


def _prefetch(ctx: Context, fetcher: Fetcher, chosen: Sequence[SourceConfig]) -> Prefetch:
    """Sources on other hosts are fetched while earlier ones are stored (`http.concurrency` hosts at once)."""
    sources = [(s.name, s.url) for s in chosen]
    lanes = ctx.settings.http.concurrency
    if ctx.factory.kw["bind"].url.database in (None, "", ":memory:"):
        lanes = 1  # one shared in-memory connection: the robots.txt cache must not be used from two threads
    validators: dict[str, tuple[str | None, str | None]] = {}
    if runs_ahead(sources, lanes=lanes):
        # Only then: a run over one site (the daily default) pays no extra transaction for it.
        with unit_of_work(ctx.factory) as session:
            for source in chosen:
                get_or_create_source(session, source.name, kind=source.kind, url=source.url)
                validators[source.name] = source_cache(session, source.name)
    urls = dict(sources)

    def fetch(name: str) -> RawDocument:
        etag, last_modified = validators[name]
        return fetcher.fetch(urls[name], source=name, etag=etag, last_modified=last_modified)

    return Prefetch(fetch, sources, lanes=lanes)


def _nothing_changed(report: RunReport) -> bool:
    """Whether the run stored nothing new: no document changed (so no announcement, session or link did)."""
    counts = report.counts
    return not counts.get("documents_changed", 0) and not counts.get("documents_failed", 0)


def _feeds_current(ctx: Context, run_id: int) -> bool:
    """Whether the last finished run before this one left the feeds matching the store."""
    bucket = ctx.settings.object_store
    if bucket is None and not (ctx.settings.output_dir / "index.opml").is_file():
        return False
    with unit_of_work(ctx.factory) as session:
        previous = previous_run(session, run_id)
    if previous is None:
        return False
    status, counts, finished = previous
    if not (finished and status in (RunStatus.OK, RunStatus.FAILED) and counts.get("published") == 1):
        return False
    # Last, as it costs a request: the bucket still holds the feeds (not emptied by hand).
    return bucket is None or feeds_present(
        bucket, connect_timeout=ctx.settings.http.connect_timeout, read_timeout=ctx.settings.http.timeout
    )


def _describe(outcome: SourceOutcome) -> str:
    if outcome.status == SourceStatus.FAILED:
        return f"FAILED ({outcome.error_kind}): {outcome.error}"
    if outcome.status == SourceStatus.NOT_MODIFIED:
        return "not modified"
    new = outcome.counts.get("announcements_created", 0)
    upd = outcome.counts.get("announcements_updated", 0)
    sessions = outcome.counts.get("sessions", 0)
    return (
        f"{plural(outcome.documents, 'document')}, {new:,} new and {upd:,} updated "
        f"{'announcement' if new + upd == 1 else 'announcements'}"
        + (f", {plural(sessions, 'session')}" if sessions else "")
    )


def import_documents(
    settings: Settings,
    locations: Iterable[str],
    *,
    kind: str = SourceKind.AUTO,
    event: str | None = None,
    progress: Progress | None = None,
    public_url: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> RunReport:
    """Ingest local files or URLs once, as ad-hoc sources (a saved recap, a backfill).

    `public_url` is where a single saved file was published: its launches link there; `stop()`
    True ends the import after the document in hand.
    """
    locations = list(locations)
    if public_url is not None and len(locations) != 1:
        raise ConfigError("--url names the public address of one document: give exactly one DOCUMENT")
    sources = [
        SourceConfig(
            # The name is shown by `tracker status`: a URL's credentials and tokens stay out of it.
            name=f"import:{mask_url(loc) if is_remote(loc) else Path(loc).resolve()}",
            url=loc,
            kind=kind,
            event=event,
            public_url=public_url,
        )
        for loc in locations
    ]
    # Imports always re-read their documents: conditional GET is for scheduled sources.
    return run(settings, sources=sources, progress=progress, stop=stop)


def extract_location(
    settings: Settings,
    location: str,
    *,
    kind: str = SourceKind.AUTO,
    event: str | None = None,
    rules: Rules | None = None,
) -> dict[str, list[dict[str, object]]]:
    """Extract, normalise and link one file or URL without a database (`tracker extract`)."""
    taxonomy = Taxonomy.load(data_file(settings.config_dir, "services.toml").parent)
    rules = rules or load_rules(data_file(settings.config_dir, "extract.toml"))
    events = load_declared_events(data_file(settings.config_dir, "events.toml"))
    allowed = hosts_of([location]) if is_remote(location) else None
    with Fetcher(settings.http, allowed_hosts=allowed) as fetcher:
        raw = fetcher.fetch(location, source="extract")
    docs = extract(raw.body, url=raw.url, content_type=raw.content_type, kind=kind, rules=rules, event=event)
    announcements: list[dict[str, object]] = []
    sessions: list[dict[str, object]] = []
    for doc in docs:
        event_slug = None
        detected = detect_event(event, doc.event, doc.title)
        if detected:
            event_slug = detected.slug
        refs = {s.key: (s.url or s.title) for s in doc.sessions}
        for conf in doc.sessions:
            sessions.append(
                {
                    "key": conf.key,
                    "title": conf.title,
                    "kind": conf.kind,
                    "url": conf.url,
                    "code": conf.code,
                    "speakers": list(conf.speakers),
                    "level": conf.level,
                    "event": conf.event or (detected.name if detected else None),
                }
            )
        normalized = normalize(doc, taxonomy, events=events, declared_event=event)
        in_doc = linking.links_in_document(
            [(s.key, s.title, event_slug) for s in doc.sessions],
            [
                (
                    na.announcement.title,
                    tuple(s.name for s in na.services),
                    na.announcement.sessions,
                    event_slug,
                    tuple(s.aliases for s in na.services),
                )
                for na in normalized
            ],
            settings.link_threshold,
        )
        for na, links in zip(normalized, in_doc, strict=True):
            ann = na.announcement
            announcements.append(
                {
                    "title": ann.title,
                    "services": [s.name for s in na.services],
                    "summary": ann.summary,
                    "sessions": [refs[key] for key, _ in links],
                    "links": [
                        {"session": refs[key], "method": link.method, "score": link.score, "reason": link.reason}
                        for key, link in links
                    ],
                    "url": na.url,
                    "announced_at": na.announced_at.isoformat() if na.announced_at else None,
                    "announced_at_source": na.date_source,
                    "event": na.event,
                    "status": ann.status,
                    "rule": ann.rule,
                    "marker": ann.marker,
                    "context": list(ann.context),
                    "document": doc.url,
                }
            )
    return {"announcements": announcements, "sessions": sessions}


# Documents stored per transaction. Each document still gets its own SAVEPOINT, so a bad
# document loses only itself, but the commit (an fsync on SQLite, a round trip on
# PostgreSQL) is paid once per batch instead of once per document.
INGEST_BATCH = 200


@dataclass(frozen=True)
class Prepared:
    """A document ready to store: where its bytes are archived and, optionally, its content hash."""

    doc: Document
    archive_sha: str | None
    content_hash: str | None = None


def ingest_many(
    ctx: Context,
    prepared: Iterable[Prepared],
    outcome: SourceOutcome,
    *,
    source: str,
    declared_event: str | None,
    progress: Progress | None = None,
    total: int | None = None,
    stop: Callable[[], bool] | None = None,
) -> bool:
    """Store documents in batches of INGEST_BATCH, one savepoint each; failures are counted, never raised.

    Returns False when `stop()` asked to stop before every document was stored.
    """
    batch: list[Prepared] = []
    done = 0

    def flush() -> None:
        nonlocal done
        stored: list[Counter[str]] = []
        try:
            with unit_of_work(ctx.factory) as session:
                for item in batch:
                    try:
                        with session.begin_nested():
                            counts = ingest_document(
                                ctx,
                                session,
                                item.doc,
                                source=source,
                                archive_sha=item.archive_sha,
                                declared_event=declared_event,
                                content_hash=item.content_hash,
                            )
                    except DiskError:
                        raise
                    except (TrackerError, DBAPIError) as exc:
                        if isinstance(exc, DBAPIError) and is_disk_failure(exc):
                            raise  # the unit of work turns it into a DiskError: the run ends
                        log.warning("%s: document %s failed: %s", source, mask_url(item.doc.url), mask_text(str(exc)))
                        outcome.counts["documents_failed"] += 1
                        continue
                    stored.append(counts)
        except DiskError:
            raise
        except TrackerError as exc:
            # The commit itself failed (database gone, locked too long): the whole batch is lost.
            log.warning("%s: %d documents failed: %s", source, len(stored), exc)
            outcome.counts["documents_failed"] += len(stored)
            stored.clear()
        for counts in stored:
            outcome.counts.update(counts)
            outcome.documents += 1
        done += len(batch)
        batch.clear()
        if progress:
            progress(source, done, total)

    for item in prepared:
        if stop is not None and stop():
            if batch:
                flush()
            return False
        batch.append(item)
        if len(batch) >= INGEST_BATCH:
            flush()
    if batch:
        flush()
    return True


def reextract(
    settings: Settings,
    *,
    sources: Sequence[str] | None = None,
    progress: Progress | None = None,
    do_publish: bool = True,
    workers: int | None = None,
) -> RunReport:
    """Re-extract every archived document with the current rules and taxonomy; no network.

    Bodies come from the archive (one extraction per body: a feed's items share it) and are
    extracted on `workers` processes (default: one per core). A document whose extraction and
    normalisation inputs did not change is skipped without a write; the others are
    re-normalised and stored as in a run. A body missing from the archive is counted, not fatal.
    """
    ctx = Context(settings)
    report = RunReport()
    with unit_of_work(ctx.factory) as session:
        run_id = start_run(session, at=ctx.now)
    with recorded_failure(ctx, run_id, report):
        _reextract(ctx, run_id, report, sources=sources, progress=progress, do_publish=do_publish, workers=workers)
    return report


def _reextract(
    ctx: Context,
    run_id: int,
    report: RunReport,
    *,
    sources: Sequence[str] | None,
    progress: Progress | None,
    do_publish: bool,
    workers: int | None,
) -> None:
    """The body of `reextract`, after its start is recorded."""
    configured = {s.name: s for s in ctx.settings.sources}
    with unit_of_work(ctx.factory) as session:
        bodies = archived_bodies(session, sources)
        stored = document_states(session)
    outcomes: dict[str, SourceOutcome] = {}
    jobs: list[Job] = []
    names: list[str] = []
    for sha, name, kind, url, _count in bodies:
        config = configured.get(name)
        jobs.append(Job(sha, url, kind if kind in KINDS else SourceKind.AUTO, config.event if config else None))
        names.append(name)
    results = extract_archived(
        jobs,
        archive=ctx.archive,
        rules=ctx.rules,
        rules_file=ctx.rules_file,
        workers=default_workers() if workers is None else workers,
    )
    for number, (name, result) in enumerate(zip(names, results, strict=True), 1):
        outcome = outcomes.get(name)
        if outcome is None:
            outcome = outcomes[name] = SourceOutcome(name)
            report.outcomes.append(outcome)
        outcome.counts["bodies"] += 1
        url = result.job.url
        if result.missing:
            log.warning("%s: archived body %s is missing; skipped", name, result.job.sha)
            outcome.counts["archive_missing"] += 1
        elif result.error is not None:
            log.warning("%s: %s no longer extracts: %s", name, mask_url(url), mask_text(str(result.error)))
            outcome.counts["extract_failed"] += 1
        else:
            changed: list[Prepared] = []
            for doc in result.docs:
                digest = _document_hash(doc)
                if stored.get(doc.url) == (digest, ctx.version):
                    # The same as stored: nothing to write (the common case after a rules change).
                    outcome.counts["documents_unchanged"] += 1
                    outcome.documents += 1
                else:
                    changed.append(Prepared(doc, result.job.sha, digest))
            if changed:
                ingest_many(ctx, changed, outcome, source=name, declared_event=result.job.event)
        if progress:
            progress("re-extracting", number, len(jobs), unit="archived bodies")
    quiet = _nothing_changed(report) and _feeds_current(ctx, run_id)
    if not quiet:
        report.links_across_documents = link_across_documents(ctx)
        if do_publish:
            report.published = publish(ctx)
    counts = report.counts
    if quiet or do_publish:
        counts["published"] = 1
    with unit_of_work(ctx.factory) as session:
        finish_run(
            session,
            run_id,
            at=datetime.now(UTC),
            status=RunStatus.OK,
            counts=dict(counts),
            outcomes={o.name: o.as_dict() for o in report.outcomes},
        )
    log.info("re-extraction finished: %s", json.dumps(dict(counts), sort_keys=True))
