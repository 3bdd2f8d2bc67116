"""Format detection, decoding, the error contract and robustness on random input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tracker.errors import ExtractError
from tracker.extract import EXTRACTOR_VERSION, detect_format, extract
from tracker.extract.text import decode, youtube_id


def test_version_is_a_string() -> None:
    assert isinstance(EXTRACTOR_VERSION, str) and EXTRACTOR_VERSION


@pytest.mark.parametrize(
    ("text", "url", "expected"),
    [
        ("\ufeff  <?xml version='1.0'?>\n<rss version='2.0'><channel></channel></rss>", "x", "feed"),
        ("<feed xmlns='http://www.w3.org/2005/Atom'></feed>", "x", "feed"),
        ("<!DOCTYPE html><html><body><p>x</p></body></html>", "x", "html"),
        ("<div><p>a</p><p>b</p></div>", "x.xml", "html"),
        ('[{"title": "a", "url": "https://www.youtube.com/watch?v=abcdefghijk"}]', "x", "json"),
        ("[Skip to Main Content](#main)\n\n# Title\n", "x", "markdown"),
        ("year,session_code,video_title,url\n2031,A,B,C\n", "x", "csv"),
        ("| [A (ABC123)](https://www.youtube.com/watch?v=abcdefghijk) | 2031-01-01 |\n", "x", "playlist"),
        ("# Notes\n\n* Announcing **X**\n", "notes.md", "markdown"),
    ],
)
def test_detect_format(text: str, url: str, expected: str) -> None:
    assert detect_format(text, url=url) == expected


def test_decode_order() -> None:
    assert decode("é".encode("utf-8-sig")) == "é"
    assert decode("é".encode("latin-1"), "text/html; charset=ISO-8859-1") == "é"
    assert decode(b'<?xml version="1.0" encoding="iso-8859-1"?><a>\xe9</a>').endswith("<a>é</a>")
    assert decode(b'<meta charset="windows-1252"><p>\x93q\x94</p>').endswith("<p>“q”</p>")
    assert decode(b"caf\xc3\xa9") == "café"
    assert decode(b"caf\xe9 \xff") == "caf\ufffd \ufffd"


def test_youtube_ids() -> None:
    assert youtube_id("https://youtu.be/pJG6nmR7XxI?si=abc") == "pJG6nmR7XxI"
    assert youtube_id("https://www.youtube.com/watch?v=TL2HtX-FmiQ&t=966s") == "TL2HtX-FmiQ"
    assert youtube_id("https://youtube.com/playlist?list=PL2yQDdvlhXf9dPFE1cCdiBovjN4Q6oCg-") is None
    assert youtube_id("https://example.org/watch?v=abcdefghijk") is None


@pytest.mark.parametrize("body", [b"", b"   \n\t ", "\ufeff"])
def test_empty_body_is_an_extract_error(body: bytes | str) -> None:
    with pytest.raises(ExtractError) as info:
        extract(body, url="https://example.org/empty")
    assert "empty" in info.value.message
    assert info.value.url == "https://example.org/empty"


def test_malformed_feed_is_an_extract_error() -> None:
    with pytest.raises(ExtractError) as info:
        extract(b"<?xml version='1.0'?><rss><channel><title>x</ti", url="https://example.org/feed", kind="feed")
    assert info.value.url == "https://example.org/feed"
    assert "malformed feed" in info.value.message


def test_malformed_feed_with_recoverable_items_is_read() -> None:
    body = b"<?xml version='1.0'?><rss><channel><item><title>Announcing Amazon Widget Lake</title></item><item><title>x</ti"
    docs = extract(body, url="https://example.org/feed", kind="news-blog")
    assert docs and docs[0].title == "Announcing Amazon Widget Lake"


def test_wrong_kind_is_an_extract_error() -> None:
    with pytest.raises(ExtractError):
        extract("# just markdown", url="x", kind="feed")
    with pytest.raises(ExtractError):
        extract("# x", url="x", kind="nonsense")
    with pytest.raises(ExtractError):
        extract("[1, 2", url="x.json", kind="sessions")


def test_declared_event_overrides_detection(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    [doc] = extract_fixture("recap-reinvent-2031.md", event="AWS Summit Anywhere 2031")
    assert doc.event == "AWS Summit Anywhere 2031"
    assert {a.event for a in doc.announcements} == {"AWS Summit Anywhere 2031"}
    assert {s.event for s in doc.sessions} == {"AWS Summit Anywhere 2031"}


def test_declared_kind_markdown_for_recap(extract_fixture) -> None:  # type: ignore[no-untyped-def]
    assert extract_fixture("recap-reinvent-2031.md", kind="markdown")[0].kind == "recap"
    assert extract_fixture("news-blog-feed.xml", kind="news-blog")[0].kind == "post"
    assert extract_fixture("whats-new-feed.xml", kind="whats-new")[0].kind == "whats-new"
    assert extract_fixture("playlist-reinvent-2031.md", kind="youtube-playlist")[0].kind == "session-listing"


SEEDS = [
    "---\ntitle: x\n---\n# A\n* Announcing **B**\n    * c",
    "<rss><channel><item><title>T</title><description>&lt;b&gt;x</description></item></channel></rss>",
    '<html><body><article class="blog-post"><h1 class="blog-post-title">New X</h1></article></body></html>',
    '[{"title": "AWS re:Invent 2031 - T (ABC123-R)", "url": "https://youtu.be/abcdefghijk"}]',
    "year,video_title,url\n2031,T,https://youtu.be/abcdefghijk\n",
    "| [T](https://www.youtube.com/watch?v=abcdefghijk) | 2031-01-01 |",
]


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.sampled_from(SEEDS),
    cut=st.integers(min_value=0, max_value=200),
    noise=st.text(max_size=40),
    kind=st.sampled_from(
        ["auto", "feed", "whats-new", "news-blog", "html", "markdown", "sessions", "youtube-playlist"]
    ),
)
def test_mutated_documents_only_raise_extract_error(seed: str, cut: int, noise: str, kind: str) -> None:
    text = seed[:cut] + noise + seed[cut:]
    try:
        docs = extract(text, url="https://example.org/doc", kind=kind)
    except ExtractError as exc:
        assert not exc.message.startswith("could not extract"), exc.message  # an internal failure, wrapped
        return
    assert isinstance(docs, list)


@settings(max_examples=150, deadline=None, database=None)
@given(body=st.binary(max_size=300), content_type=st.sampled_from([None, "text/html; charset=utf-16", "text/xml"]))
def test_random_bytes_only_raise_extract_error(body: bytes, content_type: str | None) -> None:
    try:
        extract(body, url="https://example.org/bytes", content_type=content_type)
    except ExtractError as exc:
        assert not exc.message.startswith("could not extract"), exc.message


@settings(max_examples=100, deadline=None, database=None)
@given(text=st.text(alphabet=st.sampled_from(list("*_[]()<>#-|`&;!\n :/.abcNew{}%")), max_size=200))
def test_markup_soup_only_raises_extract_error(text: str) -> None:
    try:
        extract(text, url="https://example.org/md")
    except ExtractError as exc:
        assert not exc.message.startswith("could not extract"), exc.message


def test_a_feed_item_is_completed_from_its_page() -> None:
    from datetime import UTC, datetime

    from tracker.extract import completed_from_page
    from tracker.items import Announcement, ConferenceSession, Document

    when = datetime(2031, 5, 6, tzinfo=UTC)
    earlier = datetime(2031, 5, 1, tzinfo=UTC)
    item = Document(
        "https://example.org/p", title="Feed title", categories=("storage",), sessions=(ConferenceSession("a", "A"),)
    )
    page = Document(
        "https://example.org/p",
        title="Page title",
        author="Page author",
        published_at=when,
        announcements=(Announcement("Amazon Widgets Turbo"),),
        sessions=(ConferenceSession("b", "B"),),
    )
    merged = completed_from_page(item, page)
    # The feed's metadata stays; what the feed lacks and the full text come from the page.
    assert (merged.title, merged.categories) == ("Feed title", ("storage",))
    assert (merged.author, merged.published_at) == ("Page author", when)
    assert merged.announcements == page.announcements
    assert [s.key for s in merged.sessions] == ["a", "b"]
    # The item's own values win, and a page without launches leaves the item's.
    dated = Document(
        "https://example.org/p", author="Feed author", published_at=earlier, announcements=(Announcement("X"),)
    )
    kept = completed_from_page(dated, Document("https://example.org/p", author="Other", published_at=when))
    assert (kept.author, kept.published_at, kept.announcements) == ("Feed author", earlier, dated.announcements)
