"""`tracker schedule`: cron parsing, coalesced missed runs, a log line per run, clean SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.faults.conftest import GOOD_ITEMS, Item, World, make_world, whats_new_feed  # noqa: F401
from tests.support.http import Reply
from tracker.config import load_settings
from tracker.errors import ConfigError
from tracker.schedule import JOB_ID, build_scheduler, parse_cron
from tracker.store.db import close_stores

REPO = Path(__file__).resolve().parent.parent
FEED = "application/rss+xml"


def _wait_for(condition: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.1)


def _runs(world: World) -> list[dict[str, object]]:
    return world.status()["runs"]  # type: ignore[return-value]


def test_cron_weekdays_follow_cron_not_python() -> None:
    sunday = parse_cron("0 6 * * 0", "UTC")
    nxt = sunday.get_next_fire_time(None, datetime(2030, 1, 1, tzinfo=UTC))  # a Tuesday
    assert nxt is not None and nxt.weekday() == 6 and nxt.hour == 6
    weekdays = parse_cron("30 5 * * 1-5", "UTC")
    nxt = weekdays.get_next_fire_time(None, datetime(2030, 1, 5, 12, tzinfo=UTC))  # a Saturday
    assert nxt is not None and nxt.weekday() == 0 and (nxt.hour, nxt.minute) == (5, 30)
    seconds = parse_cron("*/15 * * * * *", "UTC")
    nxt = seconds.get_next_fire_time(None, datetime(2030, 1, 1, 0, 0, 1, tzinfo=UTC))
    assert nxt == datetime(2030, 1, 1, 0, 0, 15, tzinfo=UTC)


def test_current_slot_is_the_latest_cron_time_within_the_grace() -> None:
    from tracker.schedule import current_slot

    daily = parse_cron("30 6 * * *", "UTC")
    now = datetime(2030, 1, 2, 7, 10, 5, 123456, tzinfo=UTC)
    assert current_slot(daily, now, 3600) == datetime(2030, 1, 2, 6, 30, tzinfo=UTC)
    assert current_slot(daily, now, 600) is None  # 40 minutes late: beyond a 10-minute grace
    assert current_slot(daily, datetime(2030, 1, 2, 6, 30, tzinfo=UTC), 1) == datetime(2030, 1, 2, 6, 30, tzinfo=UTC)
    # Just before today's slot, yesterday's is the current one (if the grace reaches back that far).
    assert current_slot(daily, datetime(2030, 1, 2, 6, 29, 59, tzinfo=UTC), 90_000) == datetime(
        2030, 1, 1, 6, 30, tzinfo=UTC
    )
    every_seconds = parse_cron("*/15 * * * * *", "UTC")
    assert current_slot(every_seconds, now, 3600) == datetime(2030, 1, 2, 7, 10, 0, tzinfo=UTC)
    berlin = parse_cron("0 6 * * *", "Europe/Berlin")  # 06:00 in Berlin is 05:00 UTC in winter
    slot = current_slot(berlin, now, 86_400)
    assert slot is not None and slot.astimezone(UTC) == datetime(2030, 1, 2, 5, 0, tzinfo=UTC)


def test_next_run_is_the_next_cron_time(tmp_path: Path) -> None:
    from tracker.schedule import next_run

    settings = load_settings(tmp_path).with_overrides(schedule_cron="30 6 * * *", schedule_timezone="UTC")
    assert next_run(settings, datetime(2030, 1, 1, 7, tzinfo=UTC)) == datetime(2030, 1, 2, 6, 30, tzinfo=UTC)


@pytest.mark.parametrize("expression", ["0 6 * *", "61 6 * * *", "0 6 * * * * *"])
def test_bad_cron_names_the_setting(expression: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_cron(expression, "UTC")
    assert exc.value.key == "schedule.cron"


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_missed_runs_are_coalesced_into_one(backend: str, make_world: Callable[[str], World], tmp_path: Path) -> None:
    """The job store keeps the next run time; three missed hourly runs give one run on start."""
    world = make_world(backend)
    feed = tmp_path / "feed.xml"
    feed.write_text(whats_new_feed(GOOD_ITEMS), encoding="utf-8")
    world.sources(good_url=str(feed), bad_url=str(feed))
    settings = load_settings(world.config).with_overrides(schedule_cron="0 * * * *")
    # Not across the top of an hour: there the next hourly run is due in earnest, and a second
    # run would be right (a full suite once met 23:00:00 two seconds after the missed run).
    now = datetime.now(UTC)
    if now.minute == 59:
        time.sleep(65 - now.second)
    first = build_scheduler(settings, blocking=False)
    first.start(paused=True)
    # As if the machine had slept (or the scheduler had been down) for three and a half hours.
    first.modify_job(JOB_ID, next_run_time=datetime.now(UTC) - timedelta(hours=3, minutes=30))
    first.shutdown(wait=True)  # and it must not consume the due run as it stops

    second = build_scheduler(settings, blocking=False)
    second.start()
    try:
        _wait_for(lambda: any(r["finished_at"] for r in _runs(world)))
        time.sleep(1.5)  # room for the missed runs that must not happen
        job = second.get_job(JOB_ID)
        assert job is not None and job.next_run_time > datetime.now(UTC)
    finally:
        second.shutdown(wait=True)
        close_stores()
    runs = _runs(world)
    assert len(runs) == 1 and runs[0]["status"] == "ok"


def _schedule(world: World, log: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tracker", "--config", str(world.config), "schedule", *args],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )


def test_scheduler_runs_logs_and_stops_cleanly_on_sigterm(make_world: Callable[[str], World], tmp_path: Path) -> None:
    # SQLite only: the job store on PostgreSQL is covered by the coalescing test.
    world = make_world("sqlite")
    world.write_settings(timeout=10.0, max_seconds=10.0)
    world.sources()
    server = world.server
    server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type=FEED)
    # The first run is quick; the next one is slow to answer, so SIGTERM comes in the middle of it
    # (6 s: with 2 s, a full suite on a loaded machine once delivered it after the answer).
    server.script(
        "/bad/feed.xml",
        [
            Reply(body=whats_new_feed([Item(5, "bad")]), content_type=FEED),
            Reply(body=whats_new_feed([Item(5, "bad"), Item(6, "bad")]), content_type=FEED, delay=6.0),
        ],
    )
    log = tmp_path / "schedule.log"
    process = _schedule(world, log, "--cron", "*/2 * * * * *")
    try:
        _wait_for(lambda: "scheduled run finished" in log.read_text(errors="replace"))
        _wait_for(lambda: server.count("/bad/feed.xml") >= 2)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text(errors="replace")
    # One line per run, with its counts, and when the next run is due.
    assert "2 sources (0 failed), " in text and "new and" in text
    assert "next run 20" in text
    assert "stopping after the document in hand" in text
    runs = _runs(world)
    assert all(r["finished_at"] for r in runs), "a run was left unfinished"
    assert runs[0]["status"] == "interrupted"
    assert {r["status"] for r in runs[1:]} == {"ok"}
    # The interrupted source kept its old validators: the next run fetches it in full.
    assert world.run() == 0
    assert Item(6, "bad").url in world.snapshot().announcements


def test_sigterm_during_run_now_stops_without_starting(make_world: Callable[[str], World], tmp_path: Path) -> None:
    world = make_world("sqlite")
    world.write_settings(timeout=10.0, max_seconds=10.0)
    world.sources()
    world.server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type=FEED)
    world.server.route("/bad/feed.xml", whats_new_feed([Item(5, "bad")]), content_type=FEED, delay=2.0)
    log = tmp_path / "schedule.log"
    process = _schedule(world, log, "--run-now")
    try:
        _wait_for(lambda: world.server.count("/bad/feed.xml") >= 1)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
    text = log.read_text(errors="replace")
    assert "scheduled run interrupted" in text and "Ctrl-C to stop" not in text
    runs = _runs(world)
    assert len(runs) == 1 and runs[0]["status"] == "interrupted" and runs[0]["finished_at"]
    assert world.source_state("good")["last_status"] == "ok"
    assert world.source_state("bad")["etag"] is None
