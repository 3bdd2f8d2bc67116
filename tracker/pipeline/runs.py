"""The entry points that record a run: `run`, `import_documents` and `reextract`, and how a run's failure is recorded."""

from __future__ import annotations

import gc
import json
import logging
import signal
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from tracker.config import Settings, SourceConfig, SourceKind
from tracker.errors import ConfigError
from tracker.extract import KINDS
from tracker.items import CacheValidators, RawDocument, RunStatus, SourceStatus
from tracker.parallel import Job, default_workers, extract_archived
from tracker.pipeline.context import REPORTED, Context, Progress, RunReport, SourceOutcome
from tracker.pipeline.ingest import (
    INGEST_BATCH,
    Fetched,
    Prepared,
    StoredRobots,
    _document_hash,
    fetch_source,
    groups_with,
    ingest_many,
    store_source,
    store_sources,
)
from tracker.pipeline.links import link_across_documents
from tracker.pipeline.pages import publish, push_changes
from tracker.publish import PublishReport
from tracker.publish.objectstore import feeds_present
from tracker.redact import mask_text, mask_url
from tracker.sources import Fetcher, hosts_of, is_remote
from tracker.sources.prefetch import Prefetch
from tracker.store.db import DiskError, unit_of_work
from tracker.store.documents import DocumentState, archived_bodies, document_states
from tracker.store.runs import finish_run, previous_run, start_run
from tracker.store.sources import register_sources
from tracker.textutil import plural

log = logging.getLogger(__name__)


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
    with recorded_failure(ctx, run_id, report), fewer_collections():
        _run(ctx, run_id, report, chosen, progress=progress, do_publish=do_publish)
    return report


# Allocations between two young-generation collections during a run (Python's default: 700).
# A parsed page is a web of cycles (each tag points at its parent and neighbours) that lives
# while its document is extracted: collected every 700 allocations, each page's tags outlived
# a few collections, reached the oldest generation and were found dead only by a full
# collection, which walks every object a backfill keeps (its caches): a tenth of its time.
# Collected less often, a page is mostly dead by the first collection that sees it.
GC_YOUNG_THRESHOLD = 10_000


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Run the body with the young generation collected every `GC_YOUNG_THRESHOLD` allocations."""
    previous = gc.get_threshold()
    gc.set_threshold(max(previous[0], GC_YOUNG_THRESHOLD), *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)


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
    # Every source registered (and its validators read) in one transaction of a few statements,
    # not one transaction per source: a backfill of a thousand files is a thousand sources.
    with unit_of_work(ctx.factory, durable=False) as session:
        validators = register_sources(session, ((s.name, s.kind, s.url) for s in chosen), ids=ctx.ids)
    with (
        Fetcher(settings.http, allowed_hosts=allowed or None, robots_cache=StoredRobots(ctx)) as fetcher,
        _prefetch(ctx, fetcher, chosen, validators) as prefetch,
    ):
        # Sources fetched and extracted, stored together once they hold a batch of documents
        # (`store_sources`): a backfill of many small files pays a transaction per batch, not per file.
        group: list[tuple[int, Fetched]] = []
        grouped = [0]  # the documents in `group`, counted as they come (a sum per source was quadratic)

        def done(number: int, outcome: SourceOutcome) -> None:
            if progress:
                progress(f"[{number}/{len(chosen)}] {outcome.name}: {_describe(outcome)}")
                if len(chosen) > 1:
                    progress("sources", number, len(chosen), unit="sources")

        def store_group() -> None:
            if group:
                store_sources(ctx, fetcher, [fetched for _, fetched in group], progress=progress)
                for number, fetched in group:
                    done(number, fetched.outcome)
                group.clear()
                grouped[0] = 0

        for number, source in enumerate(chosen, 1):
            if ctx.stop():
                store_group()  # fetched and extracted whole: stored before stopping
                log.warning(
                    "stopping: %d of %d sources not processed in this run", len(chosen) - number + 1, len(chosen)
                )
                break
            if progress:
                progress(f"[{number}/{len(chosen)}] {source.name}: {mask_url(source.url)}")
            fetched = fetch_source(ctx, fetcher, source, prefetch=prefetch, validators=validators[source.name])
            outcome = fetched if isinstance(fetched, SourceOutcome) else fetched.outcome
            report.outcomes.append(outcome)  # completed in place when its group is stored
            if isinstance(fetched, SourceOutcome):
                done(number, outcome)
            elif fetched.docs and ctx.stop():
                # Asked to stop while it was fetched: none of its documents is stored and its
                # validators are not saved, so the next run fetches it again (as a source whose
                # documents are being stored stops before the next one).
                outcome.status = SourceStatus.INTERRUPTED
                done(number, outcome)
            elif groups_with(fetched):
                group.append((number, fetched))
                grouped[0] += max(1, len(fetched.docs))
                if grouped[0] >= INGEST_BATCH:
                    store_group()
            else:
                store_group()
                store_source(ctx, fetcher, fetched, progress=progress)
                done(number, outcome)
        store_group()
    _finish(ctx, run_id, report, do_publish=do_publish, push=True, what="run")


def _finish(ctx: Context, run_id: int, report: RunReport, *, do_publish: bool, push: bool, what: str) -> None:
    """The closing step `run` and `reextract` share: link across documents and publish unless
    nothing changed, then record the run's end with its counts and outcomes.

    `push`: a run pushes the changed feeds and its new announcements (WebSub, webhooks) and
    reports a skipped publish as nothing written; a re-extraction does neither.
    """
    # A run that changed nothing after a run that published leaves links and feeds as they are:
    # both read the whole store, so skipping them keeps a quiet day's cost flat as the store grows.
    quiet = _nothing_changed(report) and _feeds_current(ctx, run_id)
    if quiet:
        if push:
            log.info("nothing changed since the last published run: linking and publishing skipped")
            report.published = PublishReport(written=[], unchanged=0, removed=[]) if do_publish else None
    else:
        report.links_across_documents = link_across_documents(ctx)
        if do_publish:
            report.published = publish(ctx)
            if push:
                push_changes(ctx, report.published)
    counts = report.counts
    if quiet or do_publish:
        counts["published"] = 1  # the feeds match the store as of this run
    with unit_of_work(ctx.factory) as session:
        finish_run(
            session,
            run_id,
            at=datetime.now(UTC),
            # A re-extraction has no stop() and no failed source: it always ends ok.
            status=RunStatus.INTERRUPTED if ctx.stop() else RunStatus.FAILED if report.failed else RunStatus.OK,
            counts=dict(counts),
            outcomes={o.name: o.as_dict() for o in report.outcomes},
        )
    log.info("%s finished: %s", what, json.dumps(dict(counts), sort_keys=True))


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


def _prefetch(
    ctx: Context, fetcher: Fetcher, chosen: Sequence[SourceConfig], validators: dict[str, CacheValidators]
) -> Prefetch:
    """Sources on other hosts are fetched while earlier ones are stored (`http.concurrency` hosts
    at once), with the validators saved for each (`validators`, by name: registered already)."""
    sources = [(s.name, s.url) for s in chosen]
    lanes = ctx.settings.http.concurrency
    if ctx.factory.kw["bind"].url.database in (None, "", ":memory:"):
        lanes = 1  # one shared in-memory connection: the robots.txt cache must not be used from two threads
    urls = dict(sources)

    def fetch(name: str) -> RawDocument:
        kept = validators[name]
        return fetcher.fetch(urls[name], source=name, etag=kept.etag, last_modified=kept.last_modified)

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
    if not (
        previous.finished
        and previous.status in (RunStatus.OK, RunStatus.FAILED)
        and previous.counts.get("published") == 1
    ):
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
    for body in bodies:
        config = configured.get(body.source)
        kind = body.kind if body.kind in KINDS else SourceKind.AUTO
        jobs.append(Job(body.sha, body.url, kind, config.event if config else None))
        names.append(body.source)
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
                if stored.get(doc.url) == DocumentState(digest, ctx.version):
                    # The same as stored: nothing to write (the common case after a rules change).
                    outcome.counts["documents_unchanged"] += 1
                    outcome.documents += 1
                else:
                    changed.append(Prepared(doc, result.job.sha, digest))
            if changed:
                ingest_many(ctx, changed, outcome, source=name, declared_event=result.job.event)
        if progress:
            progress("re-extracting", number, len(jobs), unit="archived bodies")
    _finish(ctx, run_id, report, do_publish=do_publish, push=False, what="re-extraction")
