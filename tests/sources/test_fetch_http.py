"""Fetcher over HTTP, against a real server on 127.0.0.1 (tests.support.http)."""

from __future__ import annotations

import email.utils
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.sources.conftest import USER_AGENT, Sleeps
from tests.support.http import DEFAULT_LAST_MODIFIED, FixtureServer, Reply
from tracker.errors import FetchError
from tracker.sources import Fetcher

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
MakeFetcher = Callable[..., Fetcher]


def _assert_names(error: FetchError, source: str, url: str) -> None:
    text = str(error)
    assert source in text and url in text, text


def test_200_returns_body_content_type_and_validators(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/feed.xml", FEED, content_type="application/rss+xml; charset=utf-8")
    url = http_server.url("/feed.xml")

    raw = make_fetcher().fetch(url, source="whats-new")

    assert raw.body == FEED
    assert raw.url == url
    assert raw.source == "whats-new"
    assert raw.content_type == "application/rss+xml; charset=utf-8"
    assert raw.etag and raw.etag.startswith('"')
    assert raw.last_modified == DEFAULT_LAST_MODIFIED
    assert raw.not_modified is False
    assert raw.fetched_at is not None and raw.fetched_at.tzinfo is not None
    assert abs(raw.fetched_at - datetime.now(UTC)) < timedelta(minutes=1)
    sent = http_server.requests_to("/feed.xml")[0].headers
    assert sent["User-Agent"] == USER_AGENT
    assert "application/rss+xml" in sent["Accept"] and "text/html" in sent["Accept"]
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_connection_is_reused(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/a", "a")
    http_server.route("/b", "b")
    fetcher = make_fetcher()
    for path in ("/a", "/b", "/a"):
        fetcher.fetch(http_server.url(path))
    # One pooled keep-alive connection: the server sees the same client port each time.
    assert len({r.client for r in http_server.requests}) == 1
    assert len(http_server.requests) == 3


def test_conditional_get_sends_validators_and_304_is_not_modified(
    http_server: FixtureServer, make_fetcher: MakeFetcher
) -> None:
    http_server.route("/feed.xml", FEED, content_type="application/rss+xml")
    url = http_server.url("/feed.xml")
    fetcher = make_fetcher()
    first = fetcher.fetch(url, source="feed")

    again = fetcher.fetch(url, source="feed", etag=first.etag, last_modified=first.last_modified)

    sent = http_server.requests_to("/feed.xml")[-1].headers
    assert sent["If-None-Match"] == first.etag
    assert sent["If-Modified-Since"] == first.last_modified
    assert again.not_modified is True
    assert again.body == b""
    assert again.etag == first.etag
    assert again.last_modified == first.last_modified
    assert again.url == url


def test_changed_resource_with_old_etag_returns_new_body(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/feed.xml", "new content")
    raw = make_fetcher().fetch(http_server.url("/feed.xml"), etag='"stale"')
    assert raw.not_modified is False
    assert raw.body == b"new content"
    assert raw.etag != '"stale"'


def test_if_modified_since_alone_yields_304(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/page", "page", etag=None)
    raw = make_fetcher().fetch(http_server.url("/page"), last_modified=DEFAULT_LAST_MODIFIED)
    assert raw.not_modified is True
    assert raw.last_modified == DEFAULT_LAST_MODIFIED


def test_retry_on_503_honours_retry_after_seconds(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps
) -> None:
    http_server.script(
        "/flaky",
        [
            Reply(status=503, headers={"Retry-After": "7"}),
            Reply(status=503, headers={"Retry-After": "3"}),
            Reply(body="finally"),
        ],
    )
    raw = make_fetcher(retries=2).fetch(http_server.url("/flaky"), source="flaky")
    assert raw.body == b"finally"
    assert sleeps == [7.0, 3.0]
    assert http_server.count("/flaky") == 3


def test_retry_after_as_http_date_is_honoured(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps
) -> None:
    soon = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    http_server.script(
        "/busy",
        [
            Reply(status=429, headers={"Retry-After": soon}),
            Reply(status=503, headers={"Retry-After": "3"}),
            Reply(body="ok"),
        ],
    )
    raw = make_fetcher(retries=2).fetch(http_server.url("/busy"))
    assert raw.body == b"ok"
    assert 15.0 <= sleeps[0] <= 20.0
    assert sleeps[1] == 3.0


def test_retry_after_above_the_cap_is_not_waited_for(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps
) -> None:
    # Waiting 60 s when asked for a day would be impolite and stall the run: the source fails now.
    http_server.script("/busy", [Reply(status=429, headers={"Retry-After": "86400"}), Reply(body="ok")])
    with pytest.raises(FetchError) as exc:
        make_fetcher(retries=2, max_retry_wait=60.0).fetch(http_server.url("/busy"))
    assert exc.value.kind == "http" and exc.value.status == 429
    assert "86400" in exc.value.message and "http.max_retry_wait" in exc.value.message
    assert sleeps == []
    assert http_server.count("/busy") == 1


def test_retry_on_500_uses_exponential_backoff_with_jitter(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps
) -> None:
    http_server.script("/err", [Reply(status=500), Reply(status=502), Reply(body="ok")])
    raw = make_fetcher(retries=3, backoff=0.5).fetch(http_server.url("/err"))
    assert raw.body == b"ok"
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 0.75
    assert 1.0 <= sleeps[1] <= 1.5


def test_retries_exhausted_is_http_error_with_status(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps
) -> None:
    http_server.route("/down", "maintenance", status=503)
    url = http_server.url("/down")
    with pytest.raises(FetchError) as caught:
        make_fetcher(retries=2).fetch(url, source="down-source")
    error = caught.value
    assert error.kind == "http"
    assert error.status == 503
    assert "HTTP 503" in error.message and "after 3 attempts" in error.message
    assert http_server.count("/down") == 3
    assert len(sleeps) == 2
    _assert_names(error, "down-source", url)


@pytest.mark.parametrize("status", [404, 410])
def test_not_found_is_not_retried(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps, status: int
) -> None:
    http_server.route("/gone", "nothing here", status=status)
    url = http_server.url("/gone")
    with pytest.raises(FetchError) as caught:
        make_fetcher(retries=3).fetch(url, source="blog")
    assert caught.value.kind == "not-found"
    assert caught.value.status == status
    assert http_server.count("/gone") == 1
    assert sleeps == []
    _assert_names(caught.value, "blog", url)


def test_other_4xx_is_http_error_without_retry(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/private", "no", status=403)
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(http_server.url("/private"), source="s")
    assert caught.value.kind == "http"
    assert caught.value.status == 403
    assert "user_agent" in caught.value.message
    assert http_server.count("/private") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_connection_refused_is_connect_error(make_fetcher: MakeFetcher, sleeps: Sleeps) -> None:
    url = f"http://127.0.0.1:{_free_port()}/feed.xml"
    with pytest.raises(FetchError) as caught:
        make_fetcher(retries=1).fetch(url, source="nowhere")
    assert caught.value.kind == "connect"
    assert caught.value.status is None
    assert "after 2 attempts" in caught.value.message
    assert len(sleeps) == 1  # connect errors are retried
    _assert_names(caught.value, "nowhere", url)


def test_read_timeout_is_timeout_error(http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps) -> None:
    http_server.route("/slow", "late", delay=1.0)
    url = http_server.url("/slow")
    with pytest.raises(FetchError) as caught:
        make_fetcher(timeout=0.2, retries=1).fetch(url, source="slow")
    assert caught.value.kind == "timeout"
    assert "http.timeout" in caught.value.message
    assert http_server.count("/slow") == 2
    assert len(sleeps) == 1
    _assert_names(caught.value, "slow", url)


def test_timeout_then_success(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.script("/sometimes", [Reply(body="late", delay=1.0), Reply(body="on time")])
    raw = make_fetcher(timeout=0.3, retries=1).fetch(http_server.url("/sometimes"))
    assert raw.body == b"on time"


def test_slow_trickle_within_read_timeout_succeeds(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    body = b"x" * 400
    http_server.route("/trickle", body, trickle=0.02, chunk_size=100)
    raw = make_fetcher(timeout=1.0).fetch(http_server.url("/trickle"))
    assert raw.body == body


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_oversized_body_is_too_large(
    http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps, chunked: bool
) -> None:
    http_server.route("/big", b"y" * 5000, chunked=chunked, chunk_size=500)
    url = http_server.url("/big")
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_bytes=1000).fetch(url, source="big")
    error = caught.value
    assert error.kind == "too-large"
    assert "larger than 1000 bytes (http.max_bytes)" in error.message
    assert ("declared 5000" in error.message) is (not chunked)
    assert http_server.count("/big") == 1  # not retried
    assert sleeps == []
    _assert_names(error, "big", url)


def test_body_exactly_at_cap_is_accepted(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/edge", b"z" * 1000, chunked=True)
    assert len(make_fetcher(max_bytes=1000).fetch(http_server.url("/edge")).body) == 1000


def test_gzip_body_is_decoded_and_capped_after_decoding(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    import gzip

    packed = gzip.compress(b"a" * 50_000)
    http_server.route("/gz", packed, headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_bytes=10_000).fetch(http_server.url("/gz"))
    assert caught.value.kind == "too-large"
    assert make_fetcher(max_bytes=60_000).fetch(http_server.url("/gz")).body == b"a" * 50_000


def test_truncated_body_is_fetch_error(http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps) -> None:
    http_server.route("/cut", b"w" * 2000, truncate_at=500)
    url = http_server.url("/cut")
    with pytest.raises(FetchError) as caught:
        make_fetcher(retries=1).fetch(url, source="cut")
    assert caught.value.kind == "connect"
    assert "before the response was complete" in caught.value.message
    assert http_server.count("/cut") == 2
    _assert_names(caught.value, "cut", url)


def test_dropped_connection_then_success(http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps) -> None:
    http_server.script("/drop", [Reply(drop=True), Reply(body="back")])
    raw = make_fetcher(retries=1).fetch(http_server.url("/drop"))
    assert raw.body == b"back"
    assert len(sleeps) == 1


def test_redirect_is_followed_and_url_stays_the_requested_one(
    http_server: FixtureServer, make_fetcher: MakeFetcher
) -> None:
    http_server.redirect("/old", "/middle", status=301)
    http_server.redirect("/middle", http_server.url("/new"), status=307)
    http_server.route("/new", FEED, content_type="application/rss+xml")
    url = http_server.url("/old")

    raw = make_fetcher().fetch(url, source="moved")

    assert raw.body == FEED
    assert raw.url == url
    assert raw.content_type == "application/rss+xml"
    assert [r.route for r in http_server.requests] == ["/old", "/middle", "/new"]


def test_conditional_headers_survive_redirects(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.redirect("/old", "/new")
    http_server.route("/new", FEED)
    fetcher = make_fetcher()
    first = fetcher.fetch(http_server.url("/old"))
    again = fetcher.fetch(http_server.url("/old"), etag=first.etag)
    assert again.not_modified is True
    assert http_server.requests_to("/new")[-1].headers["If-None-Match"] == first.etag


def test_redirect_loop_is_redirect_error(http_server: FixtureServer, make_fetcher: MakeFetcher, sleeps: Sleeps) -> None:
    http_server.redirect("/a", "/b")
    http_server.redirect("/b", "/a")
    url = http_server.url("/a")
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(url, source="loop")
    assert caught.value.kind == "redirect"
    assert "loop" in caught.value.message
    assert len(http_server.requests) == 6  # the request and 5 redirects, then it stops
    assert sleeps == []
    _assert_names(caught.value, "loop", url)


def test_long_redirect_chain_is_redirect_error(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    for hop in range(7):
        http_server.redirect(f"/hop{hop}", f"/hop{hop + 1}")
    http_server.route("/hop7", "end")
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(http_server.url("/hop0"))
    assert caught.value.kind == "redirect"
    assert "more than 5 redirects" in caught.value.message


def test_five_redirects_are_allowed(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    for hop in range(5):
        http_server.redirect(f"/hop{hop}", f"/hop{hop + 1}")
    http_server.route("/hop5", "end")
    assert make_fetcher().fetch(http_server.url("/hop0")).body == b"end"


def test_redirect_to_a_host_not_allowed_is_forbidden(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.redirect("/out", http_server.url("/feed.xml", host="localhost"))
    http_server.route("/feed.xml", FEED)
    url = http_server.url("/out")
    with pytest.raises(FetchError) as caught:
        make_fetcher(allowed_hosts={"127.0.0.1"}).fetch(url, source="escape")
    assert caught.value.kind == "forbidden-host"
    assert "'localhost'" in caught.value.message and "redirected to" in caught.value.message
    assert http_server.count("/feed.xml") == 0  # the target was never requested
    _assert_names(caught.value, "escape", url)


def test_allowed_hosts_are_case_insensitive_and_apply_to_the_first_url(
    http_server: FixtureServer, make_fetcher: MakeFetcher
) -> None:
    http_server.route("/feed.xml", FEED)
    assert make_fetcher(allowed_hosts={"LOCALHOST"}).fetch(http_server.url("/feed.xml", host="localhost")).body == FEED
    with pytest.raises(FetchError) as caught:
        make_fetcher(allowed_hosts={"example.test"}).fetch(http_server.url("/feed.xml"), source="s")
    assert caught.value.kind == "forbidden-host"
    assert "redirected" not in caught.value.message
    assert http_server.count("/feed.xml") == 1


def test_redirect_to_another_scheme_is_refused(
    http_server: FixtureServer, make_fetcher: MakeFetcher, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("do not read")
    http_server.redirect("/sneaky", secret.as_uri())
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(http_server.url("/sneaky"))
    assert caught.value.kind == "redirect"


def test_files_from_a_root_folder(fixtures: Path, make_fetcher: MakeFetcher) -> None:
    with FixtureServer(root=fixtures / "sources") as server:
        fetcher = make_fetcher()
        raw = fetcher.fetch(server.url("/post.html"))
        assert raw.body == (fixtures / "sources" / "post.html").read_bytes()
        assert raw.content_type is not None and raw.content_type.startswith("text/html")
        again = fetcher.fetch(server.url("/post.html"), etag=raw.etag, last_modified=raw.last_modified)
        assert again.not_modified is True
        with pytest.raises(FetchError) as caught:
            fetcher.fetch(server.url("/missing.xml"))
        assert caught.value.kind == "not-found"


def test_invalid_url_is_fetch_error(make_fetcher: MakeFetcher) -> None:
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch("http://", source="bad")
    assert caught.value.kind == "not-found"
    assert "no host" in caught.value.message
    assert "bad" in str(caught.value)


def test_broken_gzip_is_http_error_without_retry(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/bad-gz", b"this is not gzip at all", headers={"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(http_server.url("/bad-gz"), source="gz")
    assert caught.value.kind == "http"
    assert "Content-Encoding" in caught.value.message
    assert http_server.count("/bad-gz") == 1


def test_304_without_validators_is_an_error(http_server: FixtureServer, make_fetcher: MakeFetcher) -> None:
    http_server.route("/odd", status=304, etag=None, last_modified=None)
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(http_server.url("/odd"), source="odd")
    assert caught.value.kind == "http" and caught.value.status == 304
