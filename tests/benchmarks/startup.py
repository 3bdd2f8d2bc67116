"""Start-up benchmark: `python -m tests.benchmarks.startup [--runs 15] [--tree DIR]... [--postgres] [--json PATH]`.

Builds a small SQLite database (two fixture documents imported: six announcements, two of them
Amazon S3), then times `tracker --help` and `tracker announcements --service S3` as real
processes, start to exit, and prints the median beside the target of issue 15 (0.2 s and 0.5 s
on the 2-core machine). --postgres also times the query on a fresh PostgreSQL database. The
floor line times `python -c "import sqlalchemy"` the same way: the part of a query's start that
no change to tracker removes while its reads use SQLAlchemy Core (tracker.store.queries: the
queries no longer import sqlalchemy.orm, which cost about another 0.1 s of CPU).

Each command runs as `<python> -m tracker ...` with PYTHONPATH set to --tree (default: this
checkout); give --tree twice, e.g. an older checkout (`git archive <commit> tracker | tar -x -C
DIR`) and this one, for before/after figures taken in turn under the same load. Bytecode is cached in a temporary folder and one warm-up
run precedes the timed ones: an installed package has its .pyc files (pip compiles them), and
PYTHONDONTWRITEBYTECODE must not turn every start into a compile. The load average is printed
with the figures because the machine is shared. Not part of the pytest run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
# Two documents: a recap with two Amazon S3 launches, a What's New feed with four others.
DOCUMENTS = (FIXTURES / "link" / "recap-reinvent-2031-storage.md", FIXTURES / "extract" / "whats-new-feed.xml")
POSTGRES_ADMIN = os.environ.get("TRACKER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
TARGETS = {"help": 0.2, "query": 0.5}


def _environment(tree: Path, pycache: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(tree)
    env["PYTHONPYCACHEPREFIX"] = str(pycache)  # bytecode cached outside the checkout
    return env


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU (user + system) seconds of one process, start to exit."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"{' '.join(cmd[2:])} failed (exit {proc.returncode})")
    return wall, cpu, proc


def _fresh_postgres(tag: str) -> tuple[str, Any]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"tracker_bench_startup_{tag}"
    admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False), drop


def _config(work: Path, database_url: str) -> Path:
    config = work / "config"
    config.mkdir(parents=True)
    (config / "tracker.toml").write_text(
        f"database_url = {json.dumps(database_url)}\noutput_dir = {json.dumps(str(work / 'feeds'))}\n"
        f"archive_dir = {json.dumps(str(work / 'archive'))}\n"
    )
    return config


def measure(python: str, trees: list[Path], runs: int, *, postgres: bool) -> dict[str, dict[str, Any]]:
    """Median, min and max wall seconds (and median CPU seconds) of each command on each tree."""
    with tempfile.TemporaryDirectory(prefix="tracker-startup-") as tmp:
        root = Path(tmp)
        drops: list[Any] = []
        # (target, label, command, cwd, environment)
        commands: list[tuple[str | None, str, list[str], Path, dict[str, str]]] = []
        try:
            for n, tree in enumerate(trees):
                tag = f" [{tree.name}]" if len(trees) > 1 else ""
                env = _environment(tree, root / f"pycache-{n}")
                databases = [("sqlite", f"sqlite:///{root / f'sqlite-{n}' / 'tracker.db'}")]
                if postgres:
                    url, drop = _fresh_postgres(f"{os.getpid()}_{n}")
                    drops.append(drop)
                    databases.append(("postgresql", url))
                commands.append(("help", f"tracker --help{tag}", [python, "-m", "tracker", "--help"], root, env))
                for kind, url in databases:
                    work = root / f"{kind}-{n}"
                    config = _config(work, url)
                    base = [python, "-m", "tracker", "--config", str(config)]
                    _, _, done = _run([*base, "import", *map(str, DOCUMENTS)], env, work)
                    summary = done.stderr.strip().splitlines()
                    print(f"[{kind}{tag}] {summary[-1] if summary else 'imported'}", file=sys.stderr, flush=True)
                    commands.append(
                        (
                            "query",
                            f"tracker announcements --service S3 ({kind}){tag}",
                            [*base, "announcements", "--service", "S3"],
                            work,
                            env,
                        )
                    )
            # What no change to tracker can remove: the interpreter, and importing the SQLAlchemy Core it reads with.
            commands.append(
                (
                    None,
                    "floor: python -c 'import sqlalchemy'",
                    [python, "-c", "import sqlalchemy"],
                    root,
                    _environment(trees[0], root / "pycache-0"),
                )
            )
            # Warm-up: writes the bytecode caches.
            outputs = {label: _run(cmd, env, cwd)[2] for _, label, cmd, cwd, env in commands}
            walls: dict[str, list[float]] = {label: [] for _, label, _, _, _ in commands}
            cpus: dict[str, list[float]] = {label: [] for _, label, _, _, _ in commands}
            for _ in range(runs):
                # Round robin: a change in the machine's load falls on every command alike.
                for _, label, cmd, cwd, env in commands:
                    wall, cpu, _ = _run(cmd, env, cwd)
                    walls[label].append(wall)
                    cpus[label].append(cpu)
            return {
                label: {
                    "median_s": statistics.median(walls[label]),
                    "min_s": min(walls[label]),
                    "max_s": max(walls[label]),
                    "cpu_median_s": statistics.median(cpus[label]),
                    "target_s": TARGETS[target] if target else None,
                    "runs": runs,
                    "output": (outputs[label].stdout + outputs[label].stderr).strip().splitlines()[-1:],
                }
                for target, label, _, _, _ in commands
            }
        finally:
            for drop in drops:
                drop()


def main() -> int:
    """Time the commands and print each median beside its target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command (default 15)")
    parser.add_argument(
        "--tree",
        type=Path,
        action="append",
        help="folder holding the tracker package to time (repeatable: the trees are timed in turn; "
        "default: this checkout)",
    )
    parser.add_argument("--python", default=sys.executable, help="interpreter with tracker's dependencies")
    parser.add_argument("--postgres", action="store_true", help=f"also time the query on PostgreSQL ({POSTGRES_ADMIN})")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    trees = [tree.resolve() for tree in args.tree or [REPO]]
    results = measure(args.python, trees, args.runs, postgres=args.postgres)
    load_after = os.getloadavg()
    print(
        f"tracker start-up, {', '.join(map(str, trees))}, {args.runs} runs each, {os.cpu_count()} cores, "
        f"load average {load_before[0]:.2f} before / {load_after[0]:.2f} after"
    )
    print(f"{'command':<60} {'median':>8} {'min':>7} {'max':>7} {'cpu':>7} {'target':>7}")
    for label, r in results.items():
        target = (
            ""
            if r["target_s"] is None
            else f"{r['target_s']:6.1f}s  " + ("ok" if r["median_s"] <= r["target_s"] else "OVER")
        )
        print(
            f"{label:<60} {r['median_s']:7.3f}s {r['min_s']:6.3f}s {r['max_s']:6.3f}s {r['cpu_median_s']:6.3f}s {target}"
        )
    if args.json:
        args.json.write_text(json.dumps({"load_average": [load_before, load_after], "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
