"""Benchmarks: `python -m tests.benchmarks [--quick] [--publish-only | --only-backfill] [--json PATH]`.

Generates the synthetic corpus (tests/benchmarks/corpus.py), then on SQLite and on PostgreSQL
measures the backfill against a raw lxml parse, re-extraction, a no-change daily run at 1x and
10x database size, publishing one change and a full rebuild, query latencies, and the peak
memory of each phase (each phase runs in its own process). `--publish-only` runs the backfill,
the loads and the publishing phases alone; `--only-backfill` the backfill alone (with
`--profile-backfill`, under cProfile, its stats written beside the databases). Prints a table, each figure beside its target where
the issues set one; --json writes every figure with the sizes it was measured at.

Not part of the pytest run (tests/benchmarks is in norecursedirs).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.corpus import CorpusSize, Manifest, generate
from tracker.config import shipped_file

REPO = Path(__file__).resolve().parents[2]
POSTGRES_ADMIN = os.environ.get("TRACKER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
QUICK = CorpusSize(posts=20, whats_new=100, announcements=200)
FULL = CorpusSize()


def _run_phase(name: str, args: dict[str, Any]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "tests.benchmarks.phases", name, json.dumps(args)]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"benchmark phase {name} failed (exit {proc.returncode})")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def _fresh_database(kind: str, work: Path, tag: str, name: str | None = None) -> str:
    if kind == "sqlite":
        db = work / "tracker.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{db}"
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = name or f"tracker_bench_{tag}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)


def _setup(kind: str, root: Path, manifest: Manifest, tag: str, pg_database: str | None = None) -> dict[str, Any]:
    work = root / kind
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    url = _fresh_database(kind, work, tag, pg_database)
    config = work / "config"
    config.mkdir()
    for name in ("extract.toml", "services.toml"):
        shutil.copy(shipped_file(name), config / name)
    daily = work / "daily"
    daily.mkdir()
    blog = daily / "blog-feed.xml"
    whats_new = daily / "whats-new-feed.xml"
    shutil.copy(manifest.daily_blog_feed, blog)
    shutil.copy(manifest.daily_whats_new_feed, whats_new)
    (config / "tracker.toml").write_text(
        f'database_url = "{url}"\noutput_dir = "{work / "feeds"}"\narchive_dir = "{work / "archive"}"\n'
        'base_url = "https://feeds.example.org/aws/"\n'
    )
    (config / "sources.toml").write_text(
        f'[[source]]\nname = "aws-news-blog"\nkind = "news-blog"\nurl = "{blog}"\n\n'
        f'[[source]]\nname = "aws-whats-new"\nkind = "whats-new"\nurl = "{whats_new}"\n'
    )
    return {"config": str(config), "daily_whats_new": str(whats_new), "database": kind}


def bench_database(
    kind: str,
    root: Path,
    manifest: Manifest,
    size: CorpusSize,
    *,
    quick: bool,
    log: Any,
    max_publish: int,
    publish_only: bool = False,
    pg_database: str | None = None,
    render_rebuild_max: int = sys.maxsize,
    only_backfill: bool = False,
    profile_backfill: bool = False,
) -> dict[str, Any]:
    """Every phase on one database (`publish_only`: the backfill, the loads and the publishing
    phases only; `only_backfill`: the backfill alone); returns {metric: {...}}."""
    tag = "quick" if quick else "full"
    args = _setup(kind, root, manifest, tag, pg_database)
    args["manifest"] = str(Path(manifest.root) / "manifest.json")
    one_x, ten_x = size.announcements, size.announcements * 10
    repeats = 30 if quick else 200
    out: dict[str, Any] = {}

    def step(label: str, name: str, **extra: Any) -> dict[str, Any]:
        log(f"[{kind}] {label} ...")
        start = time.perf_counter()
        result = _run_phase(name, {**args, **extra})
        log(f"[{kind}] {label}: {time.perf_counter() - start:.1f}s wall, peak {result['peak_rss_mb']} MB")
        # Every figure as it comes: a later phase failing loses none of them.
        log(f"[{kind}] {label}: " + json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}))
        return result

    corpus_size = {"posts": size.posts, "whats_new_items": size.whats_new, "files": len(manifest.backfill_files())}
    profile = {"profile": str(root / f"backfill-{kind}.prof")} if profile_backfill else {}
    back = step("backfill", "backfill", **profile)
    if profile:
        log(f"[{kind}] backfill profile: python -m pstats {profile['profile']}")
    out["backfill_docs_per_s"] = {
        "value": back["docs_per_s"],
        "size": {**corpus_size, "documents": back["documents"]},
        "detail": back,
    }
    out["backfill_ratio_to_lxml"] = {
        "value": back["ratio_to_lxml"],
        "size": {**corpus_size, "documents": back["documents"]},
    }
    out["backfill_parsers_ratio_to_lxml"] = {"value": back["parsers_ratio_to_lxml"], "size": {"files": back["files"]}}
    out["backfill_ratio_to_parsers"] = {
        "value": back["ratio_to_parsers"],
        "size": {"files": back["files"]},
        "target": BACKFILL_RATIO_TARGET.get(kind, ""),
    }
    out["backfill_cpu_ratio_to_parsers"] = {
        # Process CPU (with the PostgreSQL backends' where readable) over the parsers' CPU: what
        # the wall-time ratio is on an idle machine; the load average before and after the run.
        "value": back["cpu_ratio_to_parsers"],
        "size": {"files": back["files"], "load": back["load_average"]},
    }
    out["backfill_peak_rss_mb"] = {"value": back["peak_rss_mb"], "size": corpus_size, "target": "< 500"}
    if only_backfill:
        return out
    if publish_only:
        return _bench_publishing(kind, one_x, ten_x, out, step, log, max_publish, render_rebuild_max)
    rex = step("reextract", "reextract")
    out["reextract_s"] = {
        "value": rex["seconds"],
        "size": {
            "documents": rex["documents"],
            "bodies": rex["bodies"],
            "stored_again": rex["documents_changed"],
            "workers": rex["workers"],
        },
        "detail": rex,
    }
    out["reextract_restore_all_s"] = {
        "value": rex["restore_all_seconds"],
        "size": {"documents": rex["documents"], "stored_again": rex["restore_all_documents_changed"]},
    }
    out["reextract_unchanged_s"] = {"value": rex["unchanged_seconds"], "size": {"documents": rex["documents"]}}
    out["reextract_worker_peak_rss_mb"] = {"value": rex["worker_peak_rss_mb"], "size": {"workers": rex["workers"]}}
    out["reextract_peak_rss_mb"] = {"value": rex["peak_rss_mb"], "size": {"documents": rex["documents"]}}
    for label, target in (("1x", one_x), ("10x", ten_x)):
        sc = step(f"load to {target} announcements", "scale", target=target)
        at = {"announcements": sc["announcements"]}
        noop = step(f"no-change run {label}", "noop", max_publish=max_publish)
        out[f"noop_run_s_{label}"] = {"value": noop["seconds"], "size": at, "detail": noop}
        out[f"noop_peak_rss_mb_{label}"] = {"value": noop["peak_rss_mb"], "size": at}
        _publish_phase(kind, label, sc["announcements"], out, step, log, max_publish, render_rebuild_max)
        q = step(f"queries {label}", "queries", repeats=repeats)
        qsize = {**at, "limit": q["limit"], "repeats": repeats}
        for what in ("by_service", "by_event", "full_text"):
            if what in q:
                out[f"query_{what}_p50_ms_{label}"] = {"value": q[what]["p50_ms"], "size": qsize}
                out[f"query_{what}_p99_ms_{label}"] = {"value": q[what]["p99_ms"], "size": qsize}
        out["query_full_text_kind"] = {"value": q["full_text_kind"], "size": {}}
        out[f"queries_peak_rss_mb_{label}"] = {"value": q["peak_rss_mb"], "size": qsize}
    # The names: by-service p99 and peak RSS at the largest size measured.
    out["query_by_service_p99_ms"] = {**out["query_by_service_p99_ms_10x"]}
    out["peak_rss_mb"] = {
        "value": max(v["value"] for k, v in out.items() if "peak_rss_mb" in k and isinstance(v["value"], (int, float))),
        "size": {"announcements": ten_x, **corpus_size},
    }
    return out


# Issue 17: the backfill at most this many times the required parsers' own parse time.
BACKFILL_RATIO_TARGET = {"sqlite": "<= 5", "postgresql": "<= 8"}

# Issue 17: publishing one change < 1 s at 100,000 announcements, and within 1.5x of that at 10x.
PUBLISH_TARGET_S = 1.0
PUBLISH_GROWTH_TARGET = 1.5


def _publish_phase(
    kind: str,
    label: str,
    stored: int,
    out: dict[str, Any],
    step: Any,
    log: Any,
    max_publish: int,
    render_rebuild_max: int,
) -> None:
    """A full rebuild (above `render_rebuild_max` announcements: placed, nothing rendered), then
    one What's New item edited and the run that publishes it."""
    at = {"announcements": stored}
    if stored > max_publish:
        # A full rebuild renders every announcement (archive pages): half an hour at 1,000,000.
        log(f"[{kind}] publishing at {stored} announcements skipped (--max-publish {max_publish})")
        out[f"publish_full_rebuild_s_{label}"] = {"value": "not measured", "size": at}
        return
    rendered = stored <= render_rebuild_max
    pub = step(
        f"publish one change {label}",
        "publish_change",
        edit=1 if label == "1x" else 2,
        render_rebuild=rendered,
    )
    suffix = "" if label == "1x" else "_10x"
    out[f"publish_one_change_files_written{suffix}"] = {
        "value": pub["files_written"],
        "size": at,
        "target": "only changed feeds",
        **({"detail": pub} if label == "1x" else {}),
    }
    out[f"publish_one_change_records_read_{label}"] = {"value": pub["records_read"], "size": at}
    out[f"publish_one_change_run_s_{label}"] = {
        "value": pub["run_seconds"],
        "size": at,
        "target": f"< {PUBLISH_TARGET_S:g} s" if label == "1x" else f"<= {PUBLISH_GROWTH_TARGET:g} x 1x",
    }
    out[f"publish_one_change_publish_s_{label}"] = {"value": pub["publish_seconds"], "size": at}
    if label != "1x" and isinstance(out.get("publish_one_change_run_s_1x", {}).get("value"), float):
        ratio = pub["run_seconds"] / out["publish_one_change_run_s_1x"]["value"]
        out["publish_one_change_run_10x_over_1x"] = {
            "value": ratio,
            "size": at,
            "target": f"<= {PUBLISH_GROWTH_TARGET:g}",
        }
    if rendered:
        out[f"publish_full_rebuild_s_{label}"] = {
            "value": pub["full_rebuild_seconds"],
            "size": {**at, "files": pub["full_rebuild_files"]},
        }
    else:
        out[f"publish_full_rebuild_s_{label}"] = {"value": "not measured (placed only)", "size": at}
        out[f"publish_full_placement_s_{label}"] = {"value": pub["full_rebuild_seconds"], "size": at}
    for key in ("run_cpu_seconds", "publish_cpu_seconds", "server_cpu_seconds"):
        if pub.get(key) is not None:
            out[f"publish_one_change_{key.removesuffix('_seconds')}_s_{label}"] = {"value": pub[key], "size": at}
    out[f"publish_one_change_loadavg_{label}"] = {
        "value": " / ".join(f"{x:.1f}" for x in pub["loadavg_before"]),
        "size": at,
    }
    out[f"publish_peak_rss_mb_{label}"] = {"value": pub["peak_rss_mb"], "size": at}


def _bench_publishing(
    kind: str,
    one_x: int,
    ten_x: int,
    out: dict[str, Any],
    step: Any,
    log: Any,
    max_publish: int,
    render_rebuild_max: int,
) -> dict[str, Any]:
    """The publishing phases alone, at 1x and 10x database size."""
    for label, target in (("1x", one_x), ("10x", ten_x)):
        sc = step(f"load to {target} announcements", "scale", target=target)
        _publish_phase(kind, label, sc["announcements"], out, step, log, max_publish, render_rebuild_max)
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if value < 100 else f"{value:.0f}"
    return str(value)


def print_table(results: dict[str, Any], databases: list[str]) -> None:
    """Metrics as rows, databases as columns, with the size each was measured at."""
    metrics: list[str] = []
    for db in databases:
        for key in results[db]:
            if key not in metrics:
                metrics.append(key)
    header = ["metric", *databases, "target", "measured at"]
    rows = []
    for key in metrics:
        cells = [_fmt(results[db].get(key, {}).get("value", "-")) for db in databases]
        first = next((results[db][key] for db in databases if key in results[db]), {})
        size = ", ".join(f"{k}={v}" for k, v in first.get("size", {}).items())
        targets = {db: results[db][key]["target"] for db in databases if results[db].get(key, {}).get("target")}
        # One target for every database, or each database's own (the backfill's ratio).
        target = (
            next(iter(targets.values()))
            if len(set(targets.values())) <= 1 and targets
            else ", ".join(f"{db} {t}" for db, t in targets.items())
        )
        rows.append([key, *cells, target, size])
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def main(argv: list[str] | None = None) -> int:
    """Generate the corpus, run every phase on each database, print the table, write the JSON."""
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: finishes within a minute")
    parser.add_argument("--scale", type=float, help="full sizes times this factor (e.g. 0.1)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write every figure as JSON")
    parser.add_argument(
        "--db", action="append", choices=("sqlite", "postgresql"), help="only this database (repeatable)"
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(os.environ.get("TMPDIR", "/tmp")) / "tracker-bench",
        help="scratch folder for the corpus, databases and feeds",
    )
    parser.add_argument("--seed", type=int, default=FULL.seed)
    parser.add_argument("--announcements", type=int, metavar="N", help="database size 1x (10x is ten times this)")
    parser.add_argument(
        "--pg-database",
        metavar="NAME",
        help="the PostgreSQL database to (re)create (default tracker_bench_full or _quick; "
        "give another when others run benchmarks on the same server)",
    )
    parser.add_argument(
        "--publish-only",
        action="store_true",
        help="only the backfill, the loads to 1x and 10x and the publishing phases (no re-extraction, "
        "no-change runs or queries)",
    )
    parser.add_argument(
        "--only-backfill", action="store_true", help="measure only the backfill (its ratio to the parsers and memory)"
    )
    parser.add_argument(
        "--profile-backfill",
        action="store_true",
        help="run the backfill under cProfile and write its stats next to the databases (timings include its overhead)",
    )
    parser.add_argument(
        "--max-publish",
        type=int,
        default=200_000,
        metavar="N",
        help="skip the publishing phases above N announcements (default 200000)",
    )
    parser.add_argument(
        "--render-rebuild-max",
        type=int,
        default=sys.maxsize,
        metavar="N",
        help="above N announcements, the full publish before the one-change run places every entry "
        "and records the published state but renders no feed document (its time is then not a "
        "rebuild's); default: always render",
    )
    args = parser.parse_args(argv)
    size = QUICK if args.quick else (FULL.scaled(args.scale) if args.scale else FULL)
    size = CorpusSize(size.posts, size.whats_new, args.announcements or size.announcements, args.seed)
    databases = args.db or ["sqlite", "postgresql"]
    mode = "quick" if args.quick else (f"scale-{args.scale}" if args.scale else "full")
    root = args.work / mode

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.perf_counter()
    corpus_dir = args.work / f"corpus-{size.posts}-{size.whats_new}-{size.seed}"
    log(f"generating the corpus in {corpus_dir} ...")
    manifest = generate(corpus_dir, size)
    results: dict[str, Any] = {
        "mode": mode,
        "sizes": {
            "posts": size.posts,
            "whats_new_items": size.whats_new,
            "announcements_1x": size.announcements,
            "announcements_10x": size.announcements * 10,
            "seed": size.seed,
            "corpus_mb": round(manifest.bytes_total / 1e6, 1),
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
    }
    for db in databases:
        results[db] = bench_database(
            db,
            root,
            manifest,
            size,
            quick=args.quick,
            log=log,
            max_publish=args.max_publish,
            publish_only=args.publish_only,
            pg_database=args.pg_database,
            render_rebuild_max=args.render_rebuild_max,
            only_backfill=args.only_backfill,
            profile_backfill=args.profile_backfill,
        )
        if args.json:  # each database's figures kept as soon as they are measured
            args.json.write_text(json.dumps(results, indent=2, default=str))
    results["total_seconds"] = time.perf_counter() - started
    print(f"\n{mode}: {json.dumps(results['sizes'])}  ({results['total_seconds']:.0f}s)")
    print_table(results, databases)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
