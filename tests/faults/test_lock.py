"""One run at a time: a second `tracker run` exits with a clear message, or waits with --wait."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.faults.conftest import GOOD_ITEMS, World, whats_new_feed
from tracker.lock import RunInProgress, lock_path, run_lock

REPO = Path(__file__).resolve().parents[2]


def _tracker(world: World, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(world.config), "-q", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
    )


@pytest.fixture
def local_world(world: World, tmp_path: Path) -> World:
    feed = tmp_path / "feed.xml"
    feed.write_text(whats_new_feed(GOOD_ITEMS), encoding="utf-8")
    world.sources(good_url=str(feed), bad_url=str(feed))
    return world


def test_second_run_exits_with_a_clear_message(local_world: World) -> None:
    with run_lock(local_world.database_url):
        done = _tracker(local_world, "run")
    assert done.returncode == 75, done.stderr
    assert "another tracker run is in progress" in done.stderr
    assert "tracker pid" in done.stderr  # names the holder
    assert local_world.run() == 0  # the lock is free again


@pytest.mark.parametrize("command", ["publish", "reextract"])
def test_other_writers_wait_for_the_lock_too(local_world: World, command: str) -> None:
    with run_lock(local_world.database_url):
        done = _tracker(local_world, command)
    assert done.returncode == 75, done.stderr
    assert "another tracker run is in progress" in done.stderr
    assert _tracker(local_world, command).returncode == 0


def test_second_run_waits_with_wait(make_world: Callable[[str], World], tmp_path: Path) -> None:
    local_world = make_world("sqlite")
    feed = tmp_path / "feed.xml"
    feed.write_text(whats_new_feed(GOOD_ITEMS), encoding="utf-8")
    local_world.sources(good_url=str(feed), bad_url=str(feed))
    lock = run_lock(local_world.database_url)
    lock.__enter__()
    timer = threading.Timer(1.0, lock.__exit__, (None, None, None))
    timer.start()
    try:
        done = _tracker(local_world, "run", "--wait", "30")
    finally:
        timer.join()
    assert done.returncode == 0, done.stderr
    assert len(local_world.snapshot().announcements) == len(GOOD_ITEMS)


def test_lock_is_exclusive_in_one_process_too(make_world: Callable[[str], World]) -> None:
    world = make_world("sqlite")
    with run_lock(world.database_url):
        with pytest.raises(RunInProgress) as exc:
            with run_lock(world.database_url, wait=0.3):
                pass
    assert exc.value.exit_code == 75
    path = lock_path(world.database_url)
    assert path is not None and path.name == "tracker.db.lock"
    with run_lock(world.database_url):  # released
        pass


def test_killed_holder_releases_the_lock(local_world: World) -> None:
    # A holder that dies (here: killed while it holds the lock) never leaves a stale lock.
    code = (
        "import os, signal, sys, time\n"
        "from tracker.lock import run_lock\n"
        f"with run_lock({local_world.database_url!r}):\n"
        "    print('held', flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    holder = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert holder.returncode == -9 and "held" in holder.stdout
    with run_lock(local_world.database_url, wait=5):
        pass


def test_a_symlinked_path_takes_the_same_lock(make_world: Callable[[str], World], tmp_path: Path) -> None:
    # Issue 14, finding 9: the lock was named after the path given, so a run through a symlink
    # ran beside a run on the file itself.
    world = make_world("sqlite")
    feed = tmp_path / "feed.xml"
    feed.write_text(whats_new_feed(GOOD_ITEMS), encoding="utf-8")
    world.sources(good_url=str(feed), bad_url=str(feed))
    real = Path(world.database_url.removeprefix("sqlite:///"))
    linked_file = tmp_path / "elsewhere" / "link.db"
    linked_file.parent.mkdir()
    linked_file.symlink_to(real)
    linked_folder = tmp_path / "folder-link"
    linked_folder.symlink_to(real.parent, target_is_directory=True)
    urls = [world.database_url, f"sqlite:///{linked_file}", f"sqlite:///{linked_folder / real.name}"]
    assert {lock_path(url) for url in urls} == {real.with_name(real.name + ".lock")}
    for n, holder in enumerate(urls):
        other = urls[(n + 1) % len(urls)]
        with run_lock(holder):
            done = _tracker(world, "--database", other, "run")
        assert done.returncode == 75, (holder, other, done.stderr)
        assert "another tracker run is in progress" in done.stderr
    assert _tracker(world, "--database", f"sqlite:///{linked_file}", "run").returncode == 0
