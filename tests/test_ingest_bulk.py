"""Storing a document writes its rows a table at a time: the statements it costs do not grow with its
announcements, and storing the same document again changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, text

from tracker.config import PACKAGE_ROOT, Settings
from tracker.items import Announcement, ConferenceSession, Document, DocumentKind
from tracker.pipeline import Context, ingest_document
from tracker.store.db import close_stores, unit_of_work

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
# one INSERT each of announcements, their services, their regions, mentions and session links.
# The ORM path sent 73 for five announcements, about five more per announcement.
NEW_DOCUMENT_STATEMENTS = 12


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
