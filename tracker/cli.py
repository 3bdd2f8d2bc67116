"""The `tracker` command line: argument parsing on top of the pipeline and the store.

Every command's help ends with an example; `TrackerError`s become a one-line message
and a non-zero exit code (EXIT_CODES below). Everything printed passes through
`tracker.redact`: URLs in messages lose their credentials and secret parameters, and no
escape sequence or control character from a document reaches the terminal.
"""

from __future__ import annotations

import argparse
import csv
import errno
import io
import json
import logging
import math
import os
import re
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from tracker import __version__
from tracker.config import MAX_SERVE_WORKERS, SOURCE_KINDS, Settings, load_settings
from tracker.console import print_table, progress_bars
from tracker.errors import ConfigError, TrackerError
from tracker.redact import mask_text, mask_url, strip_controls

log = logging.getLogger(__name__)

# Exit codes (sysexits.h where one fits); README "Running it every day" lists the same.
EXIT_CODES = (
    (0, "success"),
    (1, "at least one source failed (the others were processed; `tracker status` says which)"),
    (2, "a configuration error or an invalid argument"),
    (
        69,
        (
            "object storage refused the feeds or is unreachable: bucket missing, access denied, no credentials "
            "(EX_UNAVAILABLE; the store is kept, the next run publishes)"
        ),
    ),
    (70, "an unexpected internal error (EX_SOFTWARE; the traceback is printed)"),
    (74, "a disk refused a write: output, archive or database folder full, read-only or not writable (EX_IOERR)"),
    (75, "another run holds the run lock; try again later (EX_TEMPFAIL)"),
    (130, "interrupted by Ctrl-C (SIGINT); run/import/reextract finish the document in hand first"),
    (141, "the reader of the output stopped reading (`tracker ... | head`): the output was cut short, nothing more"),
    (143, "stopped by SIGTERM; run/import/reextract finish the document in hand first"),
)
EXIT_CLOSED_PIPE = 128 + 13  # 128 + SIGPIPE, what a shell reports for a Unix tool whose reader left
EXIT_SOFTWARE = 70
# --limit of the query commands: enough for any export, small enough to be a number.
MAX_LIMIT = 100_000
MAX_ID = 2**63 - 1  # the largest id a BIGINT (and SQLite's INTEGER) holds
MAX_WAIT_SECONDS = 7 * 86400.0
MAX_WORKERS = 256

Handler = Callable[[argparse.Namespace, Settings], int]
COMMANDS: dict[str, tuple[Handler, str]] = {}
# The commands that never open the database: a mistyped database folder is no concern of theirs.
WITHOUT_DATABASE = frozenset({"extract"})


def command(name: str) -> Callable[[Handler], Handler]:
    """Register a sub-command; its docstring is its help (first line) and example."""

    def register(func: Handler) -> Handler:
        COMMANDS[name] = (func, func.__doc__ or "")
        return func

    return register


def _public_url(value: str) -> str:
    from tracker.normalize.text import public_url

    url = public_url(value)
    if url is None:
        raise argparse.ArgumentTypeError(f"{value!r} is not a public http(s) URL")
    return url


def _date_bound(*, end: bool) -> Callable[[str], datetime]:
    """--since (end=False) and --until (end=True): the API's meaning (tracker.textutil.parse_bound).

    A bare --until day includes that day; a date-time is exact; refused values exit 2 here, not in a query.
    """

    def parse(value: str) -> datetime:
        from tracker.textutil import DateError, parse_bound

        try:
            return parse_bound(value, end=end)
        except DateError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _add_wait(p: argparse.ArgumentParser) -> None:
    """--wait, for the commands that take the run lock."""
    p.add_argument(
        "--wait",
        type=_seconds,
        default=0.0,
        metavar="SECONDS",
        help="if another run is in progress, wait up to this long for it (default: exit 75 at once)",
    )


def _add_run_options(p: argparse.ArgumentParser, *, source_help: str) -> None:
    """The options `run` and `reextract` share."""
    p.add_argument("--source", action="append", metavar="NAME", help=source_help)
    p.add_argument("--no-publish", action="store_true", help="store only; do not rebuild the feeds")
    p.add_argument("--json", action="store_true", help="print the per-source outcome as JSON")
    _add_wait(p)


_WHOLE = re.compile(r"[+]?[0-9]{1,30}")


def _bounded_int(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number (ASCII digits) from low to high; argparse names the option."""

    def parse(value: str) -> int:
        text = value.strip()
        if not _WHOLE.fullmatch(text):
            raise argparse.ArgumentTypeError(f"not a whole number from {low} to {high}: {value[:40]!r}")
        number = int(text)
        if number < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {number}")
        if number > high:
            raise argparse.ArgumentTypeError(f"must be at most {high}, not {text[:40]}")
        return number

    parse.__name__ = "whole number"  # what argparse calls the type in its messages
    return parse


_positive_int = _bounded_int(1, MAX_WORKERS)
_serve_workers_count = _bounded_int(1, MAX_SERVE_WORKERS)
_limit = _bounded_int(1, MAX_LIMIT)
_port = _bounded_int(0, 65535)
_tick_seconds = _bounded_int(1, 86_400)


def _seconds(value: str) -> float:
    """An argparse type: seconds to wait, from 0 to a week (no inf or nan)."""
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value[:40]!r}") from None
    if not math.isfinite(number) or not 0 <= number <= MAX_WAIT_SECONDS:
        raise argparse.ArgumentTypeError(f"must be from 0 to {MAX_WAIT_SECONDS:g} seconds, not {value[:40]}")
    return number


def _announcement_ref(value: str) -> int | str:
    """An argparse type: an announcement id (1 to 2^63-1) or its key (16 hex digits, maybe a suffix)."""
    text = value.strip()
    if re.fullmatch(r"[0-9]+", text):
        # All ASCII digits: an id, unless it is a 16-digit key (keys are hex).
        if len(text) == 16:
            return text
        digits = text.lstrip("0") or "0"
        number = int(digits) if len(digits) <= 19 else MAX_ID + 1
        if not 1 <= number <= MAX_ID:
            raise argparse.ArgumentTypeError(f"an id is from 1 to {MAX_ID}, not {text[:40]}")
        return number
    if not text or len(text) > 200:
        raise argparse.ArgumentTypeError(f"not an announcement id or key: {value[:40]!r}")
    return text


# --------------------------------------------------------------------------- commands


@command("run")
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """One full cycle over the configured sources: fetch, extract, store, link, publish.

    Exits 1 when any source failed (the others are still processed), 75 when another run
    holds the run lock (see --wait).

    Example:
        tracker run
        tracker run --source aws-whats-new
        tracker run --wait 600
    """
    from tracker import pipeline
    from tracker.lock import run_lock

    sources = settings.sources
    if args.source:
        unknown = set(args.source) - {s.name for s in sources}
        if unknown:
            print(
                f"error: --source: unknown {'source' if len(unknown) == 1 else 'sources'} "
                f"{', '.join(sorted(unknown))} (configured: {', '.join(s.name for s in sources) or 'none'})",
                file=sys.stderr,
            )
            return 2
        sources = tuple(s for s in sources if s.name in args.source)
    # Progress bars are for people watching a terminal; cron and systemd logs get the summary only.
    with run_lock(settings.database_url, wait=args.wait), progress_bars(not args.quiet) as progress:
        report = pipeline.run(
            settings,
            sources=sources,
            progress=progress,
            do_publish=not args.no_publish,
            stop=_terminated,
        )
    _print_report(report, args)
    return 1 if report.failed else 0


@command("import")
def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    """Ingest local files or URLs once (a saved recap, a session listing, a backfill).

    Example:
        tracker import ../shared/corpus/recaps/2023-12-aws-reinvent-2023.md
        tracker import saved/whats-new.xml --kind whats-new
        tracker import saved/recap.md --url https://blog.example.org/reinvent-recap/
    """
    from tracker import pipeline
    from tracker.lock import run_lock

    with run_lock(settings.database_url, wait=args.wait), progress_bars(not args.quiet) as progress:
        report = pipeline.import_documents(
            settings,
            args.documents,
            kind=args.kind,
            event=args.event,
            progress=progress,
            public_url=args.url,
            stop=_terminated,
        )
    _print_report(report, args)
    if not args.quiet:
        _say_what_gave_nothing(report)
    return 1 if report.failed else 0


def _say_what_gave_nothing(report: Any) -> None:
    """A note per imported source whose documents gave no launch and no session, with what to try."""
    from tracker.textutil import plural

    for outcome in report.outcomes:
        empty = outcome.counts.get("documents_without_launches", 0)
        if not empty:
            continue
        name = outcome.name.removeprefix("import:")
        what = "it gave" if outcome.documents == 1 else f"{plural(empty, 'document')} of it gave"
        print(
            f"note: {name}: {what} no launch and no session; "
            f"`tracker extract {name} --explain` lists every candidate and why none was taken",
            file=sys.stderr,
        )


@command("schedule")
def cmd_schedule(args: argparse.Namespace, settings: Settings) -> int:
    """Run the pipeline as a long-running daily job (APScheduler, cron from tracker.toml).

    Stops cleanly on SIGINT/SIGTERM. Several schedulers may share one database (two machines
    on one PostgreSQL): each cron time is run once, by whichever takes the run lock first, and
    when that one dies mid-run another runs the slot at its next takeover check.

    Example:
        tracker schedule
        tracker schedule --cron "30 5 * * *" --run-now
        tracker schedule --takeover 30
    """
    from tracker import schedule

    if args.cron:
        settings = settings.with_overrides(schedule_cron=args.cron)
    if args.takeover is not None:
        settings = settings.with_overrides(takeover_seconds=args.takeover)
    return schedule.serve_forever(settings, run_now=args.run_now)


@command("extract")
def cmd_extract(args: argparse.Namespace, settings: Settings) -> int:
    """Extract the announcements and sessions of one file or URL, without any database.

    Prints, per announcement, its services, summary, sessions and the rule that matched;
    --explain lists every candidate instead, with its score and the features that decided it.

    Example:
        tracker extract ../shared/corpus/recaps/2023-12-aws-reinvent-2023.md --format json
        tracker extract saved/recap.md --explain
    """
    from tracker import pipeline
    from tracker.textutil import plural

    if args.explain:
        return _explain(settings, args)
    result: dict[str, Any] = pipeline.extract_location(settings, args.document, kind=args.kind, event=args.event)
    if args.format == "json":
        _dump_json(result, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    for ann in result["announcements"]:
        print(f"* {ann['title']}")
        print(f"    services: {', '.join(ann['services']) or '-'}")
        print(f"    sessions: {', '.join(ann['sessions']) or '-'}")
        print(f"    rule: {ann['rule']}" + (f" (marker {ann['marker']!r})" if ann.get("marker") else ""))
        if ann.get("status"):
            print(f"    status: {ann['status']}")
        if ann.get("context"):
            # where services come from when the title names none: the innermost context first
            print(f"    context: {_shorten(' < '.join(ann['context']), 160)}")
        if ann["summary"]:
            print(f"    summary: {_shorten(ann['summary'], 160)}")
    if result["sessions"]:
        print("\nsessions:")
        for ses in result["sessions"]:
            print(f"  - [{ses['kind']}] {ses['title']} {ses.get('url') or ''}".rstrip())
    print(
        f"\n{plural(len(result['announcements']), 'announcement')}, {plural(len(result['sessions']), 'session')}",
        file=sys.stderr,
    )
    if not result["announcements"] and not result["sessions"]:
        print(
            f"note: no launch found; `tracker extract {args.document} --explain` lists every candidate and why",
            file=sys.stderr,
        )
    return 0


def _explain(settings: Settings, args: argparse.Namespace) -> int:
    """`tracker extract --explain`: each candidate, accepted or not, and why."""
    from tracker import pipeline
    from tracker.config import data_file
    from tracker.extract.learn import recording
    from tracker.extract.rules import load_rules
    from tracker.textutil import plural

    rules = load_rules(data_file(settings.config_dir, "extract.toml"))
    with recording() as seen:
        pipeline.extract_location(settings, args.document, kind=args.kind, event=args.event, rules=rules)
    rows: list[dict[str, Any]] = []
    for c in seen:
        threshold = rules.model.threshold_for(c.features) if rules.model else 0.5
        reasons = rules.model.explain(c.features) if rules.model else []
        rows.append(
            {
                "title": c.announcement.title,
                "accepted": c.forced or c.score >= threshold,
                "score": round(c.score, 3),
                "threshold": threshold,
                # A spoken announcement is taken whatever its score: it says so among its forms.
                "forms": sorted(c.generators | ({"spoken (taken whatever its score)"} if c.forced else set())),
                "features": {name: round(value, 3) for name, value in reasons},
            }
        )
    if args.format == "json":
        _dump_json({"candidates": rows}, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    for row in rows:
        mark = "+" if row["accepted"] else "-"
        print(f"{mark} {row['score']:.2f}/{row['threshold']:.2f} {row['title']}")
        print(f"    forms: {', '.join(row['forms'])}")
        print("    " + ", ".join(f"{k} {v:+.2f}" for k, v in row["features"].items()))
    print(f"\n{plural(len(rows), 'candidate')}, {sum(r['accepted'] for r in rows):,} accepted", file=sys.stderr)
    return 0


@command("announcements")
def cmd_announcements(args: argparse.Namespace, settings: Settings) -> int:
    """Query stored announcements by service, event, date, session or text.

    Example:
        tracker announcements --service "AWS Lambda" --since 2023-11-26 --until 2023-12-01
        tracker announcements --service S3 --event "reinvent 2023" --format json
    """
    from tracker.store import queries  # Core reads: no ORM to import (issue 15)
    from tracker.store.db import open_engine, reading
    from tracker.textutil import DateError, check_range, plural

    try:
        check_range(args.since, args.until)
    except DateError as exc:
        print(f"error: --since/--until: {exc}", file=sys.stderr)
        return 2
    engine = open_engine(settings.database_url)
    # An unknown --service or --event raises UnknownNameError: exit 2 with the closest names.
    with reading(engine) as session:
        records = queries.query_announcements(
            session,
            service=args.service,
            event=args.event,
            since=args.since,
            until=args.until,
            search=args.search,
            session_code=args.session,
            limit=args.limit,
            region=args.region,
        )
    rows = [_record_json(r) for r in records]
    if args.format == "json":
        _dump_json(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.format == "csv":
        out = csv.writer(sys.stdout)
        out.writerow(["id", "announced_at", "title", "services", "event", "url", "sessions"])
        for row in rows:
            out.writerow(
                [
                    row["id"],
                    row["announced_at"] or "",
                    row["title"],
                    "; ".join(row["services"]),
                    row["event"] or "",
                    row["url"] or "",
                    "; ".join(s["code"] or s["title"] for s in row["sessions"]),
                ]
            )
    else:
        _table(
            ["id", "date", "title", "services", "event"],
            [
                [
                    str(r["id"]),
                    (r["announced_at"] or "")[:10],
                    _shorten(r["title"], 60),
                    _shorten(", ".join(r["services"]), 40),
                    r["event"] or "",
                ]
                for r in rows
            ],
        )
        print(plural(len(rows), "announcement"), file=sys.stderr)
    return 0


@command("show")
def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    """Print one announcement with its services, mentions and sessions.

    Example:
        tracker show 12
    """
    from tracker.store import queries  # Core reads: no ORM to import (issue 15)
    from tracker.store.db import open_engine, reading

    with reading(open_engine(settings.database_url)) as session:
        record = queries.get_announcement(session, args.id)
        if record is None and isinstance(args.id, str) and args.id.isdigit():
            record = queries.get_announcement(session, int(args.id))  # 16 digits: a key, else an id
    if record is None:
        print(f"error: no announcement with id or key {args.id!r}", file=sys.stderr)
        return 1
    data = _record_json(record)
    if args.format == "json":
        _dump_json(data, sys.stdout, indent=2, ensure_ascii=False)
        print()
        return 0
    print(data["title"])
    for key in ("id", "key", "announced_at", "updated_at", "status", "event", "url"):
        if data.get(key):
            print(f"  {key}: {data[key]}")
    print(f"  services: {', '.join(data['services']) or '-'}")
    if data["summary"]:
        print(f"  summary: {data['summary']}")
    for ses in data["sessions"]:
        print(
            f"  session: [{ses['kind']}] {ses['code'] or ''} {ses['title']} {ses['url'] or ''} "
            f"({ses['method']} {ses['score']}: {ses['reason']})"
        )
    for src in record.mentioned_in:
        # Where it was read, on this machine: shown without credentials or tokens all the same.
        print(f"  mentioned in: {mask_url(src)}")
    return 0


@command("services")
def cmd_services(args: argparse.Namespace, settings: Settings) -> int:
    """List AWS services with their announcement counts, or the announcements no service matched.

    Example:
        tracker services
        tracker services --unmatched
    """
    from tracker.store import queries  # Core reads: no ORM to import (issue 15)
    from tracker.store.db import open_engine, reading

    with reading(open_engine(settings.database_url)) as session:
        if args.unmatched:
            records = queries.announcements_without_services(session)
            rows = [_record_json(r) for r in records]
        else:
            services = queries.list_services(session, with_counts=True)
            rows = [
                {"slug": c.service.slug, "name": c.service.name, "announcements": c.announcements}
                for c in services
                if c.announcements or args.all
            ]
    if args.format == "json":
        _dump_json(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.unmatched:
        _table(
            ["id", "title", "sources"],
            [[str(r["id"]), _shorten(r["title"], 70), _shorten(" ".join(r["sources"]), 60)] for r in rows],
        )
    else:
        _table(["slug", "name", "announcements"], [[r["slug"], r["name"], str(r["announcements"])] for r in rows])
    return 0


@command("sessions")
def cmd_sessions(args: argparse.Namespace, settings: Settings) -> int:
    """List conference sessions (keynotes, breakouts) with their video links.

    Example:
        tracker sessions --event "AWS re:Invent 2023"
        tracker sessions --event reinvent-2023 --format csv
    """
    from tracker.store import queries  # Core reads: no ORM to import (issue 15)
    from tracker.store.db import open_engine, reading

    with reading(open_engine(settings.database_url)) as session:
        sessions = queries.list_sessions(session, event=args.event)
    rows: list[dict[str, Any]] = [s.as_dict() for s in sessions]
    if args.format == "json":
        _dump_json(rows, sys.stdout, indent=2, ensure_ascii=False)
        print()
    elif args.format == "csv":
        out = csv.writer(sys.stdout)
        out.writerow(["code", "kind", "title", "event", "url", "speakers", "level"])
        for ses in sessions:
            out.writerow(
                [
                    ses.code or "",
                    ses.kind,
                    ses.title,
                    ses.event or "",
                    ses.url or "",
                    "; ".join(ses.speakers),
                    ses.level or "",
                ]
            )
    else:
        _table(
            ["code", "kind", "title", "event", "url"],
            [[r["code"] or "", r["kind"], _shorten(r["title"], 60), r["event"] or "", r["url"] or ""] for r in rows],
        )
    return 0


@command("reextract")
def cmd_reextract(args: argparse.Namespace, settings: Settings) -> int:
    """Re-extract every archived document with the current rules and taxonomy (no network), then publish.

    Run it after improving tracker/data/extract.toml or tracker/data/services.toml: documents whose extraction
    is unchanged are skipped, the others are re-normalised and stored.

    Example:
        tracker reextract
        tracker reextract --source aws-whats-new --no-publish --workers 2
    """
    from tracker import pipeline
    from tracker.lock import run_lock

    # It writes the store and the feeds like a run does: one at a time.
    with run_lock(settings.database_url, wait=args.wait), progress_bars(not args.quiet) as progress:
        report = pipeline.reextract(
            settings,
            sources=args.source,
            progress=progress,
            do_publish=not args.no_publish,
            workers=args.workers,
        )
    _print_report(report, args)
    return 0


@command("publish")
def cmd_publish(args: argparse.Namespace, settings: Settings) -> int:
    """Publish the feeds (RSS, Atom, JSON Feed, OPML) from the store; unchanged files are not rewritten.

    To a folder, only the feeds of the announcements changed since the last publish there are
    rendered; --full renders every feed, rewrites those that differ and removes feed files no
    longer produced (what a first publish, or one to another folder, does by itself).

    Example:
        tracker publish
        tracker publish --full
        tracker --output public/feeds publish
    """
    from tracker import pipeline
    from tracker.lock import run_lock
    from tracker.textutil import plural

    with run_lock(settings.database_url, wait=args.wait):
        ctx = pipeline.Context(settings)
        report = pipeline.publish(ctx, full=args.full)
    print(
        f"{plural(len(report.written), 'file')} written, {report.unchanged:,} unchanged, "
        f"{len(report.removed):,} removed in {settings.output_location}",
        file=sys.stderr,
    )
    return 0


@command("serve")
def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the feeds (ETag, 304, gzip), a read-only JSON API under /api and a browse page at /browse.

    Serves the output folder as it is: run `tracker publish` (or `tracker run`) first.
    With --workers N (Linux), N processes answer on the same address; each has its own
    connection limit, threads and API cache.

    Example:
        tracker serve --port 8000
        tracker serve --host 0.0.0.0 --workers 2
        curl 'http://127.0.0.1:8000/api/announcements?service=amazon-s3&q=vector'
    """
    from tracker.store.db import open_store
    from tracker.web import make_server, serve_forever

    if args.workers is not None:
        settings = settings.with_overrides(serve_workers=args.workers)
    workers = settings.serve_workers
    if workers > 1:
        from tracker.web.workers import check_workers

        origin = "--workers" if args.workers is not None else _setting("serve.workers", args, settings)
        check_workers(workers, origin)
    factory = open_store(settings.database_url)
    if settings.object_store is not None:
        print(
            f"feeds are published to {settings.object_store.url} (serve them from there); serving the API and "
            f"whatever is in {settings.output_dir}",
            file=sys.stderr,
        )
    if workers > 1:
        return _serve_workers(settings, args.host, args.port, workers)
    server = make_server(settings.output_dir, factory, host=args.host, port=args.port)
    print(
        f"serving {settings.output_dir} on {server.url} (feeds at /, API at /api/openapi.json, "
        f"browse at /browse); Ctrl-C stops",
        file=sys.stderr,
    )
    serve_forever(server)
    return 0


def _serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """`tracker serve --workers N`: the parent of N processes answering on one address (tracker.web.workers)."""
    from tracker.store.db import close_stores
    from tracker.web.workers import Supervisor, bind_shared, describe_status

    # What can go wrong at startup goes wrong here, once, before any worker exists.
    settings.output_dir.mkdir(parents=True, exist_ok=True)
    sockets = bind_shared(host, port, workers)
    # The schema was checked (and migrated) once above; each worker opens its own engine after the fork.
    close_stores()
    supervisor = Supervisor(sockets, settings.output_dir, settings.database_url)
    try:
        failed = supervisor.start()
        if failed is not None:
            code = os.waitstatus_to_exitcode(failed)
            if code > 0:
                return code  # the worker printed why
            print(f"error: a worker process {describe_status(failed)} before serving", file=sys.stderr)
            return EXIT_SOFTWARE
        if not supervisor.stopping:
            name, bound = sockets[0].getsockname()[:2]
            url = f"http://{f'[{name}]' if ':' in name else name}:{bound}/"
            cpus = [cpu for cpu in supervisor.cpus if cpu is not None]
            pinned = f"; pinned to CPUs {', '.join(map(str, cpus))}" if cpus else ""
            print(
                f"serving {settings.output_dir} on {url} (feeds at /, API at /api/openapi.json, browse at /browse) "
                f"with {workers} worker processes (pids {', '.join(map(str, supervisor.pids))}{pinned}; each has "
                "its own connection limit, threads and API cache); Ctrl-C stops",
                file=sys.stderr,
            )
        stopped_by = supervisor.supervise()
    finally:
        supervisor.close()
    if stopped_by == signal.SIGTERM:
        # As the one-process server ends on SIGTERM: killed by it (exit status 143), every worker gone.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
    return 0


# `tracker status` shows the one-off imports (`tracker import`) most recently attempted, at most
# this many; a failed one only until a later import succeeds, and for this long at most: a path
# mistyped once does not stay forever.
STATUS_IMPORTS = 5
STATUS_FAILED_IMPORT_DAYS = 7
IMPORT_PREFIX = "import:"  # pipeline.import_documents names its ad-hoc sources so


def _status_sources(
    states: list[dict[str, Any]], settings: Settings, *, show_all: bool, now: datetime
) -> tuple[list[dict[str, Any]], int]:
    """The sources `tracker status` shows, and how many stored ones it leaves out.

    Every configured source, in the configuration's order (one never run too), then the
    recent one-off imports; with show_all, every stored source.
    """
    from datetime import UTC, timedelta

    def attempted(state: dict[str, Any]) -> datetime:
        at = state.get("last_attempt_at")
        if not isinstance(at, datetime):
            return datetime.min.replace(tzinfo=UTC)
        return at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite hands back naive UTC times

    stored = {str(s["name"]): s for s in states}
    shown: list[dict[str, Any]] = []
    for source in settings.sources:
        state = dict(stored.get(source.name) or {"name": source.name, "kind": source.kind, "last_status": None})
        state["configured"] = True
        state["enabled"] = source.enabled
        shown.append(state)
    configured = {s.name for s in settings.sources}
    others = sorted((s for s in states if s["name"] not in configured), key=attempted, reverse=True)
    if show_all:
        shown += [{**s, "configured": False} for s in others]
        return shown, 0
    imports = [s for s in others if str(s["name"]).startswith(IMPORT_PREFIX)]
    succeeded = [attempted(s) for s in imports if s.get("last_status") != "failed"]
    oldest_failure = max([now - timedelta(days=STATUS_FAILED_IMPORT_DAYS), *succeeded])
    recent = [s for s in imports if s.get("last_status") != "failed" or attempted(s) > oldest_failure]
    recent = recent[:STATUS_IMPORTS]
    shown += [{**s, "configured": False} for s in recent]
    return shown, len(others) - len(recent)


@command("status")
def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    """Show the configured sources and recent one-off imports (last success, last error), and the last runs.

    One-off imports: the last 5 attempted; a failed one until a later import succeeds, 7 days at
    most. --all lists every stored source, old imports and sources no longer configured included.

    Example:
        tracker status
        tracker status --all --format json
    """
    from datetime import UTC

    from tracker.store import queries  # Core reads: no ORM to import (issue 15)
    from tracker.store.db import open_engine, reading
    from tracker.textutil import plural

    with reading(open_engine(settings.database_url)) as session:
        stored = [state.as_dict() for state in queries.list_source_states(session)]
        runs = queries.last_runs(session, limit=5)
    states, hidden = _status_sources(stored, settings, show_all=args.all, now=datetime.now(UTC))
    if args.format == "json":
        _dump_json(
            {"sources": states, "runs": [r.as_dict() for r in runs], "sources_not_shown": hidden},
            sys.stdout,
            indent=2,
            default=str,
        )
        print()
        return 0
    _table(
        ["source", "status", "last success", "last attempt", "failures", "error kind", "last error"],
        [
            [
                str(s.get("name")),
                "disabled" if s.get("enabled") is False else str(s.get("last_status") or "never run"),
                str(s.get("last_success_at") or "-")[:19],
                str(s.get("last_attempt_at") or "-")[:19],
                str(s.get("consecutive_failures", 0)),
                str(s.get("last_error_kind") or ""),
                # The source column names it: the error without its own copy of the name.
                _shorten(str(s.get("last_error") or "").removeprefix(f"{s.get('name')}, "), 70),
            ]
            for s in states
        ],
    )
    if hidden:
        print(
            f"{plural(hidden, 'other stored source')} not shown (older one-off imports, sources no longer "
            "configured): tracker status --all",
            file=sys.stderr,
        )
    print()

    # A run still "running" that holds no lock was killed (SIGKILL, power loss): any other end,
    # an error or a signal, is recorded as "failed" with its reason. The next run redoes its work.
    _table(
        ["run", "started", "finished", "status", "documents", "new", "updated", "sessions", "failed sources", "error"],
        [
            [
                str(r.id),
                str(r.started_at)[:19],
                str(r.finished_at or "-")[:19],
                str(r.status),
                str(r.counts.get("documents", 0)),
                str(r.counts.get("announcements_created", 0)),
                str(r.counts.get("announcements_updated", 0)),
                str(r.counts.get("sessions", 0)),
                _shorten(", ".join(r.failed_sources()), 40),
                _shorten(str(r.error or ""), 70),
            ]
            for r in runs
        ],
    )
    return 0


@command("db")
def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    """Database maintenance: `tracker db upgrade` applies the migrations (also done automatically on first use).

    Example:
        tracker db upgrade
        TRACKER_DATABASE_URL=postgresql+psycopg://me@dbhost/tracker tracker db upgrade
    """
    from tracker.store.db import make_engine, upgrade

    engine = make_engine(settings.database_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    print(f"database is at the latest schema: {mask_url(settings.database_url)}", file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- output helpers


def _without_controls(data: Any) -> Any:
    """JSON-ready data with every string stripped of terminal controls (JSON would only escape them)."""
    if isinstance(data, str):
        return strip_controls(data)
    if isinstance(data, dict):
        return {_without_controls(k): _without_controls(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_without_controls(v) for v in data]
    return data


def _dump_json(data: Any, stream: Any, **options: Any) -> None:
    """json.dump of the data without terminal controls in any string: a consumer that prints a
    decoded value must not get the escape sequence back."""
    json.dump(_without_controls(data), stream, **options)


def _record_json(record: Any) -> dict[str, Any]:
    return dict(record.as_dict())


def _print_report(report: Any, args: argparse.Namespace) -> None:
    from tracker.textutil import plural

    counts = report.counts
    if getattr(args, "json", False):
        _dump_json(
            {"sources": {o.name: o.as_dict() for o in report.outcomes}, "counts": dict(counts)},
            sys.stdout,
            indent=2,
            default=str,
        )
        print()
    if args.quiet:
        return
    pub = report.published
    new, updated = counts.get("announcements_created", 0), counts.get("announcements_updated", 0)
    # Sessions are counted when there are any: a session listing stores sessions, not launches.
    sessions = counts.get("sessions", 0)
    print(
        f"{plural(len(report.outcomes), 'source')} ({len(report.failed):,} failed), "
        f"{plural(counts.get('documents', 0), 'document')}, "
        f"{new:,} new and {updated:,} updated {'announcement' if new + updated == 1 else 'announcements'}"
        + (f", {plural(sessions, 'session')}" if sessions else "")
        + (f", {plural(len(pub.written), 'feed file')} written" if pub else ""),
        file=sys.stderr,
    )
    for outcome in report.failed:
        error = mask_text(outcome.error)
        # A source's error usually begins with its name already: not twice.
        print(
            f"error: source {error if error.startswith(outcome.name) else f'{outcome.name}: {error}'}", file=sys.stderr
        )


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# Columns never wrapped on a terminal: short codes, dates and counts; titles and URLs give way first.
_NOWRAP = frozenset(
    {"id", "date", "code", "kind", "slug", "announcements", "status", "failures", "run", "started", "finished"}
    | {"last success", "last attempt", "documents", "new", "updated"}
)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A table on stdout: fitted to the terminal by rich, or plain aligned text for a pipe (tracker.console)."""
    print_table(headers, rows, nowrap=_NOWRAP)


# --------------------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(
        prog="tracker",
        description="Track AWS launches: pull the AWS News Blog, What's New and recaps, store the "
        "announcements by service, link them to conference sessions, publish feeds.",
        epilog="Example: tracker run && tracker announcements --service 'Amazon S3'\n\nExit codes:\n"
        + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in EXIT_CODES),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tracker {__version__}")
    parser.add_argument(
        "--config", type=Path, metavar="DIR", help="folder with tracker.toml and sources.toml (default: ./config)"
    )
    parser.add_argument(
        "--database", metavar="URL", help="database URL (overrides database_url / TRACKER_DATABASE_URL)"
    )
    # A string, not a Path: Path("s3://bucket/prefix") would fold the URL's "//".
    parser.add_argument(
        "--output", metavar="DIR", help="feed output folder, or s3://bucket/prefix (overrides output_dir)"
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str) -> argparse.ArgumentParser:
        doc = COMMANDS[name][1]
        first, _, rest = doc.partition("\n")
        p = sub.add_parser(
            name,
            help=first.strip(),
            description=first.strip(),
            epilog=_dedent(rest),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        p.set_defaults(handler=COMMANDS[name][0])
        return p

    p = add("run")
    _add_run_options(p, source_help="only this source (repeatable)")

    p = add("import")
    p.add_argument("documents", nargs="+", metavar="DOCUMENT", help="local path, file:// URL or http(s) URL")
    p.add_argument("--kind", choices=SOURCE_KINDS, default="auto", help="document format (default: guess)")
    p.add_argument("--event", metavar="NAME", help="the event the documents belong to, e.g. 'AWS re:Invent 2023'")
    p.add_argument("--json", action="store_true", help="print the per-document outcome as JSON")
    p.add_argument(
        "--url",
        type=_public_url,
        metavar="URL",
        help="where a saved DOCUMENT was published: its launches link there (a local path never is a link)",
    )
    _add_wait(p)

    p = add("schedule")
    p.add_argument("--cron", metavar="EXPR", help="cron expression (default: schedule.cron in tracker.toml)")
    p.add_argument("--run-now", action="store_true", help="also run once immediately")
    p.add_argument(
        "--takeover",
        type=_tick_seconds,
        metavar="SECONDS",
        help="how often to check for a scheduled run no scheduler finished, e.g. because the one running it "
        "was killed (default: schedule.takeover_seconds in tracker.toml, 60)",
    )

    p = add("extract")
    p.add_argument("document", metavar="DOCUMENT", help="local path, file:// URL or http(s) URL")
    p.add_argument("--format", choices=("json", "table"), default="table")
    p.add_argument("--kind", choices=SOURCE_KINDS, default="auto", help="document format (default: guess)")
    p.add_argument("--event", metavar="NAME", help="declare the event, e.g. 'AWS re:Invent 2023'")
    p.add_argument(
        "--explain",
        action="store_true",
        help="list every candidate launch with its score, its threshold and the features that decided it",
    )

    p = add("announcements")
    p.add_argument(
        "--service",
        metavar="S",
        help="service slug, name or alias, e.g. amazon-s3, 'Amazon S3', 'AWS S3' or S3 "
        "(an unknown name exits 2 with the closest ones)",
    )
    p.add_argument(
        "--event",
        metavar="E",
        help="event slug or name, e.g. aws-reinvent-2023, 'AWS re:Invent 2023' or 'reinvent 2023'",
    )
    p.add_argument(
        "--region",
        metavar="R",
        help="launches about an AWS partition or Region, e.g. GovCloud or 'AWS China (Beijing) Region'",
    )
    p.add_argument(
        "--since",
        type=_date_bound(end=False),
        metavar="DATE",
        help="announced on or after (YYYY-MM-DD: from the start of that day, UTC; or an ISO 8601 time)",
    )
    p.add_argument(
        "--until",
        type=_date_bound(end=True),
        metavar="DATE",
        help="announced up to (YYYY-MM-DD: including that whole day, UTC; an ISO 8601 time: before it)",
    )
    p.add_argument(
        "--search",
        metavar="TEXT",
        help="full-text search in the title and summary: every word, stemmed, the last one as a prefix",
    )
    p.add_argument("--session", metavar="CODE", help="covered by this session code, e.g. DAT342")
    p.add_argument("--limit", type=_limit, metavar="N", help=f"at most N results (1 to {MAX_LIMIT}; default: all)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")

    p = add("show")
    p.add_argument("id", metavar="ANNOUNCEMENT", type=_announcement_ref, help=f"announcement id (1 to {MAX_ID}) or key")
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = add("services")
    p.add_argument("--unmatched", action="store_true", help="list announcements that no service matched")
    p.add_argument("--all", action="store_true", help="include services without announcements")
    p.add_argument("--format", choices=("table", "json"), default="table")

    p = add("sessions")
    p.add_argument(
        "--event",
        metavar="E",
        help="event slug or name, e.g. 'reinvent 2023' (an unknown name exits 2 with the closest ones)",
    )
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")

    p = add("publish")
    _add_wait(p)
    p.add_argument(
        "--full",
        action="store_true",
        help="render every feed (not only those the changes since the last publish touch) and prune stale files",
    )

    p = add("serve")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default: 8000; 0 picks a free one)")
    p.add_argument(
        "--workers",
        type=_serve_workers_count,
        metavar="N",
        help=(
            f"answer with N processes sharing the address (Linux SO_REUSEPORT; 1 to {MAX_SERVE_WORKERS}; default: "
            "serve.workers in tracker.toml, 1). The limits are per process: each holds up to 4,096 connections "
            "with 1 thread on SQLite (8 on PostgreSQL) and its own API cache, so N processes hold N times as many; "
            "a process that dies is restarted"
        ),
    )

    p = add("reextract")
    _add_run_options(p, source_help="only the documents of this source (repeatable)")
    p.add_argument(
        "--workers",
        type=_positive_int,
        metavar="N",
        help=f"extract on N processes (1 to {MAX_WORKERS}; default: one per core; 1 extracts in this process)",
    )

    p = add("status")
    p.add_argument(
        "--all",
        action="store_true",
        help="every stored source: all one-off imports and sources no longer in sources.toml",
    )
    p.add_argument("--format", choices=("table", "json"), default="table")

    p = add("db")
    p.add_argument("action", choices=("upgrade",), help="upgrade: apply migrations")
    return parser


def _dedent(text: str) -> str:
    lines = text.splitlines()
    indents = [len(line) - len(line.lstrip()) for line in lines if line.strip()]
    cut = min(indents, default=0)
    return "\n".join(line[cut:] for line in lines).strip()


class _Sanitized(io.TextIOBase):
    """A text stream that passes on everything written without escape sequences and control
    characters (tab and newlines kept): no title from a document sets the terminal's window
    title, clears the screen or reverses text, whatever was stored before text was cleaned."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        """Write the text without terminal controls; returns the length given (as callers expect)."""
        self.stream.write(strip_controls(text))
        return len(text)

    def flush(self) -> None:
        """Flush the wrapped stream."""
        self.stream.flush()

    def isatty(self) -> bool:
        """Whether the wrapped stream is a terminal."""
        return bool(self.stream.isatty())

    def writable(self) -> bool:
        """Always: this is an output stream."""
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        """The wrapped stream's encoding."""
        return str(getattr(self.stream, "encoding", "utf-8"))


@contextmanager
def _sanitized_output() -> Iterator[None]:
    """stdout and stderr without terminal controls for the block."""
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = _Sanitized(out), _Sanitized(err)
    try:
        yield
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            sys.stdout, sys.stderr = out, err


_TERMINATED: list[int] = []  # the SIGTERMs (and, for the commands that record a run, SIGINTs) received


def _terminate(signum: int, frame: object) -> None:
    """SIGTERM ends the command like Ctrl-C does: the run is marked failed, temp files removed."""
    _TERMINATED.append(signum)
    raise SystemExit(128 + signum)


# Commands that record a run: a first SIGINT or SIGTERM lets the document in hand finish and
# records the run "interrupted" (what is stored is published); a second one stops at once.
_GRACEFUL = {"run", "import", "reextract"}


def _stop_after_document(signum: int, frame: object) -> None:
    """The first signal asks the run to stop after the document in hand; the second stops it now."""
    first = not _TERMINATED
    _TERMINATED.append(signum)
    if not first:
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)
    name = signal.Signals(signum).name
    print(f"{name}: stopping after the document in hand ({name} again to stop at once)", file=sys.stderr)


def _terminated() -> bool:
    """Whether SIGTERM came: the pipeline's `stop`, for a signal Python could not raise where it landed."""
    return bool(_TERMINATED)


def _unraisable(hook: Any) -> None:
    """sys.unraisablehook: a SIGTERM landing in a finaliser cannot stop the process there (Python
    only prints it); the run then stops after the document in hand, through `_terminated`."""
    if isinstance(hook.exc_value, SystemExit) and _TERMINATED:
        log.warning("SIGTERM: stopping after the step in hand")
        return
    sys.__unraisablehook__(hook)


_DISK_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EFBIG,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
    errno.ENOTDIR,  # a file in the way of a folder
    errno.EISDIR,
}
# Commands with their own SIGTERM handling: the scheduler stops gracefully, the server is the web module's.
_OWN_SIGTERM = {"schedule", "serve"}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `tracker` console script."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        with _sanitized_output():
            return _main(args)
    except BrokenPipeError:
        return _reader_left()


def _reader_left() -> int:
    """stdout's reader went away (`tracker ... | head`): stop quietly, as Unix tools do.

    What is still buffered goes to /dev/null, so that Python's own flush at exit does not
    print an "Exception ignored" traceback about the closed pipe.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real file behind stdout (embedding, tests)
        pass
    return EXIT_CLOSED_PIPE


def _not_reported(record: logging.LogRecord) -> bool:
    """A logging filter: drop the lines whose error the CLI prints itself (pipeline.REPORTED)."""
    return not getattr(record, "reported", False)


def _check_config_dir(args: argparse.Namespace) -> None:
    """--config (or $TRACKER_CONFIG_DIR) must name an existing folder: a typo must not mean "no settings"."""
    if args.config is not None:
        given, origin = Path(args.config), "--config"
    elif os.environ.get("TRACKER_CONFIG_DIR"):
        given, origin = Path(os.environ["TRACKER_CONFIG_DIR"]), "TRACKER_CONFIG_DIR (environment)"
    else:
        return
    if not given.exists():
        problem = "no such folder"
    elif not given.is_dir():
        problem = "not a folder"
    else:
        return
    raise ConfigError(
        f"{origin} {given}: {problem}; give the folder that holds tracker.toml and sources.toml "
        "(or leave it out for ./config and the built-in settings)"
    )


# The settings a disk or database message may tell the user to change, with their flags.
_PATH_SETTINGS = (("output_dir", "--output"), ("archive_dir", ""), ("database_url", "--database"))


def _setting(key: str, args: argparse.Namespace, settings: Settings) -> str:
    """A setting with where its value came from, for messages: "output_dir (from --output)"."""
    from tracker.config import read_toml

    flags = dict(_PATH_SETTINGS)
    given = {"--output": args.output, "--database": args.database}.get(flags.get(key, ""))
    if given is not None:
        return f"{key} (from {flags[key]})"
    env = "TRACKER_" + key.replace(".", "_").upper()
    if env in os.environ:
        return f"{key} (from {env} in the environment)"
    path = settings.config_dir / "tracker.toml"
    try:
        table: Any = read_toml(path)
        *tables, name = key.split(".")
        for part in tables:  # "serve.workers" is `workers` in the file's [serve] table
            table = table.get(part) if isinstance(table, dict) else None
        in_file = isinstance(table, dict) and name in table
    except (TrackerError, OSError):
        in_file = False
    return f"{key} (from {path})" if in_file else f"{key} (the default)"


def _with_origins(message: str, args: argparse.Namespace, settings: Settings | None) -> str:
    """The message with each path setting it tells the user to change followed by where it came from."""
    if settings is None:
        return message
    for key, flag in _PATH_SETTINGS:
        if flag:
            message = message.replace(f"{key} ({flag})", key)  # a stage's guess, made exact below
        if re.search(rf"\bset {key}\b", message):
            message = re.sub(rf"\bset {key}\b", "set " + _setting(key, args, settings).replace("\\", "\\\\"), message)
    return message


def _os_error(exc: OSError, args: argparse.Namespace, settings: Settings | None) -> str:
    """An OSError no stage named: the path, the cause, what to do and the setting that moves it."""
    from tracker.store.db import disk_error

    path = Path(str(exc.filename)) if exc.filename else None
    key = "the setting naming that folder"
    if settings is not None and path is not None:
        folders = {"output_dir": settings.output_dir, "archive_dir": settings.archive_dir}
        for name, folder in folders.items():
            if path.absolute() == folder.absolute() or folder.absolute() in path.absolute().parents:
                key = _setting(name, args, settings)
    return str(disk_error(exc, path, "writing", key))


def _check_database_path(args: argparse.Namespace, settings: Settings) -> None:
    """A SQLite database's folder must exist and the path must not be a folder: a mistyped folder is
    an error naming the setting and where it came from, not a new empty database."""
    from tracker.store.db import normalize_url

    url = normalize_url(settings.database_url)
    database = url.database
    if url.get_backend_name() != "sqlite" or database in (None, "", ":memory:") or database.startswith("file:"):
        return
    path = Path(database).expanduser()
    shown = str(path) if path.is_absolute() else f"{path} ({path.absolute()})"
    origin = _setting("database_url", args, settings)
    if path.is_dir():
        raise ConfigError(
            f"{origin}: {shown} is a folder; the database URL names the database file, "
            f"e.g. sqlite:///{path.absolute() / 'tracker.db'}"
        )
    folder = path.parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        shown_folder = str(folder) if folder.is_absolute() else f"{folder} ({folder.absolute()})"
        raise ConfigError(
            f"{origin}: the database folder {shown_folder} {problem}; correct the path, or create the folder "
            "first for a new database"
        )


def _main(args: argparse.Namespace) -> int:
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    # A one-shot command prints its errors itself (below, and in _print_report): each error once.
    # The long-running ones have only the log to tell of a failed run.
    filtered = (
        []
        if args.command in _OWN_SIGTERM
        else [h for h in logging.getLogger().handlers if type(h) is logging.StreamHandler]
    )
    for handler in filtered:
        handler.addFilter(_not_reported)
    previous = None
    _TERMINATED.clear()
    previous_int = None
    if args.command not in _OWN_SIGTERM:
        try:
            if args.command in _GRACEFUL:
                previous = signal.signal(signal.SIGTERM, _stop_after_document)
                previous_int = signal.signal(signal.SIGINT, _stop_after_document)
            else:
                previous = signal.signal(signal.SIGTERM, _terminate)
            sys.unraisablehook = _unraisable
        except ValueError:  # not the main thread (an embedding application): leave signals alone
            previous = None
    settings: Settings | None = None
    try:
        _check_config_dir(args)
        settings = load_settings(args.config)
        settings = settings.with_overrides(database_url=args.database, output_dir=args.output)
        if args.command not in WITHOUT_DATABASE:
            _check_database_path(args, settings)
        code = int(args.handler(args, settings))
        if _TERMINATED:
            # Stopped after the document in hand: the signal's exit code, as a shell expects.
            print(f"stopped by {signal.Signals(_TERMINATED[0]).name}", file=sys.stderr)
            return 128 + _TERMINATED[0]
        return code
    except TrackerError as exc:
        print(f"error: {_with_origins(mask_text(str(exc)), args, settings)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # main(): the reader left, a quiet exit
    except SystemExit as exc:
        if exc.code == 128 + signal.SIGTERM:
            print("stopped by SIGTERM", file=sys.stderr)
        raise
    except Exception as exc:  # noqa: BLE001 - exit 70, not 1: systemd must not take a crash for "a source failed"
        if isinstance(exc, OSError) and exc.errno in _DISK_ERRNOS:
            # A disk error no stage named (they raise DiskError, exit 74, themselves).
            print(f"error: {mask_text(_os_error(exc, args, settings))}", file=sys.stderr)
            return 74
        traceback.print_exc(file=sys.stderr)
        print(
            f"error: internal error ({type(exc).__name__}); please report it with the traceback above", file=sys.stderr
        )
        return EXIT_SOFTWARE
    finally:
        for handler in filtered:
            handler.removeFilter(_not_reported)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
            sys.unraisablehook = sys.__unraisablehook__
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)
