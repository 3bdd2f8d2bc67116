"""What the store keeps of hostile input: public http(s) links only, text without terminal
controls, errors without credentials; on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.store.announcements import upsert_announcement
from tracker.store.db import unit_of_work
from tracker.store.models import AnnouncementRow, RunRow, SessionRow, SourceRow
from tracker.store.queries import last_runs, list_source_states, query_announcements
from tracker.store.runs import finish_run, start_run
from tracker.store.sessions import upsert_session
from tracker.store.sources import get_or_create_source, record_fetch_failure

from .conftest import NOW, announcement, conf_session

SECRETS = ("s3cretpw", "T0KEN123", "hunter2")


def test_only_http_links_are_stored(factory: sessionmaker[Session]) -> None:
    hostile = [
        "javascript:alert(document.cookie)",
        "data:text/html,<script>alert(1)</script>",
        "JaVaScRiPt:alert(1)",
        "file:///etc/passwd",
        "/home/me/recap.md",
        "vbscript:msgbox(1)",
    ]
    with unit_of_work(factory) as session:
        for n, url in enumerate(hostile):
            na = announcement(f"k{n}", f"Launch {n}", url=None)
            # The normaliser's link is None; the extractor's raw link must not slip in instead.
            na = replace(na, announcement=replace(na.announcement, url=url))
            upsert_announcement(session, na, now=NOW, event_id=None)
            upsert_session(
                session, conf_session(f"Session {n}", code=f"SES{n}", url=url), event_id=None, event_slug=None
            )
        good = upsert_session(
            session,
            conf_session("Keynote", code="KEY1", url="https://www.youtube.com/watch?v=abcdefghijk"),
            event_id=None,
            event_slug=None,
        )
    with unit_of_work(factory) as session:
        assert session.scalars(select(AnnouncementRow.url)).all() == [None] * len(hostile)
        videos = dict(session.execute(select(SessionRow.id, SessionRow.video_url)).all())
        assert videos.pop(good) == "https://www.youtube.com/watch?v=abcdefghijk"
        assert set(videos.values()) == {None}
        for record in query_announcements(session):
            data = record.as_dict()
            assert data["url"] is None and data["sources"] == []


def test_stored_text_has_no_terminal_controls(factory: sessionmaker[Session]) -> None:
    evil = "Amazon\x1b[2J\x1b]0;owned\x07 S3\x07 \u202eVectors\x9b"
    with unit_of_work(factory) as session:
        upsert_announcement(session, announcement("k", evil, summary=evil), now=NOW, event_id=None)
        upsert_session(session, conf_session(evil, code="ABC1", speakers=(evil,)), event_id=None, event_slug=None)
    with unit_of_work(factory) as session:
        row = session.scalars(select(AnnouncementRow)).one()
        ses = session.scalars(select(SessionRow)).one()
        for text in (row.title, row.summary, ses.title, *ses.speakers):
            assert text == "Amazon S3 Vectors", repr(text)


def test_errors_and_source_urls_are_masked(factory: sessionmaker[Session]) -> None:
    url = "http://alice:s3cretpw@feeds.example.org/x.xml?token=T0KEN123&page=2"
    message = f"good, {url}: HTTP 500 after 2 attempts; redirected from https://bob:hunter2@example.org/a?sig=T0KEN123"
    with unit_of_work(factory) as session:
        get_or_create_source(session, "good", kind="feed", url=url)
        record_fetch_failure(session, "good", at=NOW, kind="http", message=message)
        run_id = start_run(session, at=NOW)
        finish_run(
            session,
            run_id,
            at=NOW,
            status="failed",
            counts={},
            outcomes={"good": {"status": "failed", "error": message}},
            error=f"disk error: {message}",
        )
    with unit_of_work(factory) as session:
        stored = [
            session.scalar(select(SourceRow.last_error)),
            session.scalar(select(RunRow.error)),
            str(session.scalar(select(RunRow.outcomes))),
        ]
        shown = [str(list_source_states(session)), str(last_runs(session))]
    for text in stored + shown:
        assert not any(secret in text for secret in SECRETS), text
    assert "feeds.example.org/x.xml?token=***&page=2" in stored[0]
    assert "http://***@feeds.example.org" in shown[0]
