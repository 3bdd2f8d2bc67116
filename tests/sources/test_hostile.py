"""Hostile servers on 127.0.0.1 against the fetcher: bombs, drips, escapes, oversized robots.txt, leaks.

Each test reproduces an attack of issue #14 against a real socket (tests.support.http).
"""

from __future__ import annotations

import gzip
import logging
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.sources.conftest import Sleeps
from tests.support.http import FixtureServer
from tracker import pipeline
from tracker.config import SourceConfig, load_settings
from tracker.errors import FetchError
from tracker.sources import Fetcher, net
from tracker.sources.decode import BodyDecoder, DecodeError, coding_of
from tracker.store.db import close_stores

MakeFetcher = Callable[..., Fetcher]
SECRET = "s3cr3t-T0KEN"


# -- 1. compression bombs ------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_without_inflating_it(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    # 50 MB of zeros, ~50 KB on the wire: httpx decodes a whole network read at once (tens of
    # MB); step-by-step decoding never holds much more than the 100 KB cap.
    bomb = gzip.compress(bytes(50_000_000), compresslevel=9)
    http_server.route("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    tracemalloc.start()
    try:
        with pytest.raises(FetchError) as caught:
            make_fetcher(max_bytes=100_000).fetch(http_server.url("/bomb"), source="bomb")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind == "too-large" and "http.max_bytes" in caught.value.message
    assert peak < 5_000_000, f"peak {peak} bytes while refusing a 100 KB-capped gzip bomb"


def test_stacked_content_codings_are_refused(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    inner = gzip.compress(bytes(10_000_000), compresslevel=9)
    double = gzip.compress(inner, compresslevel=9)  # a few KB on the wire
    http_server.route("/double", double, headers={"Content-Encoding": "gzip, gzip"})
    url = http_server.url("/double")
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_bytes=100_000_000).fetch(url, source="double")
    error = caught.value
    assert error.kind == "http" and "compressed 2 times" in error.message and "gzip, gzip" in error.message
    assert "double" in str(error) and url in str(error)
    assert http_server.count("/double") == 1  # refused, not retried
    # The same, as two Content-Encoding header lines.
    http_server.route("/double2", double, headers={"Content-Encoding": "gzip", "content-encoding": "gzip"})
    with pytest.raises(FetchError) as again:
        make_fetcher().fetch(http_server.url("/double2"), source="double")
    assert "stacked" in again.value.message


@pytest.mark.parametrize("coding", ["br", "zstd", "compress", "x-bomb"])
def test_unknown_content_codings_are_refused(
    http_server: FixtureServer, make_fetcher: MakeFetcher, coding: str
) -> None:
    http_server.route("/odd", b"\x00" * 100, headers={"Content-Encoding": coding})
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(http_server.url("/odd"), source="odd")
    assert caught.value.kind == "http" and repr(coding) in caught.value.message
    assert "gzip or deflate" in caught.value.message


def test_we_ask_only_for_codings_we_can_bound(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/plain", "x")
    make_fetcher().fetch(http_server.url("/plain"))
    assert http_server.requests[-1].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("wrap", ["zlib", "raw"])
def test_deflate_both_wrapped_and_raw_is_decoded_under_the_cap(
    http_server: FixtureServer, make_fetcher: MakeFetcher, wrap: str
) -> None:
    text = b"deflated text " * 2000
    packer = zlib.compressobj(wbits=zlib.MAX_WBITS if wrap == "zlib" else -zlib.MAX_WBITS)
    data = packer.compress(text) + packer.flush()
    http_server.route("/d", data, headers={"Content-Encoding": "deflate"}, chunk_size=7, chunked=True)
    assert make_fetcher().fetch(http_server.url("/d")).body == text
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_bytes=len(text) - 1).fetch(http_server.url("/d"))
    assert caught.value.kind == "too-large"


def test_multi_member_gzip_split_anywhere_is_decoded(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    data = gzip.compress(b"first member\n") + gzip.compress(b"second member\n")
    for size in (1, 5, len(data)):
        http_server.route(f"/m{size}", data, headers={"Content-Encoding": "gzip"}, chunk_size=size, chunked=True)
        assert make_fetcher().fetch(http_server.url(f"/m{size}")).body == b"first member\nsecond member\n"


def test_a_truncated_gzip_body_is_an_error(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    data = gzip.compress(b"x" * 10_000)
    http_server.route("/cut", data[: len(data) // 2], headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(http_server.url("/cut"), source="cut")
    assert caught.value.kind == "http" and "truncated" in caught.value.message


def test_the_decoder_never_yields_more_than_the_room_left() -> None:
    bomb = gzip.compress(bytes(20_000_000))
    decoder = BodyDecoder(coding_of(["gzip"]))
    out = decoder.decode(bomb, 1000)
    assert len(out) == 1001  # one byte past the room shows the cap is passed, no more
    assert coding_of([]) == "identity" and coding_of(["identity", "x-gzip"]) == "gzip"
    with pytest.raises(DecodeError):
        coding_of(["deflate, gzip"])


# -- 2. dripping servers -------------------------------------------------------------------


def test_a_dripping_body_is_cut_at_max_seconds(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps
) -> None:
    # One byte every 0.2 s, well within the 2 s read timeout; 1,000 bytes would take 200 s.
    http_server.route("/drip", b"d" * 1000, chunk_size=1, trickle=0.2)
    url = http_server.url("/drip")
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        make_fetcher(timeout=2.0, max_seconds=1.0, retries=2).fetch(url, source="drip")
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 5.0, f"took {elapsed:.1f} s"
    error = caught.value
    assert error.kind == "timeout" and "http.max_seconds" in error.message
    assert "drip" in str(error) and url in str(error)
    assert http_server.count("/drip") == 1 and sleeps == []  # not retried: a retry would only drip again


def test_dripping_headers_are_cut_at_max_seconds(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    # The status line and headers, one byte every 0.1 s: each read beats the timeout, ~30 s in all.
    http_server.route("/slow-head", "x", headers={"X-Padding": "p" * 200}, header_drip=0.1)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        make_fetcher(timeout=2.0, max_seconds=1.0).fetch(http_server.url("/slow-head"), source="head")
    elapsed = time.monotonic() - started
    assert elapsed < 1.0 + 5.0, f"took {elapsed:.1f} s"
    assert caught.value.kind == "timeout" and "http.max_seconds" in caught.value.message


def test_a_read_timeout_longer_than_the_time_left_is_shortened(
    http_server: FixtureServer, make_fetcher: MakeFetcher
) -> None:
    # Headers at once, then silence longer than max_seconds but shorter than http.timeout.
    http_server.route("/pause", b"ab", chunk_size=1, trickle=20.0)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        make_fetcher(timeout=30.0, max_seconds=1.0).fetch(http_server.url("/pause"))
    assert time.monotonic() - started < 1.0 + 5.0
    assert "http.max_seconds" in caught.value.message


def test_a_slow_but_honest_server_within_max_seconds_still_works(
    http_server: FixtureServer, make_fetcher: MakeFetcher
) -> None:
    http_server.route("/ok", b"y" * 20, chunk_size=1, trickle=0.01, header_drip=0.001)
    assert make_fetcher(max_seconds=5.0).fetch(http_server.url("/ok")).body == b"y" * 20


# -- 6. only the configured hosts, never metadata addresses ------------------------------------


@pytest.mark.parametrize("allowed", [None, set()], ids=["none", "empty"])
def test_no_configured_remote_host_means_no_remote_host(
    http_server: FixtureServer, sleeps: Sleeps, allowed: set[str] | None
) -> None:
    http_server.route("/page", "secret intranet page")
    from tracker.config import HttpSettings

    with Fetcher(HttpSettings(user_agent="t", robots=False, retries=0), allowed_hosts=allowed, sleep=sleeps) as fetcher:
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(http_server.url("/page"), source="local-feed")
    assert caught.value.kind == "forbidden-host"
    assert "no source is remote" in caught.value.message and "sources.toml" in caught.value.message
    assert http_server.count("/page") == 0


def test_item_links_of_a_local_feed_are_not_fetched(
    http_server: FixtureServer, tmp_path: Path, sqlite_url: str
) -> None:
    """The attack of #14: a local feed whose items link to 127.0.0.1 and the metadata service."""
    http_server.route("/internal", "<html><body><p>internal</p></body></html>", content_type="text/html")
    links = [http_server.url("/internal"), "http://169.254.169.254/latest/meta-data/iam/security-credentials/"]
    items = "".join(
        f"<item><title>Amazon S3 launches thing {n}</title><link>{link}</link>"
        f"<description>Amazon S3 now supports thing {n}.</description>"
        f"<pubDate>Tue, 03 Dec 2030 10:00:00 GMT</pubDate></item>"
        for n, link in enumerate(links)
    )
    feed = tmp_path / "feed.xml"
    feed.write_text(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>')
    config = tmp_path / "config"
    config.mkdir()
    (config / "tracker.toml").write_text("[http]\nretries = 0\nconnect_timeout = 1.0\nrobots = false\n")
    (config / "sources.toml").write_text("")
    settings = load_settings(config, environ={}).with_overrides(
        database_url=sqlite_url, output_dir=tmp_path / "feeds", archive_dir=tmp_path / "archive"
    )
    try:
        report = pipeline.run(
            settings,
            sources=[SourceConfig(name="local", url=str(feed), kind="news-blog", fetch_pages=True)],
            do_publish=False,
        )
    finally:
        close_stores()
    (outcome,) = report.outcomes
    assert outcome.counts["pages_failed"] == 2 and not outcome.counts.get("pages_fetched")
    assert http_server.count("/internal") == 0


def test_a_redirect_to_the_metadata_service_is_refused(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.redirect("/go", "http://169.254.169.254/latest/meta-data/")
    with pytest.raises(FetchError) as caught:
        make_fetcher(connect_timeout=1.0).fetch(http_server.url("/go"), source="s")
    assert caught.value.kind == "forbidden-host" and "'169.254.169.254'" in caught.value.message


@pytest.mark.parametrize("host", ["2852039166", "169.254.43518", "0xa9.0xfe.0xa9.0xfe"])
def test_a_name_resolving_to_the_metadata_address_is_refused_after_resolution(
    make_fetcher: MakeFetcher, host: str
) -> None:
    # Spellings that only the resolver turns into 169.254.169.254: a check of the name alone
    # misses them; the check of the resolved address does not.
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        make_fetcher(allowed_hosts={host}, connect_timeout=5.0, retries=0).fetch(f"http://{host}/latest/", source="s")
    assert caught.value.kind == "forbidden-host"
    assert "169.254.169.254" in caught.value.message and "cloud-metadata" in caught.value.message
    assert time.monotonic() - started < 1.0  # refused before any connection attempt


def test_metadata_addresses_are_fetched_only_when_a_source_names_them() -> None:
    scope = net.Scope()
    named = net.GuardedBackend(scope, trusted={"169.254.169.254"})
    other = net.GuardedBackend(scope, trusted={"feeds.example.test"})
    metadata = net.parse_ip("169.254.169.254")
    assert metadata is not None and net.is_blocked(metadata)
    assert named.permitted("169.254.169.254", metadata) is None
    assert other.permitted("feeds.example.test", metadata) is not None
    for text in ("fd00:ec2::254", "fe80::1", "::ffff:169.254.169.254", "100.100.100.200"):
        ip = net.parse_ip(text)
        assert ip is not None and net.is_blocked(ip), text
    for text in ("127.0.0.1", "10.0.0.1", "93.184.216.34", "2001:db8::1"):
        ip = net.parse_ip(text)
        assert ip is not None and not net.is_blocked(ip), text


# -- 14. robots.txt per RFC 9309 ----------------------------------------------------------------


def test_an_oversized_robots_txt_is_cut_at_500_kib_not_ignored(
    http_server: FixtureServer, make_fetcher: MakeFetcher
) -> None:
    padding = "".join(f"# comment line {n:07d} padding padding padding\n" for n in range(20_000))  # ~1 MB
    http_server.route(
        "/robots.txt", "User-agent: *\nDisallow: /private/\n" + padding + "Disallow: /late/\n", chunked=True
    )
    http_server.route("/private/feed.xml", "<rss/>")
    http_server.route("/late/feed.xml", "<rss/>")
    fetcher = make_fetcher(robots=True)
    with pytest.raises(FetchError) as caught:
        fetcher.fetch(http_server.url("/private/feed.xml"), source="s")
    assert caught.value.kind == "robots"
    assert http_server.count("/private/feed.xml") == 0
    # A rule past the first 500 KiB is not read (RFC 9309 §2.5 lets a crawler stop there).
    assert fetcher.fetch(http_server.url("/late/feed.xml")).body == b"<rss/>"


def test_an_oversized_gzip_robots_txt_is_cut_too(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    body = ("User-agent: *\nDisallow: /\n" + "# pad\n" * 200_000).encode()
    http_server.route("/robots.txt", gzip.compress(body), headers={"Content-Encoding": "gzip"})
    http_server.route("/feed.xml", "<rss/>")
    with pytest.raises(FetchError) as caught:
        make_fetcher(robots=True).fetch(http_server.url("/feed.xml"))
    assert caught.value.kind == "robots"


def test_a_robots_txt_redirected_to_another_host_is_followed(
    http_server: FixtureServer, make_fetcher: MakeFetcher
) -> None:
    http_server.redirect("/robots.txt", http_server.url("/elsewhere/robots.txt", host="localhost"), status=301)
    http_server.route("/elsewhere/robots.txt", "User-agent: *\nDisallow: /\n")
    http_server.route("/feed.xml", "<rss/>")
    with pytest.raises(FetchError) as caught:
        # Only 127.0.0.1 is a configured host: the feed itself could not go to localhost.
        make_fetcher(robots=True, allowed_hosts={"127.0.0.1"}).fetch(http_server.url("/feed.xml"), source="s")
    assert caught.value.kind == "robots"
    assert http_server.count("/elsewhere/robots.txt") == 1 and http_server.count("/feed.xml") == 0


def test_more_than_five_robots_redirects_mean_no_rules(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.redirect("/robots.txt", "/r1")
    for hop in range(1, 8):
        http_server.redirect(f"/r{hop}", f"/r{hop + 1}")
    http_server.route("/feed.xml", "<rss/>")
    assert make_fetcher(robots=True).fetch(http_server.url("/feed.xml")).body == b"<rss/>"


def test_a_public_sites_robots_redirect_into_the_local_network_is_refused() -> None:
    scope = net.Scope()
    backend = net.GuardedBackend(scope, trusted={"feeds.example.test"})
    loopback = net.parse_ip("127.0.0.1")
    assert loopback is not None
    with scope.request(time.monotonic() + 10, robots=True) as state:
        assert backend.permitted("localhost", loopback) is not None  # from a public site
        assert backend.permitted("feeds.example.test", loopback) is None  # a configured host
        state.private_ok = True  # the robots.txt was asked of a loopback/private address itself
        assert backend.permitted("localhost", loopback) is None
    assert backend.permitted("localhost", loopback) is None  # not robots: the host allow-list decides


def test_a_robots_txt_that_cannot_be_reached_disallows(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/robots.txt", "", drop=True)
    http_server.route("/feed.xml", "<rss/>")
    with pytest.raises(FetchError) as caught:
        make_fetcher(robots=True, retries=0).fetch(http_server.url("/feed.xml"), source="s")
    assert caught.value.kind == "connect" and "robots.txt" in caught.value.message
    assert http_server.count("/feed.xml") == 0


def test_robots_txt_4xx_means_no_rules(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/robots.txt", "forbidden", status=403)
    http_server.route("/feed.xml", "<rss/>")
    assert make_fetcher(robots=True).fetch(http_server.url("/feed.xml")).body == b"<rss/>"


# -- 12. no secret in errors or logs ------------------------------------------------------------


def test_no_secret_in_errors_or_debug_logs(
    http_server: FixtureServer, make_fetcher: MakeFetcher, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    http_server.redirect("/a", f"/b?api_key={SECRET}")
    http_server.route("/b", "down", status=503)
    url = http_server.url(f"/a?token={SECRET}").replace("http://", f"http://user:{SECRET}@")
    with pytest.raises(FetchError) as caught:
        make_fetcher(retries=1).fetch(url, source="secretive")
    text = str(caught.value) + caught.value.message + (caught.value.url or "")
    assert SECRET not in text and "***" in text and "secretive" in text
    assert "httpx" in {r.name for r in caplog.records}  # httpx logged its request lines ...
    assert SECRET not in _tracker_log(caplog)  # ... masked, like ours
    # Errors naming a redirect chain are masked too.
    http_server.redirect("/loop1", f"/loop2?token={SECRET}")
    http_server.redirect("/loop2", "/loop1")
    with pytest.raises(FetchError) as loop:
        make_fetcher().fetch(http_server.url(f"/loop1?sig={SECRET}"), source="loop")
    assert "loop" in loop.value.message and SECRET not in str(loop.value)
    assert SECRET not in _tracker_log(caplog)


def _tracker_log(caplog: pytest.LogCaptureFixture) -> str:
    """What tracker and its HTTP libraries logged (the test server's own access log aside)."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("tests."))
