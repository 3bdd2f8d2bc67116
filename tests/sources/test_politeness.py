"""Politeness of the fetcher: robots.txt, per-host spacing, the whole-response deadline."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.sources.conftest import USER_AGENT, Sleeps
from tests.support.http import FixtureServer, Reply
from tracker.errors import FetchError
from tracker.sources import Fetcher

MakeFetcher = Callable[..., Fetcher]


def test_robots_txt_disallow_is_honoured(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/robots.txt", "User-agent: *\nDisallow: /private/\n")
    http_server.route("/private/feed.xml", "<rss/>")
    http_server.route("/public/feed.xml", "<rss/>")
    fetcher = make_fetcher(robots=True)
    with pytest.raises(FetchError) as exc:
        fetcher.fetch(http_server.url("/private/feed.xml"), source="s")
    assert exc.value.kind == "robots" and "robots.txt" in exc.value.message
    assert http_server.count("/private/feed.xml") == 0
    assert fetcher.fetch(http_server.url("/public/feed.xml")).body == b"<rss/>"
    assert http_server.count("/robots.txt") == 1  # read once per host and run


def test_robots_txt_rules_for_our_user_agent(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    token = USER_AGENT.split("/")[0]
    http_server.route("/robots.txt", f"User-agent: {token}\nDisallow: /\n\nUser-agent: *\nAllow: /\n")
    http_server.route("/feed.xml", "<rss/>")
    with pytest.raises(FetchError) as exc:
        make_fetcher(robots=True).fetch(http_server.url("/feed.xml"))
    assert exc.value.kind == "robots"


def test_missing_robots_txt_allows_everything(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/feed.xml", "<rss/>")
    assert make_fetcher(robots=True).fetch(http_server.url("/feed.xml")).body == b"<rss/>"
    assert [r.route for r in http_server.requests] == ["/robots.txt", "/feed.xml"]


def test_failing_robots_txt_means_disallowed(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/robots.txt", "down", status=500)
    http_server.route("/feed.xml", "<rss/>")
    with pytest.raises(FetchError) as exc:
        make_fetcher(robots=True, retries=1).fetch(http_server.url("/feed.xml"))
    assert exc.value.kind == "robots" and "500" in exc.value.message
    assert http_server.count("/feed.xml") == 0


def test_crawl_delay_and_min_interval_space_requests(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps
) -> None:
    http_server.route("/robots.txt", "User-agent: *\nCrawl-delay: 7\n")
    http_server.route("/a", "a")
    http_server.route("/b", "b")
    fetcher = make_fetcher(robots=True, min_interval=2.0)
    fetcher.fetch(http_server.url("/a"))
    fetcher.fetch(http_server.url("/b"))
    # robots.txt, then /a and /b each after the Crawl-delay, which is larger than min_interval.
    assert len(sleeps) == 2
    assert all(6.0 < s <= 7.0 for s in sleeps)


def test_min_interval_spaces_requests_to_one_host(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps
) -> None:
    http_server.route("/a", "a")
    fetcher = make_fetcher(min_interval=2.0)
    fetcher.fetch(http_server.url("/a"))
    fetcher.fetch(http_server.url("/a"))
    assert len(sleeps) == 1 and 1.0 < sleeps[0] <= 2.0


def test_other_hosts_are_not_delayed(http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps) -> None:
    http_server.route("/a", "a")
    fetcher = make_fetcher(min_interval=5.0)
    fetcher.fetch(http_server.url("/a"))
    fetcher.fetch(http_server.url("/a", host="localhost"))
    assert sleeps == []


def test_trickling_body_hits_the_deadline(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    # Every chunk arrives well within the read timeout, but the whole body would take ~4 s.
    http_server.script("/slow", [Reply(body=b"x" * 4000, chunk_size=100, trickle=0.1)])
    with pytest.raises(FetchError) as exc:
        make_fetcher(timeout=2.0, max_seconds=0.5, retries=0).fetch(http_server.url("/slow"))
    assert exc.value.kind == "timeout" and "http.max_seconds" in exc.value.message
