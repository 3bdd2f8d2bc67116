"""One benchmark phase per process: `python -m tests.benchmarks.phases PHASE ARGS_JSON`.

Each phase runs in a fresh interpreter so that its peak RSS (ru_maxrss) is its own; it prints
one JSON object on its last stdout line. The timings are taken inside the process, around the
work itself: interpreter start-up and imports are not counted.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import resource
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.benchmarks.corpus import Manifest, announcement_rows, edit_one_whats_new_item

log = logging.getLogger(__name__)

Phase = Callable[[dict[str, Any]], dict[str, Any]]
PHASES: dict[str, Phase] = {}


def phase(func: Phase) -> Phase:
    """Register a phase under its function name."""
    PHASES[func.__name__] = func
    return func


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _settings(args: dict[str, Any]) -> Any:
    from tracker.config import load_settings

    return load_settings(Path(args["config"]))


# --------------------------------------------------------------------------- backfill


def _lxml_floor(files: list[str]) -> float:
    """Seconds lxml alone takes to parse the same bytes (XML as XML, everything else as HTML)."""
    import lxml.etree
    import lxml.html

    bodies = [(f, Path(f).read_bytes()) for f in files]
    parser = lxml.etree.XMLParser(recover=True, resolve_entities=False)
    start = time.perf_counter()
    for name, body in bodies:
        if name.endswith(".xml"):
            lxml.etree.fromstring(body, parser)
        else:
            lxml.html.document_fromstring(body)
    return time.perf_counter() - start


def _parser_floor(files: list[str]) -> tuple[float, float]:
    """Seconds (wall, CPU) the parsers the project must use take on the same bytes: feedparser
    for feeds, BeautifulSoup (with lxml) for HTML; markdown has no parse step to count."""
    import warnings

    import feedparser
    from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning

    bodies = [(f, Path(f).read_bytes()) for f in files]
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", XMLParsedAsHTMLWarning)
        for name, body in bodies:
            if name.endswith(".xml"):
                feedparser.parse(body)
            elif name.endswith((".html", ".htm")):
                BeautifulSoup(body, "lxml")
    return time.perf_counter() - start, time.process_time() - cpu


def _server_cpu_seconds(database_url: str) -> float | None:
    """CPU seconds the PostgreSQL backends of the run's open connections used, read from /proc
    (the server on this machine); None on SQLite or when they cannot be read.

    The run's pool keeps its connections open (this reads through one of them), so their
    backends are the run's; a connection the pool closed during the run would be missed."""
    if not database_url.startswith("postgresql"):
        return None
    from sqlalchemy import text

    from tracker.store.db import open_store

    try:
        with open_store(database_url).kw["bind"].connect() as conn:
            pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars()
            tick = os.sysconf("SC_CLK_TCK")
            total = 0.0
            for pid in pids:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
            return total
    except (OSError, ValueError, IndexError) as exc:
        log.warning("the PostgreSQL backends' CPU time is not readable here: %s", exc)
        return None


@phase
def backfill(args: dict[str, Any]) -> dict[str, Any]:
    """Import every corpus document (archive, extract, normalise, store, link); no publishing."""
    from tracker import pipeline
    from tracker.config import SourceConfig

    manifest = Manifest.load(Path(args["manifest"]))
    files = manifest.backfill_files()
    settings = _settings(args)
    sources = [SourceConfig(name=f"import:{f}", url=f, kind="auto") for f in files]
    profiler = None
    if args.get("profile"):
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    load_before = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), time.process_time()
    report = pipeline.run(settings, sources=sources, do_publish=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    load_after = os.getloadavg()[0]
    if profiler is not None:
        # Written for `python -m pstats PATH`: where the backfill's time goes (the timing above
        # then includes the profiler's overhead).
        profiler.disable()
        profiler.dump_stats(args["profile"])
    server_cpu = _server_cpu_seconds(settings.database_url)
    floor = min(_lxml_floor(files) for _ in range(3))
    parsers, parsers_cpu = min(_parser_floor(files) for _ in range(2))
    counts = report.counts
    return {
        "files": len(files),
        "bytes": manifest.bytes_total,
        "documents": counts["documents"],
        "failed_sources": len(report.failed),
        "announcements_created": counts.get("announcements_created", 0),
        "seconds": seconds,
        "docs_per_s": counts["documents"] / seconds,
        "lxml_seconds": floor,
        "ratio_to_lxml": seconds / floor,
        # The required libraries alone (feedparser, BeautifulSoup) against lxml, and the
        # whole backfill against them: what the pipeline adds on top of parsing.
        "parsers_seconds": parsers,
        "parsers_ratio_to_lxml": parsers / floor,
        "ratio_to_parsers": seconds / parsers,
        # On a machine other jobs share, wall times stretch with their load: the CPU time of
        # this process (and of the PostgreSQL backends, when readable) against the parsers'.
        "cpu_seconds": cpu,
        "server_cpu_seconds": server_cpu,
        "parsers_cpu_seconds": parsers_cpu,
        "cpu_ratio_to_parsers": (cpu + (server_cpu or 0.0)) / parsers_cpu,
        "load_average": [round(load_before, 2), round(load_after, 2)],
    }


# --------------------------------------------------------------------------- re-extraction


def _timed_reextract(args: dict[str, Any]) -> tuple[float, Any]:
    from tracker import pipeline
    from tracker.store.db import close_stores

    close_stores()
    settings = _settings(args)
    start = time.perf_counter()
    report = pipeline.reextract(settings, do_publish=False)
    return time.perf_counter() - start, report


@phase
def reextract(args: dict[str, Any]) -> dict[str, Any]:
    """`tracker reextract` three ways: after a rules change, after a taxonomy change, with nothing changed.

    A rules change (the rules' version bumped) re-extracts every archived body and stores
    again only the documents whose extraction came out different; a taxonomy change (an alias
    added) re-normalises and stores every document: the worst case.
    """
    from tracker.parallel import default_workers

    config = Path(args["config"])
    rules = config / "extract.toml"
    text = rules.read_text()
    marker = 'version = "'
    at = text.index(marker) + len(marker)
    old = text[at : text.index('"', at)]
    rules.write_text(text[:at] + f"{old}.bench" + text[at + len(old) :])
    rules_s, rules_report = _timed_reextract(args)

    services = config / "services.toml"
    text = services.read_text()
    # Any edit of the taxonomy changes its fingerprint: one more alias of a service.
    edited = text.replace('"Dedicated Hosts",', '"Dedicated Hosts", "Benchmark Alias",', 1)
    assert edited != text, "tracker/data/services.toml changed: pick another alias to add"
    services.write_text(edited)
    taxonomy_s, taxonomy_report = _timed_reextract(args)
    unchanged_s, unchanged_report = _timed_reextract(args)
    return {
        "documents": rules_report.counts["documents"],
        "bodies": rules_report.counts["bodies"],
        "seconds": rules_s,
        "documents_changed": rules_report.counts.get("documents_changed", 0),
        "restore_all_seconds": taxonomy_s,
        "restore_all_documents_changed": taxonomy_report.counts.get("documents_changed", 0),
        "unchanged_seconds": unchanged_s,
        "unchanged_documents_changed": unchanged_report.counts.get("documents_changed", 0),
        "workers": default_workers(),
        # Each worker process's own peak (RSS of the largest one), apart from this process's.
        "worker_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),
    }


# --------------------------------------------------------------------------- bulk loading


def _chunks(rows: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@phase
def scale(args: dict[str, Any]) -> dict[str, Any]:
    """Add synthetic announcements (with services, a mention and maybe an event) up to `target` in total."""
    from sqlalchemy import func, select, text

    from tracker.normalize.events import detect_event
    from tracker.store.announcements import get_or_create_event
    from tracker.store.changes import transaction_revision
    from tracker.store.db import open_store, unit_of_work
    from tracker.store.models import (
        UNDATED,
        AnnouncementRow,
        AnnouncementServiceRow,
        DocumentRow,
        MentionRow,
        ServiceRow,
    )
    from tracker.store.sources import get_or_create_source

    settings = _settings(args)
    factory = open_store(settings.database_url)
    engine = factory.kw["bind"]
    target = int(args["target"])
    with unit_of_work(factory) as session:
        have = session.scalar(select(func.count()).select_from(AnnouncementRow)) or 0
        service_ids = dict(session.execute(select(ServiceRow.slug, ServiceRow.id)).all())
        events: dict[int, int] = {}
        for year in range(2016, 2026):
            found = detect_event(f"AWS re:Invent {year}")
            assert found is not None
            events[year] = get_or_create_event(session, found.slug, found.name, found.year)
        source_id = get_or_create_source(session, "bench:bulk", kind="whats-new", url="bench:bulk")
        next_ann = (session.scalar(select(func.max(AnnouncementRow.id))) or 0) + 1
        next_doc = (session.scalar(select(func.max(DocumentRow.id))) or 0) + 1
        next_mention = (session.scalar(select(func.max(MentionRow.id))) or 0) + 1
        # The rows carry a revision of their own, as if the pipeline had stored them: the next
        # linking pass scores them, the next publish places them (tracker.store.changes).
        revision = transaction_revision(session)
    missing = max(0, target - have)
    start = time.perf_counter()
    now = datetime.now(UTC)
    per_doc = 100  # one synthetic listing document mentions 100 announcements
    postgres = engine.dialect.name == "postgresql"
    ann_cols = [
        "id",
        "key",
        "title",
        "summary",
        "url",
        "announced_at",
        "status",
        "event_id",
        "created_at",
        "updated_at",
        "content_hash",
        "revision",
    ]
    doc_cols = [
        "id",
        "url",
        "title",
        "author",
        "published_at",
        "content_hash",
        "extractor_version",
        "archive_sha",
        "source_id",
        "kind",
        "fetched_at",
    ]
    for chunk in _chunks(announcement_rows(missing, seed=int(args.get("seed", 1)), offset=have), 20_000):
        anns, links, docs, mentions = [], [], [], []
        for seed in chunk:
            ann_id = next_ann
            next_ann += 1
            if (ann_id % per_doc) == 0 or not docs:
                docs.append(
                    (
                        next_doc,
                        f"https://bench.example/listing/{next_doc}",
                        f"Listing {next_doc}",
                        None,
                        seed.announced_at,
                        "bench",
                        "bench",
                        None,
                        source_id,
                        "whats-new",
                        now,
                    )
                )
                next_doc += 1
            anns.append(
                (
                    ann_id,
                    seed.key,
                    seed.title,
                    seed.summary,
                    seed.url,
                    seed.announced_at,
                    None,
                    events.get(seed.event_year) if seed.event_year else None,
                    now,
                    now,
                    "bench",
                    revision,
                )
            )
            sort_at = seed.announced_at or UNDATED
            links.extend((ann_id, service_ids[slug], sort_at) for slug in seed.service_slugs if slug in service_ids)
            mentions.append((next_mention, ann_id, docs[-1][0], seed.title, 0, "bench"))
            next_mention += 1
        with engine.begin() as conn:
            if postgres:
                raw = conn.connection.driver_connection
                with raw.cursor() as cur:
                    for table, cols, rows in (
                        ("documents", doc_cols, docs),
                        ("announcements", ann_cols, anns),
                        ("announcement_services", ["announcement_id", "service_id", "sort_at"], links),
                        ("mentions", ["id", "announcement_id", "document_id", "excerpt", "position", "rule"], mentions),
                    ):
                        with cur.copy(f"COPY {table} ({', '.join(cols)}) FROM STDIN") as copy:
                            for row in rows:
                                copy.write_row(row)
            else:
                conn.execute(DocumentRow.__table__.insert(), [dict(zip(doc_cols, r, strict=True)) for r in docs])
                conn.execute(AnnouncementRow.__table__.insert(), [dict(zip(ann_cols, r, strict=True)) for r in anns])
                conn.execute(
                    AnnouncementServiceRow.__table__.insert(),
                    [{"announcement_id": a, "service_id": s, "sort_at": t} for a, s, t in links],
                )
                conn.execute(
                    MentionRow.__table__.insert(),
                    [
                        dict(
                            zip(["id", "announcement_id", "document_id", "excerpt", "position", "rule"], r, strict=True)
                        )
                        for r in mentions
                    ],
                )
    with engine.begin() as conn:
        if postgres:
            for table in ("announcements", "documents", "mentions"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
                )
            conn.execute(text("ANALYZE"))
        else:
            conn.execute(text("ANALYZE"))
    with unit_of_work(factory) as session:
        total = session.scalar(select(func.count()).select_from(AnnouncementRow))
    return {"added": missing, "announcements": total, "seconds": time.perf_counter() - start}


# --------------------------------------------------------------------------- daily runs and publishing


def _server_cpu_s(settings: Any) -> dict[int, float] | None:
    """CPU seconds used so far by each PostgreSQL backend connected to this database (read from
    /proc: the server must run on this machine), or None on SQLite."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(settings.database_url)
    if not url.get_backend_name().startswith("postgresql"):
        return None
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            pids = list(
                conn.execute(
                    text(
                        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[int, float] = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return out


@phase
def noop(args: dict[str, Any]) -> dict[str, Any]:
    """A daily run over sources that did not change: warm-up run first, then the measured one.

    Above `max_publish` announcements (default 200,000) both runs leave publishing out: the
    warm-up would render every feed of a store loaded behind the pipeline's back (an hour at
    1,000,000), and a run that stored nothing skips publishing anyway (see `published_skipped`
    at the smaller size), so the measured work is the same.
    """
    from sqlalchemy import func, select

    from tracker import pipeline
    from tracker.store.db import open_store, unit_of_work
    from tracker.store.models import AnnouncementRow

    settings = _settings(args)
    with unit_of_work(open_store(settings.database_url)) as session:
        stored = session.scalar(select(func.count()).select_from(AnnouncementRow)) or 0
    publish = stored <= int(args.get("max_publish", 200_000))
    warm = pipeline.run(settings, do_publish=publish)
    gc.collect()
    start = time.perf_counter()
    report = pipeline.run(settings, do_publish=publish)
    seconds = time.perf_counter() - start
    counts = report.counts
    return {
        "seconds": seconds,
        "published": publish,
        "warm_seconds_note": "the warm-up run ingests the daily feeds and links",
        "warm_documents_changed": warm.counts.get("documents_changed", 0),
        "documents": counts.get("documents", 0),
        "documents_changed": counts.get("documents_changed", 0),
        "files_written": len(report.published.written) if report.published else None,
        "published_skipped": report.counts.get("links_across_documents", 0) == 0
        and bool(report.published)
        and not report.published.written
        and not report.published.unchanged,
    }


@phase
def publish_change(args: dict[str, Any]) -> dict[str, Any]:
    """Time a full rebuild into an empty folder; then edit one What's New item at the source, run,
    and count the feed files rewritten and the announcement records read.

    The store is first brought up to date without publishing (the daily feeds stored, the
    bulk-loaded rows linked once), so the timed rebuild, into an empty folder, is the only full
    publish; the edit's run then publishes the change against the state that rebuild recorded.
    """
    from tracker import pipeline
    from tracker.pipeline import runs
    from tracker.store import queries

    settings = _settings(args)
    pipeline.run(settings, do_publish=False)
    # The bulk-loaded rows linked once: the run above skips linking when its sources did not change
    # after a run that published (at 10x: the 1x phase's), and the loader wrote behind its back;
    # left to the timed run, linking 900,000 rows took 11 s of its CPU at 1,000,000.
    from tracker.pipeline.links import link_across_documents

    link_across_documents(pipeline.Context(settings))
    # Timed as in a warm process (`tracker schedule`): the extractors imported and the matcher
    # loaded once before, as the run above did not need them (its sources had not changed).
    from tracker import meaning
    from tracker.extract import extract

    extract(Path(args["daily_whats_new"]).read_bytes(), url="https://example.test/feed.xml")
    meaning.available()
    shutil.rmtree(settings.output_dir, ignore_errors=True)
    gc.collect()
    rendered = bool(args.get("render_rebuild", True))
    start = time.perf_counter()
    if rendered:
        full = pipeline.publish(pipeline.Context(settings), full=True)
    else:
        # The full publish places every entry and records the published state as it would, but
        # renders no feed document but the indexes (half an hour at 1,000,000 on a loaded
        # machine): the one-change run below renders what it touches from that state, as after
        # a real rebuild. Its time is not a rebuild's.
        from tracker.publish.feeds import DocumentRenderer

        render = DocumentRenderer.render
        DocumentRenderer.render = lambda *_a, **_k: None  # type: ignore[method-assign]
        try:
            full = pipeline.publish(pipeline.Context(settings), full=True)
        finally:
            DocumentRenderer.render = render  # type: ignore[method-assign]
    rebuild_s = time.perf_counter() - start

    feed = Path(args["daily_whats_new"])
    title = edit_one_whats_new_item(feed, int(args.get("edit", 1)))
    read: list[int] = []
    publish_s: list[float] = []
    reader = queries._RecordReader.read
    publish = runs.publish

    def counting(self: Any, ids: Any) -> Any:
        read.extend(ids)
        return reader(self, ids)

    def timed(ctx: Any, **kwargs: Any) -> Any:
        begun = time.perf_counter()
        try:
            return publish(ctx, **kwargs)
        finally:
            publish_s.append(time.perf_counter() - begun)

    def timed_cpu(ctx: Any, **kwargs: Any) -> Any:
        begun = time.process_time()
        try:
            return timed(ctx, **kwargs)
        finally:
            publish_cpu_s.append(time.process_time() - begun)

    publish_cpu_s: list[float] = []
    queries._RecordReader.read = counting  # type: ignore[method-assign]
    runs.publish = timed_cpu
    gc.collect()
    load = os.getloadavg()
    server_before = _server_cpu_s(settings)
    cpu_start = time.process_time()
    start = time.perf_counter()
    report = pipeline.run(settings)
    change_s = time.perf_counter() - start
    change_cpu_s = time.process_time() - cpu_start
    server_after = _server_cpu_s(settings)
    queries._RecordReader.read = reader  # type: ignore[method-assign]
    runs.publish = publish
    assert report.published is not None
    written = sorted(report.published.written)
    return {
        "edited": title.strip(),
        "updated": report.counts.get("announcements_updated", 0),
        "files_written": len(written),
        "written": written,
        "records_read": len(read),
        "run_seconds": change_s,
        "publish_seconds": sum(publish_s),
        # CPU seconds of this process (the machine may be shared: wall time grows with its load),
        # and of the PostgreSQL backends this database had before and after the run (None on SQLite).
        "run_cpu_seconds": change_cpu_s,
        "publish_cpu_seconds": sum(publish_cpu_s),
        # (a backend that closed during the run is not counted)
        "server_cpu_seconds": None
        if server_before is None or server_after is None
        else sum(cpu - server_before.get(pid, 0.0) for pid, cpu in server_after.items()),
        "loadavg_before": list(load),
        "loadavg_after": list(os.getloadavg()),
        "full_rebuild_seconds": rebuild_s,
        "full_rebuild_rendered": rendered,
        "full_rebuild_files": len(full.written),
    }


# --------------------------------------------------------------------------- queries


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p99_ms": p99 * 1000, "n": len(ordered)}


@phase
def queries(args: dict[str, Any]) -> dict[str, Any]:
    """p50/p99 of by-service, by-event and text queries (a page of 50 results, as the CLI and API show)."""
    from sqlalchemy import func, select

    from tracker.store import queries as queries_store
    from tracker.store.db import open_store, unit_of_work
    from tracker.store.models import AnnouncementServiceRow, ServiceRow
    from tracker.store.queries import list_events

    settings = _settings(args)
    factory = open_store(settings.database_url)
    repeats = int(args.get("repeats", 200))
    limit = int(args.get("limit", 50))
    with unit_of_work(factory) as session:
        ranked = session.execute(
            select(ServiceRow.name, func.count())
            .join(AnnouncementServiceRow, AnnouncementServiceRow.service_id == ServiceRow.id)
            .group_by(ServiceRow.name)
            .order_by(func.count().desc())
        ).all()
        events = [e.name for e in list_events(session) if e.announcements]
    # The most announced services, a middle one and the rarest: plans differ with selectivity.
    names = [r[0] for r in ranked]
    services = names[:5] + names[len(names) // 2 : len(names) // 2 + 3] + names[-2:]
    words = ["snapshots", "zero-ETL", "warm pools", "vector search", "nonexistentword"]

    def measure(run: Callable[[Any, int], Any], choices: list[Any]) -> dict[str, float]:
        samples: list[float] = []
        sizes: list[int] = []
        # Steady state, as in a server that has answered before: the first call of each
        # statement compiles it (SQLAlchemy's cache) and warms the database's pages.
        for i in range(len(choices)):
            with unit_of_work(factory) as session:
                run(session, i)
        for i in range(repeats):
            with unit_of_work(factory) as session:
                start = time.perf_counter()
                result = run(session, i)
                samples.append(time.perf_counter() - start)
                sizes.append(len(result))
        out = _percentiles(samples)
        out["mean_results"] = statistics.mean(sizes)
        return out

    result: dict[str, Any] = {"services": services, "limit": limit}
    result["by_service"] = measure(
        lambda s, i: queries_store.query_announcements(s, service=services[i % len(services)], limit=limit), services
    )
    if events:
        result["by_event"] = measure(
            lambda s, i: queries_store.query_announcements(s, event=events[i % len(events)], limit=limit), events
        )
    search = getattr(queries_store, "search_announcements", None)
    if search is not None:
        result["full_text_kind"] = "queries.search_announcements"
        result["full_text"] = measure(lambda s, i: search(s, words[i % len(words)], limit=limit), words)
    else:
        fulltext = hasattr(queries_store, "fulltext_condition")
        result["full_text_kind"] = (
            "query_announcements(search=) with the full-text index of tracker/store/search.py"
            if fulltext
            else "substring (query_announcements search=, no full-text index)"
        )
        result["full_text"] = measure(
            lambda s, i: queries_store.query_announcements(s, search=words[i % len(words)], limit=limit), words
        )
    return result


def main(argv: list[str]) -> int:
    """Run one phase and print its JSON result (with peak_rss_mb) as the last line."""
    name, raw = argv[0], argv[1]
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args = json.loads(raw)
    result = PHASES[name](args)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
