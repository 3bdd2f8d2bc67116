"""Session sources end to end: a YouTube playlist feed as a configured source, linked to a recap.

A real loopback HTTP server serves the feed (Atom, as YouTube publishes it at
/feeds/videos.xml?playlist_id=...), the pipeline stores its videos as sessions of the event the
playlist names, and the launches of a recap from another document link to them by content.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.http import FixtureServer
from tracker import pipeline
from tracker.config import SourceConfig, load_settings
from tracker.extract import extract
from tracker.link import WHATS_NEW_SCORE
from tracker.store.db import open_store, unit_of_work
from tracker.store.queries import list_sessions, query_announcements

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "link"
FEED = "youtube-playlist-2031.xml"


def test_youtube_playlist_feed_becomes_sessions() -> None:
    body = (FIXTURES / FEED).read_bytes()
    [doc] = extract(body, url="https://www.youtube.com/feeds/videos.xml?playlist_id=PLx", kind="youtube-playlist")
    assert doc.kind == "session-listing" and doc.event == "AWS re:Invent 2031" and not doc.announcements
    by_code = {s.code: s for s in doc.sessions}
    assert set(by_code) == {"STG301", "STG201", "CUL210"}
    launch = by_code["STG301"]
    assert launch.title == "Introducing Amazon S3 Quantum Buckets"  # event prefix, [LAUNCH] and code gone
    assert launch.url == "https://www.youtube.com/watch?v=QuaNtuM0001"
    assert launch.kind == "breakout"  # from the playlist's name
    assert launch.event == "AWS re:Invent 2031"
    assert launch.published_at is not None and launch.published_at.isoformat().startswith("2031-12-03")
    assert launch.abstract and "collapse" in launch.abstract  # media:description
    # auto-detection sees a video feed as a session listing as well
    [auto] = extract(body, url="https://example.org/feed.xml")
    assert {s.code for s in auto.sessions} == set(by_code)


@pytest.fixture
def feed_server(http_server: FixtureServer) -> FixtureServer:
    http_server.route("/feeds/videos.xml", (FIXTURES / FEED).read_bytes(), content_type="application/atom+xml")
    return http_server


def test_playlist_source_links_launches_from_another_document(
    feed_server: FixtureServer, database_url: str, tmp_path: Path
) -> None:
    settings = load_settings(REPO / "config", environ={}).with_overrides(
        database_url=database_url, output_dir=tmp_path / "feeds", archive_dir=tmp_path / "archive"
    )
    sources = (
        SourceConfig(name="recap", url=str(FIXTURES / "recap-reinvent-2031-storage.md"), kind="markdown"),
        SourceConfig(
            name="reinvent-2031-breakouts",
            url=feed_server.url("/feeds/videos.xml?playlist_id=PLfixture2031breakouts"),
            kind="youtube-playlist",
        ),
    )
    report = pipeline.run(settings, sources=sources, do_publish=False)
    assert not report.failed
    assert report.counts["links_across_documents"] >= 1

    factory = open_store(database_url)
    with unit_of_work(factory) as session:
        stored = {s.code: s for s in list_sessions(session, event="AWS re:Invent 2031") if s.code}
        records = {r.title: r for r in query_announcements(session, event="aws-reinvent-2031")}
    assert set(stored) == {"STG301", "STG201", "CUL210"}
    quantum = records["Amazon S3 Quantum Buckets"]
    links = {sl.session.code: sl.link for sl in quantum.sessions if sl.session.code}
    # the launch session covers it, and so does the event's round-up "What's new with Amazon
    # S3"; the session sharing only words ("quantum", "bucket") without naming S3 stays below
    assert set(links) == {"STG301", "STG201"}
    assert links["STG301"].method == "title" and links["STG301"].score >= settings.link_threshold
    assert "quantum" in links["STG301"].reason and "Amazon S3" in links["STG301"].reason
    assert links["STG201"].score == WHATS_NEW_SCORE and "what's new" in links["STG201"].reason
    assert any(sl.session.kind == "keynote" and sl.link.method == "structural" for sl in quantum.sessions)
    # every other S3 launch of the event is in the round-up too, and in no other session
    tape = records["Amazon S3 Tape Mode"]
    assert {sl.session.code for sl in tape.sessions if sl.session.code} == {"STG201"}

    # a second run changes nothing
    again = pipeline.run(settings, sources=sources, do_publish=False)
    assert again.counts["links_across_documents"] == 0

    # raising the threshold above the link's score removes it on the next run; structural links stay
    stricter = settings.with_overrides(link_threshold=1.01)
    pipeline.link_across_documents(pipeline.Context(stricter))
    with unit_of_work(factory) as session:
        [after] = [r for r in query_announcements(session, event="aws-reinvent-2031") if r.title == quantum.title]
    assert {sl.link.method for sl in after.sessions} == {"structural"}
