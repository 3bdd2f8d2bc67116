"""The full SIGKILL campaign: `python -m tests.benchmarks.crash_kills [--kills 200] [--backend sqlite]`.

Runs tests/faults/crash.py's campaign: each round changes three upstream feeds on a loopback
server, starts `python -m tracker run` and kills it with SIGKILL at a random moment, then
checks the database (integrity, foreign keys, one announcement per item) and every published
feed file. At the end a normal run must hold every item ever served, once. Prints the figures;
exits 1 if any problem was found.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.faults.conftest import World
from tests.faults.crash import campaign, setup_world
from tests.support.http import FixtureServer
from tracker.store.db import close_stores

POSTGRES_ADMIN = os.environ.get("TRACKER_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def main() -> int:
    """Run the campaign and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    admin = None
    name = f"tracker_crash_{uuid.uuid4().hex[:10]}"
    with tempfile.TemporaryDirectory() as tmp, FixtureServer() as server:
        root = Path(tmp)
        if args.backend == "sqlite":
            url = f"sqlite:///{root / 'tracker.db'}"
        else:
            admin = create_engine(POSTGRES_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(POSTGRES_ADMIN).set(database=name).render_as_string(hide_password=False)
        try:
            world = World(root, url, server)
            setup_world(world)
            result = campaign(world, args.kills, seed=args.seed)
        finally:
            close_stores()
            if admin is not None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    figures = {
        "backend": args.backend,
        "rounds": result.rounds,
        "killed_mid_run": result.killed,
        "finished_before_kill": result.finished,
        "killed_after_the_run_started_writing": result.runs_started,
        "uninterrupted_run_seconds": round(result.calibration, 2),
        "problems": len(result.problems),
        "seconds": round(result.seconds, 1),
    }
    print(
        f"crash campaign ({args.backend}): {result.rounds} rounds, {result.killed} SIGKILLs mid-run "
        f"({result.runs_started} after the run had started writing), {result.finished} runs finished first, "
        f"{len(result.problems)} problems; an uninterrupted run took {result.calibration:.1f} s; "
        f"{result.seconds:.0f} s in all"
    )
    for problem in result.problems[:20]:
        print(f"  problem: {problem}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 1 if result.problems else 0


if __name__ == "__main__":
    sys.exit(main())
