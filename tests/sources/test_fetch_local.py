"""Fetcher on local paths and file:// URLs, and the URL helpers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tracker.errors import FetchError
from tracker.sources import Fetcher, hosts_of, is_remote

MakeFetcher = Callable[..., Fetcher]


@pytest.fixture
def recap(fixtures: Path, tmp_path: Path) -> Path:
    """A private copy of a fixture document, free to touch and rewrite."""
    target = tmp_path / "recap.md"
    shutil.copyfile(fixtures / "sources" / "recap.md", target)
    return target


def test_absolute_path(recap: Path, make_fetcher: MakeFetcher) -> None:
    raw = make_fetcher().fetch(str(recap), source="recaps")
    assert raw.body == recap.read_bytes()
    assert raw.url == str(recap)
    assert raw.source == "recaps"
    assert raw.content_type == "text/markdown"
    assert raw.etag and raw.last_modified and raw.last_modified.endswith("GMT")
    assert raw.not_modified is False
    assert raw.fetched_at is not None and raw.fetched_at.tzinfo is not None


def test_relative_path(recap: Path, make_fetcher: MakeFetcher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(recap.parent)
    raw = make_fetcher().fetch("recap.md")
    assert raw.body == recap.read_bytes()
    assert raw.url == "recap.md"


def test_file_url(fixtures: Path, make_fetcher: MakeFetcher) -> None:
    path = fixtures / "sources" / "feed.xml"
    raw = make_fetcher().fetch(path.as_uri())
    assert raw.body == path.read_bytes()
    assert raw.url == path.as_uri()
    assert raw.content_type == "application/xml"


def test_file_url_with_escaped_characters(tmp_path: Path, make_fetcher: MakeFetcher) -> None:
    path = tmp_path / "re Invent recap.html"
    path.write_text("<p>hi</p>")
    assert path.as_uri().count("%20") == 2
    raw = make_fetcher().fetch(path.as_uri())
    assert raw.body == b"<p>hi</p>"
    assert raw.content_type == "text/html"


def test_unchanged_file_is_not_modified_with_previous_validators(recap: Path, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    first = fetcher.fetch(str(recap))
    again = fetcher.fetch(str(recap), etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified is True
    assert again.body == b""
    assert again.etag == first.etag
    # Without validators the file is always read.
    assert fetcher.fetch(str(recap)).body == first.body


def test_changed_file_is_read_again(recap: Path, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    first = fetcher.fetch(recap.as_uri())
    stat = recap.stat()
    recap.write_text(recap.read_text() + "- **Amazon FSx Turbo** — new.\n")
    os.utime(recap, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    again = fetcher.fetch(recap.as_uri(), etag=first.etag, last_modified=first.last_modified)
    assert again.not_modified is False
    assert b"FSx Turbo" in again.body
    assert again.etag != first.etag


def test_touched_file_with_same_content_gets_new_etag(recap: Path, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    first = fetcher.fetch(str(recap))
    stat = recap.stat()
    os.utime(recap, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1))
    again = fetcher.fetch(str(recap), etag=first.etag)
    assert again.not_modified is False
    assert again.body == first.body


def test_last_modified_alone_decides_when_no_etag(recap: Path, make_fetcher: MakeFetcher) -> None:
    fetcher = make_fetcher()
    first = fetcher.fetch(str(recap))
    assert fetcher.fetch(str(recap), last_modified=first.last_modified).not_modified is True
    assert fetcher.fetch(str(recap), last_modified="Mon, 01 Jan 2001 00:00:00 GMT").not_modified is False


def test_missing_file_is_not_found(tmp_path: Path, make_fetcher: MakeFetcher) -> None:
    missing = tmp_path / "nope" / "recap.md"
    for location in (str(missing), missing.as_uri()):
        with pytest.raises(FetchError) as caught:
            make_fetcher().fetch(location, source="old-recap")
        error = caught.value
        assert error.kind == "not-found"
        assert str(missing) in error.message
        assert "old-recap" in str(error) and location in str(error)


def test_directory_is_not_found(tmp_path: Path, make_fetcher: MakeFetcher) -> None:
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(str(tmp_path), source="dir")
    assert caught.value.kind == "not-found"
    assert str(tmp_path) in str(caught.value)


def test_large_file_is_too_large(tmp_path: Path, make_fetcher: MakeFetcher) -> None:
    big = tmp_path / "big.xml"
    big.write_bytes(b"<a>" + b"x" * 2000 + b"</a>")
    with pytest.raises(FetchError) as caught:
        make_fetcher(max_bytes=1000).fetch(str(big), source="big")
    assert caught.value.kind == "too-large"
    assert "1000 bytes (http.max_bytes)" in caught.value.message
    assert str(big) in str(caught.value)


def test_unsupported_scheme_is_not_found(make_fetcher: MakeFetcher) -> None:
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch("ftp://example.test/feed.xml", source="ftp")
    assert caught.value.kind == "not-found"
    assert "ftp" in caught.value.message


def test_local_files_ignore_allowed_hosts(recap: Path, make_fetcher: MakeFetcher) -> None:
    assert make_fetcher(allowed_hosts={"example.test"}).fetch(str(recap)).body == recap.read_bytes()


@pytest.mark.parametrize(
    ("url", "remote"),
    [
        ("https://aws.amazon.com/new/feed/", True),
        ("HTTP://example.test", True),
        ("  http://example.test/x ", True),
        ("file:///tmp/feed.xml", False),
        ("/tmp/feed.xml", False),
        ("recaps/reinvent.md", False),
        ("C:\\feeds\\feed.xml", False),
        ("ftp://example.test/x", False),
    ],
)
def test_is_remote(url: str, remote: bool) -> None:
    assert is_remote(url) is remote


def test_hosts_of() -> None:
    urls = [
        "https://AWS.amazon.com/new/feed/",
        "https://aws.amazon.com/blogs/aws/feed/",
        "http://example.test:8080/x",
        "/local/file.md",
        "file:///local/feed.xml",
    ]
    assert hosts_of(urls) == {"aws.amazon.com", "example.test"}
    assert hosts_of([]) == set()


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"", "is empty"),
        (b"  \n\t\n", "is empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "a PDF"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "a PNG image"),
        (b"PK\x03\x04\x14\x00\x06\x00", "a ZIP archive"),
        (b"\x01\x02\x00\x00binary\x00junk", "a binary file"),
    ],
)
def test_empty_and_binary_files_are_refused(tmp_path: Path, make_fetcher: MakeFetcher, body: bytes, says: str) -> None:
    saved = tmp_path / "saved.md"
    saved.write_bytes(body)
    with pytest.raises(FetchError) as caught:
        make_fetcher().fetch(str(saved), source="saved")
    assert caught.value.kind == "content"
    assert says in caught.value.message and str(saved) in caught.value.message


def test_utf16_text_with_a_byte_order_mark_is_read(tmp_path: Path, make_fetcher: MakeFetcher) -> None:
    saved = tmp_path / "recap.md"
    saved.write_bytes("\ufeff# Recap\n\nAnnouncing **Amazon Kelp DB**\n".encode("utf-16"))
    raw = make_fetcher().fetch(str(saved), source="utf16")
    assert raw.body.startswith(b"\xff\xfe")
