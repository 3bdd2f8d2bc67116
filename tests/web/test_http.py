"""`tracker serve` over a real socket: validators, 304, gzip, cache headers, no way out of the folder."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import time
from email.utils import parsedate_to_datetime
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import func, select

from tracker.store.db import unit_of_work
from tracker.store.models import AnnouncementRow

from .conftest import Site


def test_feeds_are_served_with_validators_and_cache_headers(site: Site) -> None:
    for path, kind in (
        ("/all.atom", "application/atom+xml"),
        ("/services/amazon-s3.rss", "application/rss+xml"),
        ("/events/aws-reinvent-2031.json", "application/feed+json"),
        ("/index.opml", "text/x-opml"),
        ("/archive/all/1.atom", "application/atom+xml"),
    ):
        status, headers, body = site.request(path)
        assert status == 200, path
        assert body == (site.output / path.lstrip("/")).read_bytes()
        assert headers["content-type"].startswith(kind)
        assert headers["etag"].startswith('"') and headers["etag"].endswith('"')
        assert parsedate_to_datetime(headers["last-modified"]).tzinfo is not None
        assert headers["cache-control"].startswith("public, max-age=")
        assert headers["content-length"] == str(len(body))
        assert headers["x-content-type-options"] == "nosniff"
    # archive pages are stable: cached for longer than the subscription feed
    assert "86400" in site.request("/archive/all/1.atom")[1]["cache-control"]
    # the root is the published index.html
    status, headers, body = site.request("/")
    assert status == 200 and headers["content-type"].startswith("text/html") and b"all.atom" in body
    assert feedparser.parse(site.request("/all.atom")[2]).bozo == 0


def test_conditional_requests_get_a_304_without_a_body(site: Site) -> None:
    _, headers, _ = site.request("/all.atom")
    etag, last_modified = headers["etag"], headers["last-modified"]
    for conditional in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": last_modified},
    ):
        status, got, body = site.request("/all.atom", conditional)
        assert status == 304, conditional
        assert body == b"" and "content-length" not in got and "content-encoding" not in got
        assert got["etag"] == etag and got["cache-control"].startswith("public")
    # a stale validator gets the full feed
    assert site.request("/all.atom", {"If-None-Match": '"stale"'})[0] == 200
    assert site.request("/all.atom", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200
    # If-None-Match wins over If-Modified-Since
    assert site.request("/all.atom", {"If-None-Match": '"stale"', "If-Modified-Since": last_modified})[0] == 200
    assert site.request("/all.atom", {"If-Modified-Since": "garbage"})[0] == 200


def test_a_changed_feed_gets_a_new_etag(site: Site) -> None:
    target = site.output / "services" / "amazon-s3.atom"
    _, before, _ = site.request("/services/amazon-s3.atom")
    target.write_bytes(target.read_bytes().replace(b"Amazon S3 adds", b"Amazon S3 now adds"))
    os.utime(target, (time.time() + 5, time.time() + 5))
    status, after, body = site.request("/services/amazon-s3.atom", {"If-None-Match": before["etag"]})
    assert status == 200 and b"now adds" in body
    assert after["etag"] != before["etag"]
    assert site.request("/services/amazon-s3.atom", {"If-None-Match": after["etag"]})[0] == 304


def test_responses_are_gzipped_when_the_client_accepts_it(site: Site) -> None:
    plain = (site.output / "all.atom").read_bytes()
    status, headers, body = site.request("/all.atom", {"Accept-Encoding": "br, gzip;q=0.8"})
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert headers["vary"] == "Accept-Encoding"
    assert gzip.decompress(body) == plain and len(body) < len(plain) / 3
    assert headers["content-length"] == str(len(body))
    gz_etag = headers["etag"]
    # the gzip representation has its own strong ETag, and either one validates
    identity = site.request("/all.atom")[1]["etag"]
    assert gz_etag != identity
    assert site.request("/all.atom", {"If-None-Match": identity, "Accept-Encoding": "gzip"})[0] == 304
    assert site.request("/all.atom", {"If-None-Match": gz_etag})[0] == 304
    for refuses in ("gzip;q=0", "identity", "br"):
        status, headers, body = site.request("/all.atom", {"Accept-Encoding": refuses})
        assert "content-encoding" not in headers and body == plain, refuses
    _, headers, body = site.request("/api/announcements", {"Accept-Encoding": "gzip"})
    assert headers["content-encoding"] == "gzip" and json.loads(gzip.decompress(body))["items"]


def test_head_has_the_headers_and_no_body(site: Site) -> None:
    get_status, get_headers, get_body = site.request("/all.rss", {"Accept-Encoding": "gzip"})
    status, headers, body = site.request("/all.rss", {"Accept-Encoding": "gzip"}, method="HEAD")
    assert status == get_status == 200 and body == b""
    assert headers["etag"] == get_headers["etag"] and headers["content-length"] == str(len(get_body))


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/services/..%2f..%2fsecret.txt",
        "/services/%2e%2e/%2e%2e/secret.txt",
        "/..\\secret.txt",
        "/%5c..%5csecret.txt",
        "//etc/passwd",
        "/etc/passwd",
        "/%00all.atom",
        "/all.atom%00.txt",
        "/.hidden.atom",
        "/services/.amazon-s3.atom.x1.tmp",
        "/leak/secret.txt",
        "/leak.txt",
        "/tracker.db",
        "/services",
        "/archive/all",
    ],
)
def test_nothing_outside_the_output_folder_is_served(site: Site, path: str) -> None:
    parent = site.output.parent
    (parent / "secret.txt").write_text("secret")
    (site.output / ".hidden.atom").write_text("hidden")
    (site.output / "services" / ".amazon-s3.atom.x1.tmp").write_text("half written")
    (site.output / "tracker.db").write_text("not a feed type")
    (site.output / "leak").symlink_to(parent, target_is_directory=True)
    (site.output / "leak.txt").symlink_to(parent / "secret.txt")
    status, _, body = site.request(path)
    assert status in (400, 404), (path, status)
    assert b"secret" not in body and b"hidden" not in body and b"half written" not in body


def test_writes_are_refused_and_change_nothing(site: Site) -> None:
    with unit_of_work(site.factory) as s:
        before = s.scalar(select(func.count()).select_from(AnnouncementRow))
    feed = (site.output / "all.atom").read_bytes()
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("/api/announcements", "/api/announcements/1", "/all.atom"):
            status, headers, body = site.request(path, method=method, body=b'{"title": "x"}')
            assert status == 405 and headers["allow"] == "GET, HEAD"
            assert "read-only" in json.loads(body)["error"]["message"]
    with unit_of_work(site.factory) as s:
        assert s.scalar(select(func.count()).select_from(AnnouncementRow)) == before
    assert (site.output / "all.atom").read_bytes() == feed


def test_unknown_paths_are_404(site: Site) -> None:
    assert site.request("/nope.atom")[0] == 404
    status, headers, body = site.request("/api/nope")
    assert status == 404 and headers["content-type"].startswith("application/json")
    assert "/api/announcements" in json.loads(body)["error"]["endpoints"]


def test_browse_page_and_its_assets(site: Site) -> None:
    status, headers, body = site.request("/browse")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in headers["content-security-policy"]
    assert b'<script src="/browse.js"' in body
    assert site.request("/browse.js")[0] == 200 and site.request("/browse.css")[0] == 200
    assert site.request("/browse", {"If-None-Match": headers["etag"]})[0] == 304


def test_tracker_serve_command(tmp_path: Path, sqlite_url: str) -> None:
    output = tmp_path / "out"
    output.mkdir()
    (output / "all.atom").write_bytes(
        b"<?xml version='1.0' encoding='UTF-8'?><feed xmlns='http://www.w3.org/2005/Atom'/>"
    )
    env = {**os.environ, "TRACKER_CONFIG_DIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tracker", "--database", sqlite_url, "--output", str(output), "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "serving" in line, line
        url = line.split(" on ", 1)[1].split(" ", 1)[0]
        import urllib.request

        with urllib.request.urlopen(url + "all.atom", timeout=10) as response:
            assert response.status == 200 and b"Atom" in response.read()
        with urllib.request.urlopen(url + "api/announcements", timeout=10) as response:
            assert json.loads(response.read())["items"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_identical_api_requests_are_answered_from_the_micro_cache(site: Site) -> None:
    from sqlalchemy import event

    engine = site.factory.kw["bind"]
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", count)
    try:
        first = site.request("/api/announcements?service=amazon-s3&limit=3")
        queried = len(statements)
        assert queried > 0
        again = site.request("/api/announcements?service=amazon-s3&limit=3")
        conditional = site.request("/api/announcements?service=amazon-s3&limit=3", {"If-None-Match": first[1]["etag"]})
        assert len(statements) == queried  # neither touched the database
        assert again[2] == first[2] and conditional[0] == 304
        site.request("/api/announcements?service=amazon-s3&limit=4")  # another request is another entry
        assert len(statements) > queried
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_nothing_published_yet_answers_the_root_with_how_to_publish(sqlite_url: str, tmp_path: Path) -> None:
    import threading

    from tests.web.conftest import Site
    from tracker.store.db import close_stores, open_store
    from tracker.web import make_server

    output = tmp_path / "empty-feeds"
    output.mkdir()
    factory = open_store(sqlite_url)
    server = make_server(output, factory, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        site = Site(server=server, output=output, factory=factory, database_url=sqlite_url)
        status, headers, body = site.request("/")
        assert status == 200 and headers["content-type"].startswith("text/html")
        assert b"tracker run" in body and b"/browse" in body
        assert site.request("/all.atom")[0] == 404
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        close_stores()
