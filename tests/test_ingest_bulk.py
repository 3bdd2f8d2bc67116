"""Storing a document writes its rows a table at a time: the statements it costs do not grow with its
announcements, and storing the same document again changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, select, text

from tracker.config import PACKAGE_ROOT, Settings
from tracker.items import Announcement, ConferenceSession, Document, DocumentKind
from tracker.pipeline import Context, ingest_document
from tracker.store.changes import store_revision
from tracker.store.db import close_stores, unit_of_work
from tracker.store.models import AnnouncementRow, SessionRow
from tracker.store.published import changed_since
from tracker.store.queries import query_announcements
from tracker.textutil import clean_text as clean

NOW = datetime(2031, 12, 10, 12, 0, tzinfo=UTC)
EVENT = "AWS re:Invent 2031"
SERVICES = ("Amazon S3", "AWS Lambda", "Amazon Aurora", "Amazon Redshift", "Amazon DynamoDB")
WORDS = ("tiered", "columnar", "adaptive", "streaming", "encrypted", "elastic", "scheduled", "private")
NOUNS = ("snapshots", "replicas", "exports", "alarms", "pools", "indexes", "queues", "reports")


def recap(name: str, launches: int, *, sessions: int = 3) -> Document:
    """A recap of an event: sessions with codes, and launches of several services, some in a
    partition, each listed under one of the sessions (so each gets a structural link)."""
    confs = tuple(
        ConferenceSession(
            key=f"{name.upper()}{n:03d}",
            title=f"What's new in {SERVICES[n % len(SERVICES)]} ({name} {n})",
            kind="breakout",
            code=f"{name.upper()}{n:03d}",
            event=EVENT,
        )
        for n in range(sessions)
    )
    announcements = []
    for i in range(launches):
        service = SERVICES[i % len(SERVICES)]
        where = " in AWS GovCloud (US)" if i % 7 == 3 else ""
        title = f"{service} adds {WORDS[i % len(WORDS)]} {NOUNS[(i // 3) % len(NOUNS)]} {name}-{i}{where}"
        announcements.append(
            Announcement(
                title=title,
                summary=f"{title}. Available today.",
                published_at=NOW - timedelta(days=i % 5),
                sessions=(confs[i % sessions].key,) if sessions else (),
                rule="test",
                excerpt=f"Announcing {title}",
                position=i,
            )
        )
    return Document(
        url=f"https://recaps.example.org/{name}",
        title=f"{EVENT} recap: {name}",
        published_at=NOW,
        event=EVENT,
        announcements=tuple(announcements),
        sessions=confs,
        kind=DocumentKind.RECAP,
    )


@pytest.fixture
def ctx(database_url: str) -> Iterator[Context]:
    """A run's context on a fresh store (SQLite, then PostgreSQL)."""
    close_stores()
    yield Context(Settings(config_dir=PACKAGE_ROOT / "config", database_url=database_url), now=NOW)
    close_stores()


@contextmanager
def statements(ctx: Context) -> Iterator[list[str]]:
    """The SQL statements sent to the database meanwhile: one per round trip (an executemany is one)."""
    engine: Engine = ctx.factory.kw["bind"]
    sent: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # The transaction's BEGIN is a batch's, not a document's (and SQLite's alone: psycopg's is implicit).
        if statement.strip().upper() != "BEGIN":
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def store(ctx: Context, doc: Document) -> tuple[dict[str, int], list[str]]:
    """Store one document as a batch does (a savepoint in a transaction); its counts and statements."""
    with statements(ctx) as sent, unit_of_work(ctx.factory) as session, session.begin_nested():
        counts = ingest_document(ctx, session, doc, source=None, archive_sha=None)
    return dict(counts), sent


def writes(sent: list[str]) -> list[str]:
    return [s for s in sent if s.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))]


def snapshot(ctx: Context) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table but the runs', in a stable order."""
    engine: Engine = ctx.factory.kw["bind"]
    tables = [t for t in inspect(engine).get_table_names() if t not in ("runs", "alembic_version")]
    with engine.connect() as conn:
        return {
            t: sorted((tuple(r) for r in conn.execute(text(f"SELECT * FROM {t}"))), key=repr)
            for t in tables
            if not t.startswith("announcements_fts")
        }


# The statements of a new document: SAVEPOINT and its RELEASE (as a batch that stores it again
# one by one does); the document's look-up and INSERT; its sessions' look-up and INSERT; the
# stored launches under its keys with the dedupe candidates of its launches (one statement);
# one INSERT each of announcements, their services, their regions, mentions and session links;
# the store's revision bumped (once per transaction: a batch of documents pays it once).
# The ORM path sent 73 for five announcements, about five more per announcement.
NEW_DOCUMENT_STATEMENTS = 13


def test_statements_per_document_do_not_grow_with_its_announcements(ctx: Context) -> None:
    store(ctx, recap("warmup", 4))  # the run's first document looks up the event once
    sent: dict[int, list[str]] = {}
    for launches in (5, 50, 500):
        counts, sent[launches] = store(ctx, recap(f"r{launches}", launches))
        assert counts["announcements_created"] == launches
        assert counts["links"] == launches
        assert counts["mentions"] == launches
    assert len(sent[5]) <= NEW_DOCUMENT_STATEMENTS, sent[5]
    assert len(sent[500]) == len(sent[50]) == len(sent[5]), (sent[5], sent[500])
    assert sum(s.lstrip().upper().startswith("INSERT INTO ANNOUNCEMENTS ") for s in sent[500]) == 1


def test_storing_the_same_document_twice_changes_nothing(ctx: Context) -> None:
    doc = recap("twice", 40, sessions=4)
    first, _ = store(ctx, doc)
    assert first["announcements_created"] == 40 and first["sessions"] == 4
    before = snapshot(ctx)

    again, sent = store(ctx, doc)
    assert again == {"documents_unchanged": 1}
    assert writes(sent) == []
    assert snapshot(ctx) == before

    # Stored again through every merge, as after a taxonomy change: only the document's own
    # row records the new version; every announcement, mention, link and session is as it was.
    ctx.version = f"{ctx.version}+again"
    again, sent = store(ctx, doc)
    assert again == {"documents_changed": 1, "announcements_unchanged": 40, "sessions": 4}
    assert [s.split()[:2] for s in writes(sent)] == [["UPDATE", "documents"]]
    after = snapshot(ctx)
    assert {t: rows for t, rows in after.items() if t != "documents"} == {
        t: rows for t, rows in before.items() if t != "documents"
    }
    assert len(sent) <= NEW_DOCUMENT_STATEMENTS + 2, sent


def revision(ctx: Context) -> int:
    with unit_of_work(ctx.factory) as session:
        return store_revision(session)


def changed_after(ctx: Context, since: int) -> dict[str, int]:
    """The announcements whose revision rose after `since`: title -> revision."""
    with unit_of_work(ctx.factory) as session:
        ids = changed_since(session, since)
        rows = session.execute(
            select(AnnouncementRow.title, AnnouncementRow.revision).where(AnnouncementRow.id.in_(ids))
        )
        return {title: rev for title, rev in rows}


def edited(doc: Document, **changes: Announcement) -> Document:
    """The document with some of its announcements (by position) replaced."""
    launches = list(doc.announcements)
    for position, ann in changes.items():
        launches[int(position.removeprefix("at"))] = ann
    return replace(doc, announcements=tuple(launches))


def test_a_new_document_writes_its_launches_and_sessions_at_one_new_revision(ctx: Context) -> None:
    start = revision(ctx)
    store(ctx, recap("first", 12, sessions=3))
    assert revision(ctx) == start + 1  # one transaction, one revision
    changed = changed_after(ctx, start)
    assert len(changed) == 12 and set(changed.values()) == {start + 1}
    with unit_of_work(ctx.factory) as session:
        assert set(session.scalars(select(SessionRow.revision))) == {start + 1}


def test_storing_the_same_document_again_keeps_every_revision(ctx: Context) -> None:
    doc = recap("again", 10)
    store(ctx, doc)
    stored = revision(ctx)
    store(ctx, doc)  # unchanged: the document is not even read further
    ctx.version = f"{ctx.version}+again"
    store(ctx, doc)  # stored again through every merge: nothing a feed shows changed
    assert revision(ctx) == stored
    assert changed_after(ctx, 0) and changed_after(ctx, stored) == {}


def test_a_changed_document_raises_the_revision_of_exactly_the_launches_it_changed(ctx: Context) -> None:
    doc = recap("edit", 10, sessions=3)
    store(ctx, doc)
    before = revision(ctx)
    titles = [clean(a.title) for a in doc.announcements]
    new_launch = replace(doc.announcements[9], title="Amazon S3 adds lifecycle previews edit-new")
    changed = edited(
        doc,
        at2=replace(doc.announcements[2], summary="Edited at the source: now in every Region."),
        at5=replace(doc.announcements[5], sessions=(doc.sessions[(5 + 1) % 3].key,)),  # linked to another session
        at9=new_launch,  # launch 9 dropped, a new one in its place
    )
    counts, _ = store(ctx, changed)
    assert counts["announcements_updated"] == 1 and counts["announcements_created"] == 1
    assert counts["announcements_unchanged"] == 8 and counts["links"] == 2
    assert revision(ctx) == before + 1
    assert changed_after(ctx, before) == {titles[2]: before + 1, titles[5]: before + 1, new_launch.title: before + 1}


def test_a_launch_mentioned_by_another_document_is_marked_and_nothing_else(ctx: Context) -> None:
    doc = recap("seen", 6, sessions=2)
    store(ctx, doc)
    before = revision(ctx)
    other = Document(
        url="https://blog.example.org/one-launch-again",
        title="One launch, written up again",
        published_at=NOW,
        announcements=(replace(doc.announcements[4], sessions=()),),
        kind=DocumentKind.POST,
    )
    counts, _ = store(ctx, other)
    assert counts["announcements_unchanged"] == 1 and counts["mentions"] == 1
    assert changed_after(ctx, before) == {clean(doc.announcements[4].title): before + 1}


def test_a_session_whose_linked_fields_change_marks_its_launches(ctx: Context) -> None:
    doc = recap("kind", 6, sessions=2)
    generic = replace(doc, sessions=tuple(replace(c, kind="session") for c in doc.sessions))
    store(ctx, generic)
    before = revision(ctx)
    with unit_of_work(ctx.factory) as session:
        assert set(session.scalars(select(SessionRow.kind))) == {"session"}
    # The same sessions, now known as breakouts (a generic kind is replaced by a specific one):
    # every launch linked to them shows the kind.
    ctx.version = f"{ctx.version}+kinds"
    store(ctx, doc)
    with unit_of_work(ctx.factory) as session:
        assert set(session.scalars(select(SessionRow.kind))) == {"breakout"}
        assert set(session.scalars(select(SessionRow.revision))) == {before + 1}
    assert sorted(changed_after(ctx, before)) == sorted(clean(a.title) for a in doc.announcements)


def test_the_search_index_follows_bulk_writes(ctx: Context) -> None:
    store(ctx, recap("fts", 14, sessions=2))
    with unit_of_work(ctx.factory) as session:
        every = query_announcements(session, search="streaming")
        assert every and all("streaming" in r.title for r in every)
        in_lambda = query_announcements(session, search="streaming", service="AWS Lambda")
        assert in_lambda and {r.key for r in in_lambda} < {r.key for r in every}
        assert all("AWS Lambda" in r.title for r in in_lambda)
        govcloud = query_announcements(session, search="fts", region="AWS GovCloud (US)")
        assert sorted(r.title for r in govcloud) == sorted(
            clean(t) for t in (a.title for a in recap("fts", 14).announcements) if "GovCloud" in t
        )


def test_a_batch_stored_again_after_a_failing_document_keeps_the_revisions(
    ctx: Context, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch is first stored without savepoints; a document failing rolls it all back (the
    # revision it had taken with it) and the batch is stored again with one savepoint each.
    # The launches of the good documents must still be above the revision before the batch.
    from tracker.errors import StoreError
    from tracker.pipeline import ingest

    real = ingest.ingest_document

    def failing(ctx: Context, session: Any, doc: Document, **kwargs: Any) -> Any:
        counts = real(ctx, session, doc, **kwargs)  # its rows are written, then it fails
        if doc.url.endswith("/bad"):
            raise StoreError("refused", url=doc.url)
        return counts

    monkeypatch.setattr(ingest, "ingest_document", failing)
    before = revision(ctx)
    docs = [recap("good1", 3, sessions=1), recap("bad", 3, sessions=1), recap("good2", 3, sessions=1)]
    outcome = ingest.SourceOutcome("test")
    assert ingest.ingest_many(
        ctx, (ingest.Prepared(d, None) for d in docs), outcome, source="test", declared_event=None
    )
    assert outcome.counts["documents_failed"] == 1
    changed = changed_after(ctx, before)
    assert sorted(changed) == sorted(clean(a.title) for d in (docs[0], docs[2]) for a in d.announcements)
    assert all(before < rev <= revision(ctx) for rev in changed.values())
