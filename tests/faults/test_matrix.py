"""The fault matrix: one source misbehaves, the other is healthy, through `tracker run`.

For every fault: the healthy source's new item is stored in the same run, nothing stored
before is lost or duplicated, the failure is recorded (kind, message, time, consecutive count)
and shown by `tracker status`, the exit code says a source failed, the published feed is a
complete file, and the next run after the fault is gone recovers everything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.faults.conftest import Item, World, dead_port, whats_new_feed
from tests.support.http import Reply

GOOD_0 = [Item(0, "good"), Item(1, "good")]
GOOD_1 = GOOD_0 + [Item(4, "good")]
BAD_0 = [Item(2, "bad"), Item(3, "bad")]
BAD_1 = BAD_0 + [Item(5, "bad")]
BOMB = (
    '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa">'
    + "".join(f'<!ENTITY {c} "{("&" + p + ";") * 10}">' for p, c in zip("abcdefgh", "bcdefghi", strict=True))
    + ']><rss version="2.0"><channel><title>&i;</title><item><title>Amazon S3 &i;</title>'
    "<link>https://aws.amazon.com/about-aws/whats-new/2030/11/bomb/</link></item></channel></rss>"
)


@dataclass(frozen=True)
class Fault:
    """How to break the `bad` source, and what the run must report."""

    apply: Callable[[World, str], None]
    kind: str | None  # the recorded error kind; None: the run must succeed despite the oddity
    requests: int | None = None  # requests the bad feed URL gets in one faulty run, when it matters


def _serve(**reply: object) -> Callable[[World, str], None]:
    def apply(world: World, body: str) -> None:
        world.server.script("/bad/feed.xml", [Reply(**{"body": body, **reply})])  # type: ignore[arg-type]

    return apply


def _refused(world: World, body: str) -> None:
    world.sources(bad_url=f"http://127.0.0.1:{dead_port()}/bad/feed.xml")


def _loop(world: World, body: str) -> None:
    world.server.redirect("/bad/feed.xml", "/bad/loop")
    world.server.redirect("/bad/loop", "/bad/feed.xml")


def _elsewhere(world: World, body: str) -> None:
    world.server.redirect("/bad/feed.xml", world.server.url("/bad/feed.xml", host="localhost"))


def _robots(world: World, body: str) -> None:
    world.server.route("/robots.txt", "User-agent: *\nDisallow: /bad/\n")
    _serve(content_type="application/rss+xml")(world, body)


def _retry_after_then_ok(world: World, body: str) -> None:
    world.server.script(
        "/bad/feed.xml",
        [
            Reply(status=503, headers={"Retry-After": "1"}),
            Reply(body=body, content_type="application/rss+xml"),
        ],
    )


HTML_ERROR = (
    "<!DOCTYPE html><html><head><title>503 Service Temporarily Unavailable</title></head>"
    "<body><h1>We'll be back soon</h1><p>Amazon S3 is under maintenance.</p></body></html>"
)

FAULTS: dict[str, Fault] = {
    "connection-refused": Fault(_refused, "connect"),
    "timeout": Fault(_serve(delay=1.5, content_type="application/rss+xml"), "timeout", requests=2),
    "slow-trickle": Fault(_serve(chunk_size=64, trickle=0.05, content_type="application/rss+xml"), "timeout"),
    "dropped-connection": Fault(_serve(drop=True), "connect", requests=2),
    "http-500": Fault(_serve(status=500, body="oops"), "http", requests=2),
    "http-503-retry-after-then-ok": Fault(_retry_after_then_ok, None),
    "http-503-retry-after-too-long": Fault(
        _serve(status=503, body="later", headers={"Retry-After": "3600"}), "http", requests=1
    ),
    "http-429": Fault(_serve(status=429, body="slow down"), "http", requests=2),
    "http-404": Fault(_serve(status=404, body="gone"), "not-found", requests=1),
    "truncated-body": Fault(
        lambda w, body: w.server.script(
            "/bad/feed.xml", [Reply(body=body, truncate_at=len(body) // 2, content_type="application/rss+xml")]
        ),
        "connect",
        requests=2,
    ),
    "html-error-page-200": Fault(lambda w, body: _serve(content_type="text/html")(w, HTML_ERROR), "content"),
    "malformed-xml": Fault(
        lambda w, body: _serve(content_type="application/rss+xml")(w, body.replace("</title>", "", 2)), "malformed"
    ),
    "hostile-xml-entities": Fault(lambda w, body: _serve(content_type="application/rss+xml")(w, BOMB), "hostile"),
    "wrong-content-type": Fault(_serve(content_type="text/html; charset=utf-8"), None),
    "missing-content-type": Fault(_serve(content_type=""), None),
    "wrong-charset": Fault(
        lambda w, body: _serve(content_type="application/rss+xml; charset=iso-8859-1")(
            w, whats_new_feed(BAD_1, extra="Café, naïve, Zürich — “quoted”")
        ),
        None,
    ),
    "redirect-loop": Fault(_loop, "redirect"),
    "redirect-to-other-host": Fault(_elsewhere, "forbidden-host"),
    "enormous-body": Fault(
        lambda w, body: w.server.script(
            "/bad/feed.xml", [Reply(body=body + " " * 200_000, chunked=True, content_type="application/rss+xml")]
        ),
        "too-large",
        requests=1,
    ),
    "robots-disallow": Fault(_robots, "robots", requests=0),
}


def _heal(world: World) -> None:
    world.sources()
    world.server.route("/robots.txt", "User-agent: *\nAllow: /\n")
    world.server.route("/bad/feed.xml", whats_new_feed(BAD_1), content_type="application/rss+xml")


# Every fault on SQLite; on PostgreSQL the ones that exercise different failure paths
# (network, HTTP status, content) - the recording code is the same for all kinds.
ON_POSTGRES = ("connection-refused", "http-503-retry-after-then-ok", "html-error-page-200", "truncated-body")
TWICE = ("connection-refused", "http-500", "html-error-page-200", "robots-disallow")  # count to 2
CASES = [pytest.param(name, "sqlite", id=f"sqlite-{name}") for name in sorted(FAULTS)] + [
    pytest.param(name, "postgresql", id=f"postgresql-{name}") for name in ON_POSTGRES
]


@pytest.mark.parametrize(("name", "backend"), CASES)
def test_one_faulty_source(name: str, backend: str, make_world: Callable[[str], World]) -> None:
    world = make_world(backend)
    fault = FAULTS[name]
    server = world.server
    world.sources()
    server.route("/good/feed.xml", whats_new_feed(GOOD_0), content_type="application/rss+xml")
    server.route("/bad/feed.xml", whats_new_feed(BAD_0), content_type="application/rss+xml")
    assert world.run() == 0
    before = world.snapshot()
    assert len(before.announcements) == 4

    # The fault, while the healthy source has something new.
    server.route("/good/feed.xml", whats_new_feed(GOOD_1), content_type="application/rss+xml")
    fault.apply(world, whats_new_feed(BAD_1))
    server.clear()
    code = world.run()
    during = world.snapshot()
    assert Item(4, "good").url in during.announcements, "the healthy source was not processed"
    for url, (ann_id, _) in before.announcements.items():
        assert during.announcements[url][0] == ann_id, f"{url} lost or re-created"
    assert before.documents <= during.documents
    assert len(world.feed_entries()) == len(during.announcements)
    if fault.requests is not None:
        assert server.count("/bad/feed.xml") == fault.requests
    state = world.source_state("bad")
    good = world.source_state("good")
    assert good["consecutive_failures"] == 0 and good["last_error"] is None
    if fault.kind is None:
        assert code == 0
        assert state["consecutive_failures"] == 0 and state["last_error"] is None
        assert Item(5, "bad").url in during.announcements
        if name == "wrong-charset":
            assert "Café, naïve, Zürich" in world.summary(Item(5, "bad").url)
    else:
        assert code == 1
        assert state["last_error_kind"] == fault.kind
        assert state["last_error"] and "bad" not in ("", None)
        assert state["last_attempt_at"] is not None
        assert state["consecutive_failures"] == 1
        assert Item(5, "bad").url not in during.announcements
        runs = world.status()["runs"]
        assert runs[0]["status"] == "failed"  # type: ignore[index]
        assert runs[0]["outcomes"]["bad"]["error_kind"] == fault.kind  # type: ignore[index]
        if name in TWICE:
            # Still broken next time: the count goes on.
            assert world.run() == 1
            assert world.source_state("bad")["consecutive_failures"] == 2
            assert world.snapshot().announcements == during.announcements

    # The fault is gone: the next run recovers.
    _heal(world)
    assert world.run() == 0
    after = world.snapshot()
    expected = {i.url for i in GOOD_1 + BAD_1}
    assert set(after.announcements) == expected
    for url, (ann_id, _) in during.announcements.items():
        assert after.announcements[url][0] == ann_id
    state = world.source_state("bad")
    assert state["consecutive_failures"] == 0 and state["last_error"] is None and state["last_success_at"]
    assert len(world.feed_entries()) == len(expected)


def test_upstream_items_vanish_and_change(world: World) -> None:
    """Items dropped from a feed stay stored; an edited item is updated in place, not duplicated."""
    server = world.server
    world.sources()
    server.route("/good/feed.xml", whats_new_feed(GOOD_0), content_type="application/rss+xml")
    server.route("/bad/feed.xml", whats_new_feed(BAD_1), content_type="application/rss+xml")
    assert world.run() == 0
    before = world.snapshot()
    # Items 2 and 5 vanish, item 3 is re-titled, item 6 is new.
    edited = Item(3, "bad", edit=" in all commercial Regions")
    server.route("/bad/feed.xml", whats_new_feed([edited, Item(6, "bad")]), content_type="application/rss+xml")
    assert world.run() == 0
    after = world.snapshot()
    assert set(after.announcements) == set(before.announcements) | {Item(6, "bad").url}
    for url, (ann_id, _) in before.announcements.items():
        assert after.announcements[url][0] == ann_id
    assert after.announcements[edited.url][1] == edited.title
    assert len(world.feed_entries()) == len(after.announcements)
    # The feed now empties entirely: still nothing is lost.
    server.route("/bad/feed.xml", whats_new_feed([]), content_type="application/rss+xml")
    world.run()
    assert set(world.snapshot().announcements) == set(after.announcements)


def test_upstream_title_edit_updates_in_place(make_world: Callable[[str], World]) -> None:
    world = make_world("sqlite")
    server = world.server
    world.sources()
    server.route("/good/feed.xml", whats_new_feed(GOOD_0), content_type="application/rss+xml")
    server.route("/bad/feed.xml", whats_new_feed(BAD_0), content_type="application/rss+xml")
    assert world.run() == 0
    before = world.snapshot()
    # The same item (same URL), reworded upstream.
    edited = Item(2, "bad", retitle="Amazon CloudWatch anomaly alarms now cover log ingestion costs")
    server.route("/bad/feed.xml", whats_new_feed([edited, Item(3, "bad")]), content_type="application/rss+xml")
    world.run()  # snapshot() asserts one announcement per item URL
    after = world.snapshot()
    assert after.announcements[edited.url] == (before.announcements[edited.url][0], edited.title)
