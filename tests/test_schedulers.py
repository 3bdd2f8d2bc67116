"""Two `tracker schedule` processes on one database: each slot runs once, and when the one
running a slot is killed (SIGKILL, mid-run) the other completes it at its next takeover tick.

Real processes, a real PostgreSQL database (and a SQLite file shared by two processes), sources
on a loopback HTTP server; the runs are counted in the database.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.faults.conftest import GOOD_ITEMS, Item, World, make_world, whats_new_feed  # noqa: F401
from tests.support.http import Reply
from tracker.store.db import open_store, unit_of_work
from tracker.store.queries import last_runs

REPO = Path(__file__).resolve().parent.parent
FEED = "application/rss+xml"
BACKENDS = ["sqlite", "postgresql"]


def _wait_for(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.2)


def _schedule(world: World, log: Path, *args: str, grace: int | None = None) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    if grace is not None:
        env["TRACKER_SCHEDULE_MISFIRE_GRACE_SECONDS"] = str(grace)
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(world.config), "schedule", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def _runs_by_slot(world: World) -> dict[datetime | None, list[str]]:
    """Every recorded run's status, by the slot it was for (None: not a scheduled run)."""
    with unit_of_work(open_store(world.database_url)) as session:
        runs = last_runs(session, limit=100_000)
    by_slot: dict[datetime | None, list[str]] = defaultdict(list)
    for run in reversed(runs):  # oldest first
        by_slot[run.slot].append(str(run.status))
    return dict(by_slot)


def _stop(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        assert process.wait(timeout=60) == 0


def _kill_leftovers(*processes: subprocess.Popen[bytes]) -> None:
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_schedulers_run_each_slot_once(backend: str, make_world: Callable[[str], World], tmp_path: Path) -> None:
    world = make_world(backend)
    world.write_settings(timeout=10.0, max_seconds=10.0)
    world.sources()
    world.server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type=FEED)
    world.server.route("/bad/feed.xml", whats_new_feed([Item(5, "bad")]), content_type=FEED)
    # A slot every 4 seconds; each scheduler also checks every second for a slot nobody finished,
    # so both try every slot many times over: only the "already done" check keeps it to one run.
    args = ("--cron", "*/4 * * * * *", "--takeover", "1")
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    processes = [_schedule(world, log, *args) for log in logs]
    try:

        def completed() -> int:
            return sum("ok" in statuses for slot, statuses in _runs_by_slot(world).items() if slot is not None)

        _wait_for(lambda: completed() >= 4, timeout=240)
        time.sleep(2.5)  # more ticks on both: a finished slot must not run again
        _stop(*processes)
    finally:
        _kill_leftovers(*processes)
    for log in logs:
        assert "Ctrl-C to stop" in log.read_text(errors="replace"), "a scheduler did not start"
    runs = _runs_by_slot(world)
    # What the schedulers said, in any failure's message: a flake under load is then explained.
    said = "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}" for log in logs)
    assert None not in runs, "a run was recorded without its slot"
    assert len(runs) >= 4
    latest = max(slot for slot in runs if slot is not None)
    for slot, statuses in runs.items():
        assert slot is not None and slot.second % 4 == 0 and slot.microsecond == 0, f"{slot} is not a cron time"
        finished = [s for s in statuses if s in ("ok", "failed")]
        # SIGTERM may interrupt the last slot's run; every other slot ran exactly once, and well.
        assert finished == ["ok"] or (slot == latest and not finished), f"slot {slot}: {statuses}\n{said}"
        assert set(statuses) <= {"ok", "interrupted"}, f"slot {slot}: {statuses}\n{said}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_killed_schedulers_slot_is_taken_over_once(
    backend: str, make_world: Callable[[str], World], tmp_path: Path
) -> None:
    world = make_world(backend)
    world.write_settings(timeout=60.0, max_seconds=60.0)
    world.sources()
    server = world.server
    server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type=FEED)
    # The first answer is slow (the first scheduler is killed while it waits); later ones are quick.
    bad = whats_new_feed([Item(5, "bad"), Item(6, "bad")])
    server.script("/bad/feed.xml", [Reply(body=bad, content_type=FEED, delay=45.0), Reply(body=bad, content_type=FEED)])
    # One daily slot, today's midnight, missed by less than the grace: the schedulers run it on start.
    # The test takes a minute or two and must not cross midnight (UTC), where the slot would change.
    now = datetime.now(UTC)
    to_midnight = ((now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0) - now).total_seconds()
    if to_midnight < 240:
        time.sleep(to_midnight + 5)
    slot = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    args = ("--cron", "0 0 * * *", "--takeover", "1")
    first_log, second_log = tmp_path / "first.log", tmp_path / "second.log"
    first = _schedule(world, first_log, *args, grace=90_000)
    second: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(lambda: server.count("/bad/feed.xml") >= 1)  # the first is mid-run, holding the lock
        second = _schedule(world, second_log, *args, grace=90_000)
        _wait_for(lambda: "Ctrl-C to stop" in second_log.read_text(errors="replace"))
        time.sleep(3)  # the second ticks while the first holds the lock: it must not run the slot too
        assert _runs_by_slot(world) == {slot: ["running"]}
        assert server.count("/bad/feed.xml") == 1

        first.kill()  # SIGKILL: no chance to record anything; the lock dies with the process
        assert first.wait(timeout=30) == -signal.SIGKILL
        _wait_for(lambda: "ok" in _runs_by_slot(world).get(slot, []), timeout=60)
        time.sleep(3)  # more ticks: the slot is done and is not run again
        _stop(second)
    finally:
        _kill_leftovers(first, *([second] if second else []))
    assert _runs_by_slot(world) == {slot: ["abandoned", "ok"]}
    assert server.count("/bad/feed.xml") == 2
    assert "taking over the run of" in second_log.read_text(errors="replace")
    assert Item(6, "bad").url in world.snapshot().announcements
    status = world.status()["runs"]
    abandoned = [r for r in status if r["status"] == "abandoned"]  # type: ignore[union-attr, index]
    assert abandoned and "killed" in str(abandoned[0]["error"])  # type: ignore[index]
