"""Sources on different hosts are fetched at once; one host's requests stay one at a time.

The loopback server answers as "127.0.0.1" and as "localhost": two hosts for the fetcher.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.faults.conftest import Item, World, whats_new_feed
from tests.support.http import Reply
from tracker.items import RawDocument
from tracker.sources.prefetch import Prefetch


def _two_host_world(make_world: Callable[[str], World], backend: str) -> World:
    world = make_world(backend)
    server = world.server
    # The first source answers slowly, the second at once: fetched together, the second is
    # ready first, yet it must be stored second, as in a run that fetches one after another.
    server.script(
        "/good/feed.xml",
        [Reply(body=whats_new_feed([Item(0, "good"), Item(1, "good")]), content_type="application/rss+xml", delay=0.5)],
    )
    server.script("/bad/feed.xml", [Reply(body=whats_new_feed([Item(2, "bad")]), content_type="application/rss+xml")])
    (world.config / "sources.toml").write_text(
        f'[[source]]\nname = "slow"\nkind = "whats-new"\nurl = "{server.url("/good/feed.xml")}"\n\n'
        f'[[source]]\nname = "fast"\nkind = "whats-new"\nurl = "{server.url("/bad/feed.xml", host="localhost")}"\n',
        encoding="utf-8",
    )
    return world


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_hosts_fetched_together_are_stored_in_the_configured_order(
    make_world: Callable[[str], World], backend: str
) -> None:
    world = _two_host_world(make_world, backend)
    world.write_settings(concurrency=4, timeout=5.0, max_seconds=5.0)
    assert world.run() == 0
    stored = world.snapshot().announcements
    assert len(stored) == 3
    slow_ids = [stored[item.url][0] for item in (Item(0, "good"), Item(1, "good"))]
    assert max(slow_ids) < stored[Item(2, "bad").url][0]
    assert world.server.count("/good/feed.xml") == world.server.count("/bad/feed.xml") == 1
    states = {s["name"]: s for s in world.status()["sources"]}  # type: ignore[index, union-attr]
    assert all(states[name]["last_error"] is None for name in ("slow", "fast"))

    # The next run asks both conditionally and changes nothing.
    before = world.snapshot()
    assert world.run() == 0
    assert world.snapshot() == before
    for path in ("/good/feed.xml", "/bad/feed.xml"):
        assert "If-None-Match" in world.server.requests_to(path)[-1].headers


def test_lanes_overlap_across_hosts_and_keep_order_within_one() -> None:
    import threading
    import time

    events: list[tuple[str, str, float]] = []
    lock = threading.Lock()

    def fetch(name: str) -> RawDocument:
        with lock:
            events.append(("start", name, time.monotonic()))
        time.sleep(0.3)
        with lock:
            events.append(("end", name, time.monotonic()))
        if name == "b2":
            raise RuntimeError("b2 failed")
        return RawDocument(url=name, body=name.encode(), content_type=None)

    sources = [
        ("a1", "https://a.example/1"),
        ("b1", "https://b.example/1"),
        ("a2", "https://a.example/2"),
        ("b2", "https://b.example/2"),
        ("local", "/tmp/x.xml"),
    ]
    with Prefetch(fetch, sources, lanes=4) as prefetch:
        assert not prefetch.has("local")  # a local file is read by the caller
        assert prefetch.result("a1").body == b"a1" and prefetch.result("a2").body == b"a2"
        with pytest.raises(RuntimeError, match="b2 failed"):
            prefetch.result("b2")
    starts = {name: at for kind, name, at in events if kind == "start"}
    ends = {name: at for kind, name, at in events if kind == "end"}
    assert starts["b1"] < ends["a1"]  # two hosts at once
    assert starts["a2"] >= ends["a1"] and starts["b2"] >= ends["b1"]  # one host: in order


def test_one_host_runs_nothing_ahead() -> None:
    calls: list[str] = []
    with Prefetch(
        lambda name: calls.append(name) or RawDocument(url=name, body=b"", content_type=None),  # type: ignore[func-returns-value]
        [("a", "https://a.example/1"), ("b", "https://a.example/2")],
        lanes=4,
    ) as prefetch:
        assert not prefetch.has("a") and not prefetch.has("b")
    assert calls == []
