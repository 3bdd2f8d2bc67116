"""`tracker status` as a person reads it: sources with their errors, runs with their counts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.conftest import GOOD_ITEMS, Item, World, whats_new_feed
from tracker.cli import main


def test_status_table_shows_failures_and_runs(
    make_world: Callable[[str], World], capsys: pytest.CaptureFixture[str]
) -> None:
    world = make_world("sqlite")
    world.sources()
    world.server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type="application/rss+xml")
    world.server.route("/bad/feed.xml", whats_new_feed([Item(5, "bad")]), content_type="application/rss+xml")
    assert world.run() == 0
    world.server.route("/bad/feed.xml", "down for maintenance", status=500)
    assert world.run() == 1
    assert world.run() == 1
    capsys.readouterr()
    assert main(["--config", str(world.config), "status"]) == 0
    out = capsys.readouterr().out
    bad = next(line for line in out.splitlines() if line.startswith("bad "))
    assert "failed" in bad and " 2 " in bad and "http" in bad and "HTTP 500" in bad
    good = next(line for line in out.splitlines() if line.startswith("good "))
    assert "not-modified" in good
    runs = [line for line in out.splitlines() if line.split()[:1] in (["1"], ["2"], ["3"])]
    assert len(runs) == 3
    assert sum("failed" in line and line.rstrip().endswith("bad") for line in runs) == 2
