"""The store's revision: every write that changes what a feed entry shows marks its announcement,
and nothing else does (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import Announcement, ConferenceSession, Link, NormalizedAnnouncement, Service
from tracker.store.announcements import (
    add_mention,
    get_or_create_event,
    sync_services,
    upsert_announcement,
)
from tracker.store.changes import mark_changed, store_revision
from tracker.store.db import close_stores, open_store, unit_of_work
from tracker.store.documents import upsert_document
from tracker.store.models import AnnouncementRow, SessionRow
from tracker.store.published import changed_since
from tracker.store.sessions import link_session, unlink_session, upsert_session

NOW = datetime(2031, 12, 1, tzinfo=UTC)
S3 = Service("amazon-s3", "Amazon S3", aliases=("S3",), category="Storage")
LAMBDA = Service("aws-lambda", "AWS Lambda", category="Compute")


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on an empty store (both databases)."""
    try:
        yield open_store(database_url)
    finally:
        close_stores()


def store(
    session: Session, key: str, *, summary: str = "", services: tuple[Service, ...] = (S3,), event_id: int | None = None
) -> int:
    url = f"https://aws.example.test/new/{key}/"
    ann = Announcement(title=f"Launch {key}", summary=summary or key, url=url, rule="test")
    na = NormalizedAnnouncement(key=key, announcement=ann, services=services, url=url, announced_at=NOW)
    return upsert_announcement(session, na, now=NOW, event_id=event_id, document_url=url).id


def document(session: Session, url: str) -> int:
    return upsert_document(
        session,
        url=url,
        title="A recap",
        author=None,
        published_at=None,
        content_hash=url,
        extractor_version="test",
        archive_sha=None,
        source_name=None,
        kind="recap",
        fetched_at=NOW,
    ).id


def revision(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return store_revision(session)


def changed_after(factory: sessionmaker[Session], since: int) -> list[int]:
    with unit_of_work(factory) as session:
        return changed_since(session, since)


def test_new_and_edited_announcements_are_marked_and_unchanged_ones_are_not(factory: sessionmaker[Session]) -> None:
    start = revision(factory)
    with unit_of_work(factory) as session:
        first = store(session, "first")
        second = store(session, "second")
    created = revision(factory)
    assert created == start + 1  # one transaction, one revision
    assert changed_after(factory, start) == [first, second]

    with unit_of_work(factory) as session:
        store(session, "first")  # the same again: nothing changes
    assert revision(factory) == created and changed_after(factory, created) == []

    with unit_of_work(factory) as session:
        store(session, "first", summary="Edited at the source.")
    assert changed_after(factory, created) == [first]
    edited = revision(factory)
    with unit_of_work(factory) as session:
        store(session, "second", services=(S3, LAMBDA))  # a service more: its feeds change
    assert changed_after(factory, edited) == [second]


def test_links_mentions_and_linked_rows_mark_their_announcements(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        ann = store(session, "linked")
        other = store(session, "other")
        event = get_or_create_event(session, "reinvent-2031", "AWS re:Invent 2031", 2031)
        sid = upsert_session(
            session, ConferenceSession(key="k", title="Keynote", kind="keynote"), event_id=event, event_slug=None
        )
    steps = []

    def step(what: str) -> list[int]:
        before = revision(factory)
        with unit_of_work(factory) as session:
            if what == "mention":
                add_mention(
                    session, ann, document(session, "https://blog.example.test/recap"), excerpt="", position=0, rule="t"
                )
            elif what == "mention again":  # the same mention re-read: its excerpt is not published
                add_mention(
                    session,
                    ann,
                    document(session, "https://blog.example.test/recap"),
                    excerpt="x",
                    position=3,
                    rule="t",
                )
            elif what == "link":
                link_session(session, ann, sid, Link("structural", 1.0, "listed"))
            elif what == "stronger link":
                link_session(session, ann, sid, Link("structural", 0.5, "listed again"))
            elif what == "session renamed":
                row = session.get(SessionRow, sid)
                assert row is not None
                row.title = "Opening keynote"
            elif what == "session abstract":  # not in any feed
                row = session.get(SessionRow, sid)
                assert row is not None
                row.abstract = "What the keynote covers."
            elif what == "event renamed":
                get_or_create_event(session, "reinvent-2031", "re:Invent 2031", 2031)
            elif what == "unlink":
                unlink_session(session, ann, sid)
        steps.append(what)
        return changed_after(factory, before)

    assert step("mention") == [ann]
    assert step("mention again") == []
    assert step("link") == [ann]
    assert step("stronger link") == [ann]
    assert step("session renamed") == [ann]
    assert step("session abstract") == []
    assert step("event renamed") == [ann]  # through its session's event
    assert step("unlink") == [ann]
    assert steps and other not in changed_after(factory, 1)  # created at revision 1, never changed since


def test_a_renamed_service_marks_every_announcement_of_it(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        s3 = [store(session, f"s3-{n}") for n in range(3)]
        store(session, "lambda", services=(LAMBDA,))
    before = revision(factory)
    with unit_of_work(factory) as session:
        sync_services(
            session, [Service("amazon-s3", "Amazon S3", aliases=("S3", "Simple Storage"), category="Storage")]
        )
    assert changed_after(factory, before) == []  # an alias is not published
    with unit_of_work(factory) as session:
        sync_services(session, [Service("amazon-s3", "Amazon Simple Storage Service", category="Storage")])
    assert changed_after(factory, before) == s3


def test_a_rolled_back_savepoint_does_not_hide_a_later_change(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        ann = store(session, "once")
    before = revision(factory)
    with unit_of_work(factory) as session:
        try:
            with session.begin_nested():
                store(session, "once", summary="A change that fails.")
                raise RuntimeError("the document fails")
        except RuntimeError:
            pass
        store(session, "once", summary="A change that stays.")
    assert changed_after(factory, before) == [ann]
    with unit_of_work(factory) as session:
        row = session.scalar(select(AnnouncementRow).where(AnnouncementRow.id == ann))
        assert row is not None and row.revision > before and row.summary == "A change that stays."


def test_a_core_write_marks_by_hand(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        ann = store(session, "bulk")
    before = revision(factory)
    with unit_of_work(factory) as session:
        mark_changed(session, [ann])
        mark_changed(session, [ann])  # once per transaction is enough
    assert changed_after(factory, before) == [ann]
    assert revision(factory) == before + 1
