"""Name resolution cost: `python -m tests.benchmarks.names [--runs N] [--database URL]`.

On a database holding the shipped taxonomy (as every run syncs it), prints per spelling the
median time `tracker.store.names` takes to resolve it in a warm process, and the median
start-to-exit time of `tracker announcements --service ...` as a fresh process (issue 15's
start-up target is 0.5 s for `--service S3`). An exact spelling is one indexed query; a
spelling only the name key matches ("AWS S3") reads every service and alias; an unknown name
also loads the taxonomy for its suggestions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("S3", "amazon-s3", "AWS S3", "Amazon Lambda", "AWS EC2", "Lamda", "zzzz")
EVENTS = ("aws-reinvent-2023", "reinvent 2023", "reinvnt 2023")


def _prepare(url: str) -> None:
    from tracker.normalize.taxonomy import Taxonomy
    from tracker.store.announcements import get_or_create_event, sync_services
    from tracker.store.db import open_store, unit_of_work

    with unit_of_work(open_store(url)) as session:
        sync_services(session, Taxonomy.load().services)
        get_or_create_event(session, "aws-reinvent-2023", "AWS re:Invent 2023", 2023)


def _in_process(url: str, runs: int) -> list[tuple[str, float, str]]:
    from tracker.store.db import open_store, unit_of_work
    from tracker.store.names import UnknownNameError, resolve_event, resolve_service

    factory = open_store(url)
    rows = []
    for kind, names, resolve in (("service", SERVICES, resolve_service), ("event", EVENTS, resolve_event)):
        for name in names:
            times, outcome = [], ""
            for _ in range(runs):
                with unit_of_work(factory) as session:
                    start = time.perf_counter()
                    try:
                        outcome = ", ".join(resolve(session, name).slugs)
                    except UnknownNameError as exc:
                        outcome = f"unknown; suggests {', '.join(exc.suggestions) or 'nothing'}"
                    times.append(time.perf_counter() - start)
            rows.append((f"{kind} {name!r}", statistics.median(times) * 1000, outcome))
    return rows


def _cli(url: str, runs: int, service: str) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times, code = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "tracker", "--database", url, "announcements", "--service", service],
            capture_output=True,
            env=env,
            cwd=REPO,
        )
        times.append(time.perf_counter() - start)
        code = proc.returncode
    return statistics.median(times), code


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database", help="a database URL (default: a new SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        url = args.database or f"sqlite:///{Path(work) / 'tracker.db'}"
        _prepare(url)
        print(f"{'spelling':32} {'median ms':>10}  resolves to")
        for label, ms, outcome in _in_process(url, args.runs):
            print(f"{label:32} {ms:10.1f}  {outcome}")
        print()
        print(f"{'tracker announcements --service':32} {'median s':>10}  exit")
        for service in ("S3", "AWS S3", "Lamda"):
            seconds, code = _cli(url, args.runs, service)
            print(f"{service!r:32} {seconds:10.2f}  {code}")


if __name__ == "__main__":
    main()
