"""Full-text query latency at scale: `python -m tests.benchmarks.fulltext [--announcements N] [--db sqlite|postgresql]`.

Builds a store of N synthetic announcements (default 1,000,000; the generator of
tests/benchmarks/corpus.py, whose words repeat: every noun is in about one title of 22, so
most searches match tens of thousands of rows) once per size under --work, kept between runs
(--rebuild builds it again), then times `query_announcements(search=...)` for a page of 50
with and without the API's filters (service, event, since/until, region, a cursor): common
words, a common prefix, a rare word, a word nothing has, common words that rarely meet, and
each combined with a filter. Prints p50 / p99 per query shape, the overall p99 and the target
(p99 < 20 ms at 1,000,000). Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN = os.environ.get("TRACKER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGET_P99_MS = 20.0
LIMIT = 50


def _database_url(kind: str, work: Path, count: int, *, fresh: bool) -> tuple[str, bool]:
    """The URL of the store for this size, and whether it must be built."""
    if kind == "sqlite":
        db = work / f"fulltext-{count}.db"
        if fresh:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{db}", not db.exists()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tracker_bench_fulltext_{count}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is not None
        if fresh or not exists:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
            exists = False
    admin.dispose()
    return make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False), not exists


def build(url: str, count: int, work: Path) -> float:
    """Migrate, store the shipped taxonomy and `count` synthetic announcements; returns seconds."""
    from tests.benchmarks.phases import scale
    from tracker.normalize.taxonomy import Taxonomy
    from tracker.store.announcements import sync_services
    from tracker.store.db import close_stores, open_store, unit_of_work

    start = time.perf_counter()
    with unit_of_work(open_store(url)) as session:
        sync_services(session, Taxonomy.load().services)
    close_stores()
    config = work / f"config-{count}-{url.split(':')[0]}"
    config.mkdir(parents=True, exist_ok=True)
    (config / "tracker.toml").write_text(f'database_url = "{url}"\n')
    scale({"config": str(config), "target": count})
    close_stores()
    return time.perf_counter() - start


def shapes(session: Any) -> list[tuple[str, dict[str, Any]]]:
    """The query shapes: (label, query_announcements keyword arguments)."""
    from sqlalchemy import func, select

    from tracker.store.tables import ANNOUNCEMENT_SERVICES, EVENTS, SERVICES

    ranked = session.execute(
        select(SERVICES.c.slug, func.count())
        .join(ANNOUNCEMENT_SERVICES, ANNOUNCEMENT_SERVICES.c.service_id == SERVICES.c.id)
        .group_by(SERVICES.c.slug)
        .order_by(func.count().desc(), SERVICES.c.slug)
    ).all()
    common_service, rare_service = ranked[0][0], ranked[-1][0]
    event = session.scalar(select(EVENTS.c.slug).order_by(EVENTS.c.slug.desc()).limit(1))
    mid = datetime(2021, 6, 1, tzinfo=UTC)
    return [
        ("common word", {"search": "snapshots"}),
        ("two common words", {"search": "vector search"}),
        ("hyphenated words", {"search": "zero-ETL"}),
        ("common prefix", {"search": "replic"}),
        ("short prefix", {"search": "sn"}),
        ("one-letter prefix", {"search": "l"}),
        ("very common prefix", {"search": "serv"}),
        ("words that rarely meet", {"search": "snapshots failover"}),
        ("rare word", {"search": rare_service.replace("-", " ")}),
        ("no match", {"search": "nonexistentword"}),
        ("common word, oldest first", {"search": "snapshots", "order": "asc"}),
        ("common word + common service", {"search": "snapshots", "service": common_service}),
        ("common word + rare service", {"search": "snapshots", "service": rare_service}),
        ("common word + event", {"search": "snapshots", "event": event}),
        ("common word + one month", {"search": "snapshots", "since": mid, "until": datetime(2021, 7, 1, tzinfo=UTC)}),
        ("common word + until", {"search": "warm pools", "until": mid}),
        ("common word + cursor", {"search": "snapshots", "after": (mid, 1)}),
        ("rare word + common service", {"search": "nonexistentword", "service": common_service}),
    ]


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return {"p50_ms": statistics.median(ordered) * 1000, "p99_ms": p99 * 1000, "max_ms": ordered[-1] * 1000}


def measure(url: str, repeats: int) -> dict[str, Any]:
    """p50/p99 of each shape (warm: each is run once first), and over every sample."""
    from tracker.store.db import open_store, unit_of_work
    from tracker.store.queries import query_announcements

    factory = open_store(url)
    with unit_of_work(factory) as session:
        cases = shapes(session)
    results: dict[str, Any] = {}
    everything: list[float] = []
    for label, kwargs in cases:
        run: Callable[[Any], Any] = lambda s, kw=kwargs: query_announcements(s, limit=LIMIT + 1, **kw)  # noqa: E731
        with unit_of_work(factory) as session:
            found = len(run(session))
        samples = []
        for _ in range(repeats):
            with unit_of_work(factory) as session:
                start = time.perf_counter()
                run(session)
                samples.append(time.perf_counter() - start)
        everything.extend(samples)
        results[label] = {**_percentiles(samples), "results": found}
    results["all queries"] = {**_percentiles(everything), "results": None}
    return results


def main(argv: list[str] | None = None) -> int:
    """Build (once) and measure; print a table with the target."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.fulltext", description=__doc__.split("\n\n")[0])
    parser.add_argument("--announcements", type=int, default=1_000_000, metavar="N")
    parser.add_argument("--db", action="append", choices=("sqlite", "postgresql"), help="only this database")
    parser.add_argument("--repeats", type=int, default=50, help="timed runs per query shape (default 50)")
    parser.add_argument("--rebuild", action="store_true", help="build the store again even if it exists")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--work", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "tracker-bench" / "fulltext"
    )
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    out: dict[str, Any] = {"announcements": args.announcements, "limit": LIMIT, "repeats": args.repeats}
    for kind in args.db or ["sqlite", "postgresql"]:
        url, missing = _database_url(kind, args.work, args.announcements, fresh=args.rebuild)
        if missing:
            print(f"[{kind}] building {args.announcements} announcements ...", file=sys.stderr, flush=True)
            print(f"[{kind}] built in {build(url, args.announcements, args.work):.0f}s", file=sys.stderr, flush=True)
        out[kind] = measure(url, args.repeats)
        out[kind]["load_average"] = os.getloadavg()
    print(f"\nfull-text queries, a page of {LIMIT}, {args.announcements:,} announcements, {args.repeats} runs each")
    kinds = [k for k in ("sqlite", "postgresql") if k in out]
    print(f"{'query':32} " + " ".join(f"{k + ' p50/p99 ms':>22} {'rows':>5}" for k in kinds))
    for label in out[kinds[0]]:
        if label == "load_average":
            continue
        cells = []
        for k in kinds:
            r = out[k][label]
            rows = "" if r["results"] is None else str(r["results"])
            cells.append(f"{r['p50_ms']:>10.1f} / {r['p99_ms']:>8.1f} {rows:>5}")
        print(f"{label:32} " + " ".join(cells))
    for k in kinds:
        p99 = out[k]["all queries"]["p99_ms"]
        verdict = "met" if p99 < TARGET_P99_MS else "missed"
        load = ", ".join(f"{x:.2f}" for x in out[k]["load_average"])
        print(f"{k}: p99 over every query {p99:.1f} ms; target < {TARGET_P99_MS:.0f} ms: {verdict} (load {load})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
