"""Fetch, extract, normalise and store: one source, one document, documents in batches; `tracker extract`'s dry run."""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from tracker import link as linking
from tracker.config import Settings, SourceConfig, SourceKind, data_file
from tracker.errors import ExtractError, FailureKind, FetchError, TrackerError
from tracker.extract import completed_from_page, extract
from tracker.extract.rules import Rules, load_rules
from tracker.items import CachedRobots, CacheValidators, Document, NormalizedAnnouncement, RawDocument, SourceStatus
from tracker.normalize import Taxonomy, dedupe, normalize
from tracker.normalize.events import detect_event, load_declared_events
from tracker.pipeline.context import REPORTED, Context, Progress, SourceOutcome
from tracker.redact import mask_text, mask_url
from tracker.sources import Fetcher, hosts_of, is_remote
from tracker.sources.guard import check_document
from tracker.sources.prefetch import Prefetch
from tracker.store.announcements import (
    AnnouncementWriter,
    CandidateRequest,
    Written,
    get_or_create_event,
    keys_mentioned_by,
    keys_mentioned_by_documents,
)
from tracker.store.db import DiskError, disk_error, is_disk_failure, unit_of_work
from tracker.store.documents import (
    DocumentInput,
    UpsertedDocument,
    document_is_current,
    upsert_document,
    upsert_documents,
)
from tracker.store.sessions import SessionWriter
from tracker.store.sources import (
    load_robots,
    record_fetch_failure,
    record_fetch_success,
    register_source,
    save_robots,
)

log = logging.getLogger(__name__)


def _document_hash(doc: Document) -> str:
    """Hash of what was extracted from a document: unchanged hash, nothing to redo."""
    payload = repr(
        (doc.title, doc.author, doc.published_at, doc.categories, doc.event, doc.announcements, doc.sessions)
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def _event_for(
    ctx: Context, session: Session, *texts: str | None, on: datetime | None = None
) -> tuple[int | None, str | None]:
    event = detect_event(*texts, declared=ctx.events, on=on)
    if event is None:
        return None, None
    return get_or_create_event(session, event.slug, event.name, event.year, ids=ctx.ids), event.slug


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
    """Store one extracted document with its announcements, sessions and links.

    Its rows are read and written a table at a time (`SessionWriter`, `AnnouncementWriter`): a
    handful of statements whatever the number of announcements, with the same outcome as
    storing them one after the other.
    """
    counts: Counter[str] = Counter()
    stored_doc = upsert_document(
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
        ids=ctx.ids,
    )
    if not stored_doc.changed:
        counts["documents_unchanged"] += 1
        return counts
    counts["documents_changed"] += 1
    _count_empty(doc, counts)
    plan = _plan(ctx, session, doc, stored_doc, declared_event=declared_event, counts=counts)
    if plan is None:
        return counts
    writer = AnnouncementWriter(
        session,
        now=ctx.now,
        ids=ctx.ids,
        document_id=stored_doc.id,
        document_url=doc.url,
        document_is_new=stored_doc.created,
    )
    _load([plan], writer)
    _merge(ctx, writer, plan)
    _count_written(writer.flush(), counts)
    return counts


def _count_empty(doc: Document, counts: Counter[str]) -> None:
    # A document read to nothing says so (`tracker import`): a recap in a writing the extractor
    # does not know gives no launch silently otherwise.
    if not doc.announcements and not doc.sessions:
        counts["documents_without_launches"] += 1


def ingest_documents(
    ctx: Context, session: Session, items: Sequence[Prepared], *, source: str | None, declared_event: str | None
) -> list[Counter[str]]:
    """Store several documents (a batch of one source) as `ingest_document` stores each, one after
    the other, with the statements of all of them together: the documents in three statements
    at most, their announcements read in one or two and written by one `AnnouncementWriter`
    flush (one statement per table), instead of a handful per document. Returns each
    document's counts, in order.

    Documents sharing a URL (the same page twice in a feed) are stored one after the other.
    """
    return _ingest_together(ctx, session, [(item, source, declared_event) for item in items])


def _ingest_together(
    ctx: Context, session: Session, entries: Sequence[tuple[Prepared, str | None, str | None]]
) -> list[Counter[str]]:
    """`ingest_documents` for documents each with its source and declared event (several sources' at once)."""
    if len({item.doc.url for item, _, _ in entries}) != len(entries):
        return [
            _ingest_prepared(ctx, session, item, source=source, declared_event=declared_event)
            for item, source, declared_event in entries
        ]
    states = upsert_documents(
        session,
        [
            DocumentInput(
                url=item.doc.url,
                title=item.doc.title,
                author=item.doc.author,
                published_at=item.doc.published_at,
                content_hash=item.content_hash or _document_hash(item.doc),
                extractor_version=ctx.version,
                archive_sha=item.archive_sha,
                source_name=source,
                kind=item.doc.kind,
                fetched_at=ctx.now,
            )
            for item, source, _ in entries
        ],
        ids=ctx.ids,
    )
    # What the documents stored before mentioned, read for all of them at once.
    stored_before = [s.id for s in states if s.changed and not s.created]
    previous = keys_mentioned_by_documents(session, stored_before) if stored_before else {}
    counted: list[Counter[str]] = []
    plans: list[_Plan] = []
    for (item, _, declared_event), stored_doc in zip(entries, states, strict=True):
        counts: Counter[str] = Counter()
        counted.append(counts)
        if not stored_doc.changed:
            counts["documents_unchanged"] += 1
            continue
        counts["documents_changed"] += 1
        _count_empty(item.doc, counts)
        plan = _plan(
            ctx,
            session,
            item.doc,
            stored_doc,
            declared_event=declared_event,
            counts=counts,
            previous=previous.get(stored_doc.id, []),
        )
        if plan is not None:
            plans.append(plan)
    if plans:
        writer = AnnouncementWriter(session, now=ctx.now, ids=ctx.ids)
        writer.load_mentions(p.document_id for p in plans if not p.created)
        _load(plans, writer)
        for plan in plans:
            writer.for_document(plan.document_id, document_url=plan.url, document_is_new=plan.created)
            _merge(ctx, writer, plan)
        written = writer.flush()
        for plan in plans:
            mentions, links = written.by_document.get(plan.document_id, (0, 0))
            _count_written(Written(mentions, links), plan.counts)
    return counted


@dataclass
class _Plan:
    """A changed document's announcements, normalised and linked to its sessions, ready to merge."""

    document_id: int
    url: str
    created: bool  # the document is new: it mentioned nothing before
    normalized: list[NormalizedAnnouncement]
    in_doc: list[list[linking.SessionMatch[str]]]  # per announcement, its links to the document's sessions
    session_ids: dict[str, int]
    event_ids: list[int | None]
    counts: Counter[str]


def _plan(
    ctx: Context,
    session: Session,
    doc: Document,
    stored_doc: UpsertedDocument,
    *,
    declared_event: str | None,
    counts: Counter[str],
    previous: Sequence[str] | None = None,
) -> _Plan | None:
    """Store a changed document's sessions and normalise its announcements; None when it has none.

    `previous`: the keys the document (stored before) mentioned, when they are read already.
    """
    doc_event = declared_event or doc.event
    session_ids: dict[str, int] = {}
    session_events: dict[str, str | None] = {}
    if doc.sessions:
        sessions = SessionWriter(session)
        events = [
            _event_for(
                ctx, session, declared_event, conf.event, doc_event, doc.title, on=conf.published_at or doc.published_at
            )
            for conf in doc.sessions
        ]
        sessions.load((conf, slug) for conf, (_, slug) in zip(doc.sessions, events, strict=True))
        pending = {}
        for conf, (event_id, event_slug) in zip(doc.sessions, events, strict=True):
            pending[conf.key] = sessions.upsert(conf, event_id=event_id, event_slug=event_slug)
            session_events[conf.key] = event_slug
            counts["sessions"] += 1
        sessions.flush()
        session_ids = {key: p.id for key, p in pending.items()}

    normalized = normalize(doc, ctx.taxonomy, now=ctx.now, events=ctx.events, declared_event=declared_event)
    if len(normalized) == 1 and not stored_doc.created:
        # Only then is the look-up worth its query: a document of several launches keeps its
        # keys, and a new document mentioned nothing before.
        if previous is None:
            previous = keys_mentioned_by(session, stored_doc.id)
        normalized = dedupe.keep_previous_key(normalized, previous)
    in_doc = linking.links_in_document(
        [linking.DocumentSession(conf.key, conf.title, session_events.get(conf.key)) for conf in doc.sessions],
        [
            linking.DocumentLaunch(
                title=na.announcement.title,
                services=tuple(s.name for s in na.services),
                sessions=na.announcement.sessions,
                aliases=tuple(s.aliases for s in na.services),
            )
            for na in normalized
        ],
        ctx.settings.link_threshold,
    )
    if not normalized:
        return None
    event_ids = [_event_for(ctx, session, na.event, on=na.announced_at or doc.published_at)[0] for na in normalized]
    return _Plan(stored_doc.id, doc.url, stored_doc.created, normalized, in_doc, session_ids, event_ids, counts)


def _load(plans: Sequence[_Plan], writer: AnnouncementWriter) -> None:
    """Read everything the merge of these documents may read: the rows under each key (and under
    the key of its own it may get) and the dedupe candidates of the launches not stored. New
    documents read both in one statement (their launches are mostly new); documents stored
    before read the candidates only for the launches whose keys are not stored (mostly none)."""
    keys = [k for plan in plans for na in plan.normalized for k in (na.key, dedupe.own_key(na).key)]
    writer.load(
        keys, candidates=[_candidate_request(na) for p in plans if p.created for na in p.normalized if na.services]
    )
    writer.load_candidates(
        _candidate_request(na)
        for p in plans
        if not p.created
        for na in p.normalized
        if na.services and not _own_key(writer, na)[1]
    )


def _merge(ctx: Context, writer: AnnouncementWriter, plan: _Plan) -> None:
    """Merge a document's announcements into the writer (its `for_document` set), one after the other."""
    counts = plan.counts
    for na, links, event_id in zip(plan.normalized, plan.in_doc, plan.event_ids, strict=True):
        na, stored = _own_key(writer, na)
        duplicate = None if stored else _stored_duplicate(ctx, writer, na)
        if duplicate is not None:
            na = replace(na, key=duplicate)
            counts["announcements_merged"] += 1
        upserted = writer.upsert(na, event_id=event_id)
        counts[f"announcements_{upserted.status}"] += 1
        writer.mention(
            upserted,
            excerpt=na.announcement.excerpt or na.announcement.title,
            position=na.announcement.position,
            rule=na.announcement.rule,
        )
        for match in links:
            writer.link(upserted, plan.session_ids[match.session], match.link)


def _count_written(written: Written, counts: Counter[str]) -> None:
    if written.mentions:
        counts["mentions"] += written.mentions
    if written.links:
        counts["links"] += written.links


def _candidate_request(na: NormalizedAnnouncement) -> CandidateRequest:
    return CandidateRequest(
        frozenset(s.slug for s in na.services),
        na.announced_at or na.announcement.published_at,
        dedupe.MAX_DAYS_APART,
    )


def _stored_duplicate(ctx: Context, writer: AnnouncementWriter, na: NormalizedAnnouncement) -> str | None:
    """The key of a stored announcement that is this same launch under other words, if any
    (for an announcement whose own key is not stored yet)."""
    if not na.services:
        return None
    when = na.announced_at or na.announcement.published_at
    known = [k for k in writer.candidates(_candidate_request(na)) if k.key != na.key]
    return dedupe.find_duplicate(na.announcement.title, na.services, when, known, ctx.services_by_slug, event=na.event)


def _own_key(writer: AnnouncementWriter, na: NormalizedAnnouncement) -> tuple[NormalizedAnnouncement, bool]:
    """The announcement under a key of its own when its key is taken by another launch of the
    same name (another event, or years apart): the key gets the event's slug or the year.
    Also says whether its (final) key is stored already."""
    stored = writer.stored(na.key)
    if stored is None:
        return na, False
    if not dedupe.same_key_other_launch(na.announced_at, na.event, stored.announced_at, stored.event):
        return na, True
    na = dedupe.own_key(na)
    return na, writer.stored(na.key) is not None


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
    validators: CacheValidators | None = None,
) -> SourceOutcome:
    """Fetch (or take from `prefetch`), extract and store one source; failures are recorded, never raised.

    `validators`: the source is registered already (a run registers all of its sources at
    once), with these saved validators; else it is registered here.
    """
    fetched = fetch_source(ctx, fetcher, source, prefetch=prefetch, validators=validators)
    if isinstance(fetched, SourceOutcome):
        return fetched
    return store_source(ctx, fetcher, fetched, progress=progress)


@dataclass
class Fetched:
    """A source fetched (or not modified) and extracted; its documents and outcome not stored yet."""

    source: SourceConfig
    outcome: SourceOutcome
    raw: RawDocument
    archive_sha: str | None = None
    docs: list[Document] = field(default_factory=list)

    def prepared(self) -> list[Prepared]:
        """Its documents, ready to store."""
        return [Prepared(doc, self.archive_sha) for doc in self.docs]


def fetch_source(
    ctx: Context,
    fetcher: Fetcher,
    source: SourceConfig,
    *,
    prefetch: Prefetch | None = None,
    validators: CacheValidators | None = None,
) -> Fetched | SourceOutcome:
    """Fetch (or take from `prefetch`), archive and extract one source, storing nothing of it yet;
    a source that failed is recorded and its outcome returned (never raised)."""
    outcome = SourceOutcome(source.name)
    # The transactions of a source (its row, its documents, its outcome) are redone by the next
    # run if a crash of the database server loses them: they need not wait for the disk.
    if validators is None:
        with unit_of_work(ctx.factory, durable=False) as session:
            validators = register_source(session, source.name, kind=source.kind, url=source.url, ids=ctx.ids)
    try:
        if prefetch is not None and prefetch.has(source.name):
            raw = prefetch.result(source.name)
        else:
            raw = fetcher.fetch(
                source.url, source=source.name, etag=validators.etag, last_modified=validators.last_modified
            )
        if raw.not_modified:
            outcome.status = SourceStatus.NOT_MODIFIED
            return Fetched(source, outcome, raw)
        # Hostile XML and a feed source answering with an error page are refused whole;
        # a charset the server got wrong is corrected.
        raw = check_document(raw, source.kind)
        # The wait for the disk to hold the body overlaps its extraction; it is over before
        # a document naming the body is stored.
        archive_sha = archive(ctx, raw.body, wait=False)
        try:
            docs = extract_raw(ctx, raw, kind=source.kind, event=source.event, url=source.public_url)
        finally:
            archived(ctx)
        return Fetched(source, outcome, raw, archive_sha, docs)
    except (FetchError, ExtractError) as exc:
        return _failed(ctx, outcome, exc)


def _failed(ctx: Context, outcome: SourceOutcome, exc: FetchError | ExtractError) -> SourceOutcome:
    """Record a source's failure (fetching, extracting) and return its outcome."""
    outcome.status = SourceStatus.FAILED
    outcome.error_kind = getattr(exc, "kind", FailureKind.EXTRACT)
    # Recorded, printed and logged without the credentials or tokens of any URL in it.
    outcome.error = mask_text(str(exc))
    log.error("source %s failed: %s", outcome.name, outcome.error, extra=REPORTED)
    with unit_of_work(ctx.factory) as session:
        record_fetch_failure(
            session, outcome.name, at=ctx.now, kind=outcome.error_kind or FailureKind.ERROR, message=outcome.error
        )
    return outcome


def _record_success(ctx: Context, session: Session, fetched: Fetched) -> None:
    raw = fetched.raw
    record_fetch_success(
        session,
        fetched.source.name,
        at=ctx.now,
        etag=raw.etag,
        last_modified=raw.last_modified,
        status=fetched.outcome.status,
    )


def store_source(
    ctx: Context, fetcher: Fetcher, fetched: Fetched, *, progress: Progress | None = None
) -> SourceOutcome:
    """Store a fetched source's documents, then its outcome (see `fetch_source`); failures are recorded, never raised."""
    source, outcome = fetched.source, fetched.outcome
    recorded = False

    def record_success(session: Session) -> None:
        nonlocal recorded
        _record_success(ctx, session, fetched)
        recorded = True

    docs = fetched.docs
    try:
        if docs and not source.fetch_pages:
            # Batched: one commit per INGEST_BATCH documents; the outcome is saved with the last.
            done = ingest_many(
                ctx,
                fetched.prepared(),
                outcome,
                source=source.name,
                declared_event=source.event,
                progress=progress,
                total=len(docs),
                stop=ctx.stop,
                finish=record_success,
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
                doc_hash, doc_sha = None, fetched.archive_sha
                if source.fetch_pages:
                    doc, doc_hash, page_sha = with_page(ctx, fetcher, source, doc, outcome.counts)
                    doc_sha = page_sha or fetched.archive_sha
                with unit_of_work(ctx.factory, durable=False) as session:
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
        return _failed(ctx, outcome, exc)
    # The cache validators are saved only once the documents are stored (with the last of them,
    # or after), so that an interrupted run fetches the source again instead of skipping it (an
    # asynchronous commit is never kept without the ones before it).
    if not recorded:
        with unit_of_work(ctx.factory, durable=False) as session:
            record_success(session)
    return outcome


def groups_with(fetched: Fetched) -> bool:
    """Whether a fetched source may be stored together with others (`store_sources`): its
    documents fit in one batch and need nothing fetched while they are stored."""
    return not fetched.source.fetch_pages and len(fetched.docs) <= INGEST_BATCH


def store_sources(
    ctx: Context, fetcher: Fetcher, group: Sequence[Fetched], *, progress: Progress | None = None
) -> None:
    """Store several fetched sources (each `groups_with` others) in one transaction: all of their
    documents together (`ingest_documents`), each source's outcome saved with them.

    A backfill of many small files (a launch post each) otherwise paid, per file, a transaction
    and a statement per table. When storing them together fails, each source is stored again on
    its own (`store_source`), so a bad source loses only itself. The outcomes are completed in place.
    """
    entries = [(item, f.source.name, f.source.event) for f in group for item in f.prepared()]
    try:
        with unit_of_work(ctx.factory, durable=False) as session:
            counted = _ingest_together(ctx, session, entries) if entries else []
            for fetched in group:
                _record_success(ctx, session, fetched)
    except DiskError:
        raise
    except TrackerError as exc:
        log.info("%d sources stored together failed (%s): each is stored on its own", len(group), mask_text(str(exc)))
        for fetched in group:
            store_source(ctx, fetcher, fetched, progress=progress)
        return
    counts = iter(counted)
    for fetched in group:
        for _ in fetched.docs:
            fetched.outcome.counts.update(next(counts))
            fetched.outcome.documents += 1
        if progress and fetched.docs:
            progress(fetched.source.name, len(fetched.docs), len(fetched.docs))


class StoredRobots:
    """The fetcher's robots.txt cache, kept in the store between runs."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def load(self, origin: str) -> CachedRobots | None:
        """The kept robots.txt of an origin."""
        with unit_of_work(self.ctx.factory, write=False) as session:
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
    return completed_from_page(item, page_docs[0]), item_hash, page_sha


def archive(ctx: Context, body: bytes, *, wait: bool = True) -> str:
    """Archive fetched bytes; a disk that refuses them is a `DiskError` (exit 74) naming the folder.

    `wait=False`: written and synced to the disk in the background until `archived(ctx)`.
    """
    try:
        return ctx.archive.put(body, wait=wait)
    except OSError as exc:
        raise disk_error(exc, ctx.settings.archive_dir, "archiving a fetched document", "archive_dir") from exc


def archived(ctx: Context) -> None:
    """Wait until the bodies archived with `wait=False` are on disk; a refusal is a `DiskError` as in `archive`."""
    try:
        ctx.archive.synced()
    except OSError as exc:
        raise disk_error(exc, ctx.settings.archive_dir, "archiving a fetched document", "archive_dir") from exc


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
        # A session is named by the link the document gives it (an embed link stays one), so
        # the output can be read against the document; `url` is the canonical form stored.
        refs = {s.key: (s.written_url or s.url or s.title) for s in doc.sessions}
        for conf in doc.sessions:
            sessions.append(
                {
                    "key": conf.key,
                    "title": conf.title,
                    "kind": conf.kind,
                    "url": conf.url,
                    "written_url": conf.written_url,
                    "code": conf.code,
                    "speakers": list(conf.speakers),
                    "level": conf.level,
                    "event": conf.event or (detected.name if detected else None),
                }
            )
        normalized = normalize(doc, taxonomy, events=events, declared_event=event)
        in_doc = linking.links_in_document(
            [linking.DocumentSession(s.key, s.title, event_slug) for s in doc.sessions],
            [
                linking.DocumentLaunch(
                    title=na.announcement.title,
                    services=tuple(s.name for s in na.services),
                    sessions=na.announcement.sessions,
                    event=event_slug,
                    aliases=tuple(s.aliases for s in na.services),
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
                    "sessions": [refs[match.session] for match in links],
                    "links": [
                        {
                            "session": refs[match.session],
                            "method": match.link.method,
                            "score": match.link.score,
                            "reason": match.link.reason,
                        }
                        for match in links
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


# Documents stored per transaction. A batch is first stored as one (`ingest_documents`: the
# statements of all its documents together, no savepoint); when a document fails, the batch is
# stored again document by document with one SAVEPOINT each, so a bad document loses only
# itself. The commit (an fsync on SQLite, a round trip on PostgreSQL) is paid once per batch
# instead of once per document, and the savepoints only when one is needed.
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
    finish: Callable[[Session], None] | None = None,
) -> bool:
    """Store documents in batches of INGEST_BATCH; failures are counted, never raised.

    `finish(session)` runs in the transaction of the last batch once every document is handed
    over (a source's outcome, saved with its documents). Returns False when `stop()` asked to
    stop before every document was stored.
    """
    batch: list[Prepared] = []
    done = 0
    finished = False

    def store(session: Session, *, savepoints: bool) -> list[Counter[str]]:
        if not savepoints:
            return ingest_documents(ctx, session, batch, source=source, declared_event=declared_event)
        stored: list[Counter[str]] = []
        for item in batch:
            try:
                with session.begin_nested():
                    counts = _ingest_prepared(ctx, session, item, source=source, declared_event=declared_event)
            except DiskError:
                raise
            except (TrackerError, DBAPIError) as exc:
                if isinstance(exc, DBAPIError) and is_disk_failure(exc):
                    raise  # the unit of work turns it into a DiskError: the run ends
                log.warning("%s: document %s failed: %s", source, mask_url(item.doc.url), mask_text(str(exc)))
                outcome.counts["documents_failed"] += 1
                continue
            stored.append(counts)
        return stored

    def flush(last: bool) -> None:
        nonlocal done, finished
        stored: list[Counter[str]] = []
        try:
            try:
                with unit_of_work(ctx.factory, durable=False) as session:
                    stored = store(session, savepoints=False)
                    if last and finish is not None:
                        finish(session)
                finished = last and finish is not None
            except DiskError:
                raise
            except TrackerError:
                # A document failed (or the commit did): again, one savepoint per document.
                with unit_of_work(ctx.factory, durable=False) as session:
                    stored = store(session, savepoints=True)
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

    items = iter(prepared)
    upcoming = next(items, None)
    while upcoming is not None:
        if stop is not None and stop():
            if batch:
                flush(last=False)
            return False
        batch.append(upcoming)
        upcoming = next(items, None)
        if len(batch) >= INGEST_BATCH or upcoming is None:
            flush(last=upcoming is None)
    if finish is not None and not finished:
        # No document, or the last batch was stored again document by document.
        with unit_of_work(ctx.factory, durable=False) as session:
            finish(session)
    return True


def _ingest_prepared(
    ctx: Context, session: Session, item: Prepared, *, source: str | None, declared_event: str | None
) -> Counter[str]:
    return ingest_document(
        ctx,
        session,
        item.doc,
        source=source,
        archive_sha=item.archive_sha,
        declared_event=declared_event,
        content_hash=item.content_hash,
    )
