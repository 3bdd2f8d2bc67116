"""One run: fetch → extract → normalise → store → link → publish.

The pipeline owns the transactions: one per fetched document, so a failure in one
document rolls back that document only. A failing source is recorded and the run goes on.
Only this module imports every stage.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from tracker import link as linking
from tracker.config import Settings, SourceConfig, data_file
from tracker.errors import ExtractError, FetchError, TrackerError
from tracker.extract import EXTRACTOR_VERSION, extract
from tracker.extract.rules import Rules, load_rules
from tracker.items import Document, NormalizedAnnouncement, RawDocument
from tracker.normalize import Taxonomy, normalize
from tracker.normalize.events import detect_event
from tracker.publish import FeedContext, PublishReport, build_feed_files, write_files
from tracker.sources import Fetcher, hosts_of, is_remote
from tracker.store import repository as repo
from tracker.store.archive import Archive
from tracker.store.db import open_store, unit_of_work

log = logging.getLogger(__name__)

Progress = Callable[[str], None]


@dataclass
class SourceOutcome:
    """What happened to one source in a run."""

    name: str
    status: str = "ok"  # ok | not-modified | failed
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

    @property
    def failed(self) -> list[SourceOutcome]:
        """The sources that failed."""
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def counts(self) -> Counter[str]:
        """Counts summed over sources."""
        total: Counter[str] = Counter()
        for outcome in self.outcomes:
            total.update(outcome.counts)
            total["documents"] += outcome.documents
        return total


class Context:
    """What the stages need for a run, built once from settings."""

    def __init__(self, settings: Settings, *, now: datetime | None = None) -> None:
        self.settings = settings
        self.now = now or datetime.now(UTC)
        self.factory: sessionmaker[Session] = open_store(settings.database_url)
        self.taxonomy = Taxonomy.load(data_file(settings.config_dir, "services.toml").parent)
        self.rules: Rules = load_rules(data_file(settings.config_dir, "extract.toml"))
        self.archive = Archive(settings.archive_dir)
        # Documents are re-normalised when the extractor or the taxonomy changes.
        self.version = f"{EXTRACTOR_VERSION}+{_taxonomy_fingerprint(self.taxonomy)}"
        with unit_of_work(self.factory) as session:
            repo.sync_services(session, self.taxonomy.services)


def _taxonomy_fingerprint(taxonomy: Taxonomy) -> str:
    digest = hashlib.sha1()
    for service in taxonomy.services:
        digest.update(f"{service.slug}|{service.name}|{'|'.join(service.aliases)}\n".encode())
    return digest.hexdigest()[:8]


def _document_hash(doc: Document) -> str:
    """Hash of what was extracted from a document: unchanged hash, nothing to redo."""
    payload = repr((doc.title, doc.author, doc.published_at, doc.categories, doc.event, doc.announcements, doc.sessions))
    return hashlib.sha256(payload.encode()).hexdigest()


def _event_for(session: Session, *texts: str | None) -> tuple[int | None, str | None]:
    event = detect_event(*texts)
    if event is None:
        return None, None
    return repo.get_or_create_event(session, event.slug, event.name, event.year), event.slug


def ingest_document(
    ctx: Context,
    session: Session,
    doc: Document,
    *,
    source: str | None,
    archive_sha: str | None,
    declared_event: str | None = None,
) -> Counter[str]:
    """Store one extracted document with its announcements, sessions and links."""
    counts: Counter[str] = Counter()
    doc_id, changed = repo.upsert_document(
        session,
        url=doc.url,
        title=doc.title,
        author=doc.author,
        published_at=doc.published_at,
        content_hash=_document_hash(doc),
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
        event_id, event_slug = _event_for(session, declared_event, conf.event, doc_event, doc.title)
        session_ids[conf.key] = repo.upsert_session(session, conf, event_id=event_id, event_slug=event_slug)
        session_events[conf.key] = event_slug
        counts["sessions"] += 1

    normalized = normalize(doc, ctx.taxonomy, now=ctx.now)
    if declared_event:
        normalized = [_with_event(na, declared_event) for na in normalized]
    in_doc = linking.links_in_document(
        [(conf.key, conf.title, session_events.get(conf.key)) for conf in doc.sessions],
        [
            (na.announcement.title, tuple(s.name for s in na.services), na.announcement.sessions, None)
            for na in normalized
        ],
        ctx.settings.link_threshold,
    )
    for na, links in zip(normalized, in_doc, strict=True):
        event_id, _ = _event_for(session, na.event)
        ann_id, status = repo.upsert_announcement(session, na, now=ctx.now, event_id=event_id)
        counts[f"announcements_{status}"] += 1
        if repo.add_mention(
            session,
            ann_id,
            doc_id,
            excerpt=na.announcement.excerpt or na.announcement.title,
            position=na.announcement.position,
            rule=na.announcement.rule,
        ):
            counts["mentions"] += 1
        for key, link in links:
            if repo.link_session(session, ann_id, session_ids[key], link):
                counts["links"] += 1
    return counts


def _with_event(na: NormalizedAnnouncement, name: str) -> NormalizedAnnouncement:
    event = detect_event(name)
    return replace(na, event=event.name if event else name)


def extract_raw(ctx: Context, raw: RawDocument, *, kind: str = "auto", event: str | None = None) -> list[Document]:
    """Extract the documents of fetched bytes with the run's rules."""
    return extract(raw.body, url=raw.url, content_type=raw.content_type, kind=kind, rules=ctx.rules, event=event)


def process_source(
    ctx: Context, fetcher: Fetcher, source: SourceConfig, *, progress: Progress | None = None
) -> SourceOutcome:
    """Fetch, extract and store one source; failures are recorded, never raised."""
    outcome = SourceOutcome(source.name)
    with unit_of_work(ctx.factory) as session:
        repo.get_or_create_source(session, source.name, kind=source.kind, url=source.url)
        etag, last_modified = repo.source_cache(session, source.name)
    try:
        raw = fetcher.fetch(source.url, source=source.name, etag=etag, last_modified=last_modified)
        if raw.not_modified:
            outcome.status = "not-modified"
        else:
            archive_sha = ctx.archive.put(raw.body)
            docs = extract_raw(ctx, raw, kind=source.kind, event=source.event)
            for index, doc in enumerate(docs, 1):
                # One transaction per document: a bad document loses only itself.
                try:
                    with unit_of_work(ctx.factory) as session:
                        outcome.counts.update(
                            ingest_document(
                                ctx, session, doc, source=source.name, archive_sha=archive_sha, declared_event=source.event
                            )
                        )
                    outcome.documents += 1
                except TrackerError as exc:
                    log.warning("%s: document %s failed: %s", source.name, doc.url, exc)
                    outcome.counts["documents_failed"] += 1
                if progress and index % 25 == 0:
                    progress(f"{source.name}: {index}/{len(docs)} documents")
    except (FetchError, ExtractError) as exc:
        outcome.status = "failed"
        outcome.error_kind = getattr(exc, "kind", "extract")
        outcome.error = str(exc)
        log.error("source %s failed: %s", source.name, exc)
        with unit_of_work(ctx.factory) as session:
            repo.record_fetch_failure(session, source.name, at=ctx.now, kind=outcome.error_kind or "error", message=str(exc))
        return outcome
    # The cache validators are saved only once the documents are stored, so that an
    # interrupted run fetches the source again instead of skipping it.
    with unit_of_work(ctx.factory) as session:
        repo.record_fetch_success(
            session, source.name, at=ctx.now, etag=raw.etag, last_modified=raw.last_modified, status=outcome.status
        )
    return outcome


def link_across_documents(ctx: Context) -> int:
    """Link announcements to sessions of any document whose title names them."""
    created = 0
    with unit_of_work(ctx.factory) as session:
        sessions = repo.sessions_for_linking(session)
        if not sessions:
            return 0
        index: dict[str, list[tuple[int, linking.Candidate]]] = {}
        for sid, title, _code, event_slug, _kind in sessions:
            cand = linking.Candidate(title, (), event_slug)
            for tok in set(linking.tokens(title)) - linking.STOPWORDS:
                index.setdefault(tok, []).append((sid, cand))
        names = {s.slug: s.name for s in ctx.taxonomy.services}
        for ann_id, title, service_slugs, event_slug in repo.announcements_for_linking(session):
            ann = linking.Candidate(title, tuple(names.get(s, s) for s in service_slugs), event_slug)
            seen: dict[int, linking.Candidate] = {}
            for tok in linking.distinctive(title, ann.services):
                for sid, cand in index.get(tok, ()):
                    seen[sid] = cand
            for sid, cand in seen.items():
                link = linking.score_title_match(ann, cand)
                if link is not None and link.score >= ctx.settings.link_threshold:
                    created += repo.link_session(session, ann_id, sid, link)
    return created


def publish(ctx: Context) -> PublishReport:
    """Rebuild the feeds from the store; only changed files are written."""
    with unit_of_work(ctx.factory) as session:
        records = repo.query_announcements(session)
    feed_ctx = FeedContext(base_url=ctx.settings.base_url, author=ctx.settings.feed_author)
    files = build_feed_files(records, feed_ctx, title=ctx.settings.feed_title, limit=ctx.settings.feed_limit)
    return write_files(ctx.settings.output_dir, files, prune=True)


def run(
    settings: Settings,
    *,
    sources: Sequence[SourceConfig] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
    do_publish: bool = True,
) -> RunReport:
    """One full cycle over the configured (or given) sources."""
    ctx = Context(settings, now=now)
    chosen = [s for s in (settings.sources if sources is None else sources) if s.enabled]
    report = RunReport()
    with unit_of_work(ctx.factory) as session:
        run_id = repo.start_run(session, at=ctx.now)
    allowed = hosts_of(s.url for s in chosen if is_remote(s.url))
    with Fetcher(settings.http, allowed_hosts=allowed or None) as fetcher:
        for number, source in enumerate(chosen, 1):
            if progress:
                progress(f"[{number}/{len(chosen)}] {source.name}: {source.url}")
            outcome = process_source(ctx, fetcher, source, progress=progress)
            report.outcomes.append(outcome)
            if progress:
                progress(f"[{number}/{len(chosen)}] {source.name}: {_describe(outcome)}")
    links = link_across_documents(ctx)
    if do_publish:
        report.published = publish(ctx)
    counts = report.counts
    counts["links_across_documents"] = links
    with unit_of_work(ctx.factory) as session:
        repo.finish_run(
            session,
            run_id,
            at=datetime.now(UTC),
            status="failed" if report.failed else "ok",
            counts=dict(counts),
            outcomes={o.name: o.as_dict() for o in report.outcomes},
        )
    log.info("run finished: %s", json.dumps(dict(counts), sort_keys=True))
    return report


def _describe(outcome: SourceOutcome) -> str:
    if outcome.status == "failed":
        return f"FAILED ({outcome.error_kind}): {outcome.error}"
    if outcome.status == "not-modified":
        return "not modified"
    new = outcome.counts.get("announcements_created", 0)
    upd = outcome.counts.get("announcements_updated", 0)
    return f"{outcome.documents} documents, {new} new and {upd} updated announcements"


def import_documents(
    settings: Settings, locations: Iterable[str], *, kind: str = "auto", event: str | None = None,
    progress: Progress | None = None,
) -> RunReport:
    """Ingest local files or URLs once, as ad-hoc sources (a saved recap, a backfill)."""
    sources = [
        SourceConfig(name=f"import:{loc if is_remote(loc) else Path(loc).resolve()}", url=loc, kind=kind, event=event)
        for loc in locations
    ]
    # Imports always re-read their documents: conditional GET is for scheduled sources.
    return run(settings, sources=sources, progress=progress)


def extract_location(
    settings: Settings, location: str, *, kind: str = "auto", event: str | None = None
) -> dict[str, list[dict[str, object]]]:
    """Extract, normalise and link one file or URL without a database (`tracker extract`)."""
    taxonomy = Taxonomy.load(data_file(settings.config_dir, "services.toml").parent)
    rules = load_rules(data_file(settings.config_dir, "extract.toml"))
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
            sessions.append({
                "key": conf.key, "title": conf.title, "kind": conf.kind, "url": conf.url, "code": conf.code,
                "speakers": list(conf.speakers), "level": conf.level, "event": conf.event or (detected.name if detected else None),
            })
        normalized = normalize(doc, taxonomy)
        in_doc = linking.links_in_document(
            [(s.key, s.title, event_slug) for s in doc.sessions],
            [(na.announcement.title, tuple(s.name for s in na.services), na.announcement.sessions, event_slug)
             for na in normalized],
            settings.link_threshold,
        )
        for na, links in zip(normalized, in_doc, strict=True):
            ann = na.announcement
            announcements.append({
                "title": ann.title,
                "services": [s.name for s in na.services],
                "summary": ann.summary,
                "sessions": [refs[key] for key, _ in links],
                "links": [{"session": refs[key], "method": l.method, "score": l.score, "reason": l.reason} for key, l in links],
                "url": na.url,
                "announced_at": na.announced_at.isoformat() if na.announced_at else None,
                "event": na.event,
                "status": ann.status,
                "rule": ann.rule,
                "marker": ann.marker,
                "context": list(ann.context),
                "document": doc.url,
            })
    return {"announcements": announcements, "sessions": sessions}
