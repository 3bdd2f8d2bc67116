"""A daily run when nothing changed upstream: conditional requests only, no file rewritten."""

from __future__ import annotations

from pathlib import Path

from tests.faults.conftest import GOOD_ITEMS, Item, World, whats_new_feed


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under a folder with its (inode, mtime in ns): a rewrite changes one of them."""
    return {
        str(p.relative_to(folder)): (p.stat().st_ino, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_no_change_run_is_conditional_and_writes_nothing(world: World) -> None:
    server = world.server
    world.sources()
    server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type="application/rss+xml")
    server.route("/bad/feed.xml", whats_new_feed([Item(5, "bad")]), content_type="application/rss+xml")
    server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    assert world.run() == 0
    assert server.count("/robots.txt") == 1
    feeds, archive = _files(world.output), _files(world.root / "archive")
    assert feeds and archive
    before = world.snapshot()

    server.clear()
    assert world.run() == 0
    assert sorted(r.route for r in server.requests) == ["/bad/feed.xml", "/good/feed.xml", "/robots.txt"]
    for request in server.requests:
        # The validators saved by the first run are sent back (the server then answers 304),
        # robots.txt included: it is kept in the store between runs.
        assert "if-none-match" in request.headers or "if-modified-since" in request.headers, request
    assert {world.source_state(n)["last_status"] for n in ("good", "bad")} == {"not-modified"}
    assert _files(world.output) == feeds, "a feed file was rewritten"
    assert _files(world.root / "archive") == archive
    assert world.snapshot() == before
    runs = world.status()["runs"]
    assert runs[0]["counts"].get("documents", 0) == 0  # type: ignore[index]


def test_changed_source_rewrites_only_what_changed(world: World) -> None:
    server = world.server
    world.sources()
    server.route("/good/feed.xml", whats_new_feed(GOOD_ITEMS), content_type="application/rss+xml")
    server.route("/bad/feed.xml", whats_new_feed([Item(5, "bad")]), content_type="application/rss+xml")
    assert world.run() == 0
    feeds = _files(world.output)
    server.route("/bad/feed.xml", whats_new_feed([Item(5, "bad"), Item(6, "bad")]), content_type="application/rss+xml")
    assert world.run() == 0
    after = _files(world.output)
    changed = {name for name in feeds if after.get(name) != feeds[name]}
    assert "all.atom" in changed
    assert world.source_state("good")["last_status"] == "not-modified"
    # Feeds of services the new item is not about are left alone.
    untouched = [name for name in feeds if name.startswith("services/amazon-s3.")]
    assert untouched and not changed & set(untouched)
