"""Storing a document writes its rows a table at a time: the statements it costs do not grow with its
announcements, and storing the same document again changes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, inspect, select, text

from tracker.config import PACKAGE_ROOT, Settings, SourceConfig
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
    # A batch is first stored as one, without savepoints; a document failing rolls it all back
    # (the revision it had taken with it) and the batch is stored again document by document,
    # with one savepoint each. The launches of the good documents must still be above the
    # revision before the batch.
    from tracker.errors import StoreError
    from tracker.pipeline import ingest

    real = ingest._plan
    planned: list[str] = []

    def failing(ctx: Context, session: Any, doc: Document, *args: Any, **kwargs: Any) -> Any:
        plan = real(ctx, session, doc, *args, **kwargs)  # its document and sessions are written, then it fails
        planned.append(doc.url)
        if doc.url.endswith("/bad"):
            raise StoreError("refused", url=doc.url)
        return plan

    monkeypatch.setattr(ingest, "_plan", failing)
    before = revision(ctx)
    docs = [recap("good1", 3, sessions=1), recap("bad", 3, sessions=1), recap("good2", 3, sessions=1)]
    outcome = ingest.SourceOutcome("test")
    assert ingest.ingest_many(
        ctx, (ingest.Prepared(d, None) for d in docs), outcome, source="test", declared_event=None
    )
    assert outcome.counts["documents_failed"] == 1
    # Stored together until the bad one failed, then one by one.
    assert [u.rsplit("/", 1)[1] for u in planned] == ["good1", "bad", "good1", "bad", "good2"]
    changed = changed_after(ctx, before)
    assert sorted(changed) == sorted(clean(a.title) for d in (docs[0], docs[2]) for a in d.announcements)
    assert all(before < rev <= revision(ctx) for rev in changed.values())


@pytest.fixture
def twin_url(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[str]:
    """A second fresh store of the same kind as `database_url`."""
    if database_url.startswith("sqlite"):
        from tests.conftest import copy_sqlite

        target = tmp_path / "twin.db"
        copy_sqlite(request.getfixturevalue("sqlite_template"), target)
        yield f"sqlite:///{target}"
        return
    from tests.conftest import postgres_database

    with postgres_database(
        request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_template")
    ) as url:
        yield url


def corpus_documents(ctx: Context, root: Path, fixtures: Path) -> list[Document]:
    """The documents of a small synthetic backfill (launch posts, a What's New feed of 100 items
    that repeats some of them in other words, re:Invent recaps) and of the project's fixtures."""
    from tests.benchmarks.corpus import CorpusSize, generate
    from tracker.extract import extract
    from tracker.sources.fetch import _guess_type

    manifest = generate(root, CorpusSize(posts=20, whats_new=100, announcements=200))
    files = [Path(f) for f in manifest.backfill_files()]
    files += [fixtures / "extract" / n for n in ("whats-new-feed.xml", "news-blog-feed.xml", "recap-reinvent-2031.md")]
    files += [fixtures / "extract" / n for n in ("roundup-page.html", "post-page.html", "keynote-references.md")]
    # Recaps with sessions that their launches link to, and one listing again, under its own
    # URL, launches that an earlier document of the batch stored.
    alpha = recap("alpha", 12, sessions=3)
    docs: list[Document] = [alpha]
    for path in files:
        docs += extract(path.read_bytes(), url=path.as_uri(), content_type=_guess_type(path), rules=ctx.rules)
    again = replace(recap("beta", 6, sessions=2), url="https://recaps.example.org/beta-again")
    return [*docs, recap("beta", 6, sessions=2), replace(again, announcements=alpha.announcements[:5])]


def contents(ctx: Context, *, revisions: bool = True) -> dict[str, list[tuple[Any, ...]]]:
    """What the store holds of documents, announcements and what links them, by natural keys;
    ids as their rank (the order they were given in), so two stores filled alike compare equal
    (`revisions=False`: without the revisions, which count transactions)."""
    engine: Engine = ctx.factory.kw["bind"]
    with engine.connect() as conn:

        def ranks(table: str) -> dict[int, int]:
            return {i: n for n, (i,) in enumerate(conn.execute(text(f"SELECT id FROM {table} ORDER BY id")))}

        ann, docs, sess = ranks("announcements"), ranks("documents"), ranks("sessions")
        revision = ", revision" if revisions else ""
        columns = (
            f"key, title, summary, url, announced_at, announced_at_source, status, event_id, content_hash{revision}"
        )
        out: dict[str, list[tuple[Any, ...]]] = {
            "announcements": [
                (ann[r[0]], *r[1:]) for r in conn.execute(text(f"SELECT id, {columns} FROM announcements"))
            ],
            "documents": [
                (docs[r[0]], *r[1:])
                for r in conn.execute(text("SELECT id, url, title, content_hash, source_id FROM documents"))
            ],
            "sessions": [
                (sess[r[0]], *r[1:])
                for r in conn.execute(
                    text(f"SELECT id, natural_key, title, kind, code, event_id{revision} FROM sessions")
                )
            ],
            "services": list(
                conn.execute(text("SELECT announcement_id, service_id, sort_at FROM announcement_services"))
            ),
            "regions": list(conn.execute(text("SELECT announcement_id, region_id FROM announcement_regions"))),
            "mentions": list(
                conn.execute(text("SELECT id, announcement_id, document_id, excerpt, position, rule FROM mentions"))
            ),
            "session_links": list(
                conn.execute(
                    text("SELECT announcement_id, session_id, method, score, reason FROM announcement_sessions")
                )
            ),
        }
        mentions = ranks("mentions")
        out["services"] = [(ann[a], s, at) for a, s, at in out["services"]]
        out["regions"] = [(ann[a], r) for a, r in out["regions"]]
        out["mentions"] = [(mentions[i], ann[a], docs[d], *rest) for i, a, d, *rest in out["mentions"]]
        out["session_links"] = [(ann[a], sess[s], *rest) for a, s, *rest in out["session_links"]]
    return {name: sorted(rows, key=repr) for name, rows in out.items()}


def test_a_batch_stored_together_stores_what_storing_it_document_by_document_does(
    ctx: Context, twin_url: str, tmp_path: Path, fixtures: Path
) -> None:
    # `ingest_documents` writes a batch's documents with one statement per table: every launch
    # merged, deduplicated, mentioned and linked exactly as storing the documents one after
    # the other in the same transaction, down to the order of the ids.
    from tracker.pipeline.ingest import Prepared, ingest_documents

    docs = corpus_documents(ctx, tmp_path / "corpus", fixtures)
    assert len({d.url for d in docs}) == len(docs) > 100  # distinct URLs: stored as one batch
    one_by_one = Context(Settings(config_dir=PACKAGE_ROOT / "config", database_url=twin_url), now=NOW)
    for run in range(2):  # new documents, then the same documents stored again (re-extracted)
        if run:
            ctx.version = one_by_one.version = f"{ctx.version}+again"
        with statements(ctx) as together, unit_of_work(ctx.factory) as session:
            counted = ingest_documents(
                ctx, session, [Prepared(d, None) for d in docs], source="corpus", declared_event=None
            )
        with statements(one_by_one) as alone, unit_of_work(one_by_one.factory) as session:
            each = [ingest_document(one_by_one, session, doc, source="corpus", archive_sha=None) for doc in docs]
        assert counted == each  # each document's counts, its mentions and links included
        expected = sum(each, Counter())
        if not run:
            assert expected["announcements_created"] > 100 and expected["mentions"] > 100
            assert expected["announcements_merged"] and expected["links"] and expected["sessions"]
        else:
            assert expected["documents_changed"] == len(docs) and expected["announcements_unchanged"] > 100
        assert contents(ctx) == contents(one_by_one)
        assert len(together) * 4 < len(alone)


def small_files(root: Path, fixtures: Path) -> list[SourceConfig]:
    """Sources of one small file each (launch posts, recaps, a feed), as a backfill imports them."""
    from tests.benchmarks.corpus import CorpusSize, generate

    manifest = generate(root, CorpusSize(posts=20, whats_new=100, announcements=200))
    files = [*manifest.backfill_files(), str(fixtures / "extract" / "whats-new-feed.xml")]
    files.append(str(fixtures / "extract" / "roundup-page.html"))
    return [SourceConfig(name=f"import:{f}", url=f, kind="auto") for f in files]


def test_a_run_stores_small_sources_together_as_each_on_its_own(
    ctx: Context, twin_url: str, tmp_path: Path, fixtures: Path
) -> None:
    # A run stores sources of a few documents together (one transaction for a batch's worth of
    # them); each source's outcome and the store end as when each is stored on its own.
    from tracker import pipeline
    from tracker.pipeline.ingest import process_source
    from tracker.sources import Fetcher

    sources = small_files(tmp_path / "corpus", fixtures)
    assert len(sources) > 30
    engine: Engine = ctx.factory.kw["bind"]
    commits: list[object] = []

    def count(conn: object) -> None:
        commits.append(conn)

    event.listen(engine, "commit", count)
    try:
        report = pipeline.run(ctx.settings, sources=sources, now=NOW, do_publish=False)
    finally:
        event.remove(engine, "commit", count)
    alone = Context(Settings(config_dir=PACKAGE_ROOT / "config", database_url=twin_url), now=NOW)
    with Fetcher(alone.settings.http) as fetcher:
        each = [process_source(alone, fetcher, source) for source in sources]
    assert [o.as_dict() for o in report.outcomes] == [o.as_dict() for o in each]
    assert sum(o.documents for o in each) > 100 and not report.failed
    # The same rows; the revisions differ: several sources share a transaction.
    assert contents(ctx, revisions=False) == contents(alone, revisions=False)
    # A handful of transactions for the run (its start and end, the sources' registration,
    # linking, a transaction per batch of documents), not one or more per source.
    assert len(commits) < len(sources) / 3


def test_a_source_failing_in_a_group_is_stored_again_alone_and_loses_only_itself(
    ctx: Context, tmp_path: Path, fixtures: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tracker import pipeline
    from tracker.errors import StoreError
    from tracker.pipeline import ingest

    sources = small_files(tmp_path / "corpus", fixtures)
    bad = next(s for s in sources if s.url.endswith("index.html"))
    real = ingest._plan

    def failing(ctx: Context, session: Any, doc: Document, *args: Any, **kwargs: Any) -> Any:
        if Path(bad.url).parent.name in doc.url:
            raise StoreError("refused", url=doc.url)
        return real(ctx, session, doc, *args, **kwargs)

    monkeypatch.setattr(ingest, "_plan", failing)
    report = pipeline.run(ctx.settings, sources=sources, now=NOW, do_publish=False)
    outcomes = {o.name: o for o in report.outcomes}
    assert outcomes[bad.name].counts["documents_failed"] == 1 and outcomes[bad.name].documents == 0
    others = [o for name, o in outcomes.items() if name != bad.name]
    assert all(o.status == "ok" and not o.counts["documents_failed"] for o in others)
    assert sum(o.documents for o in others) > 100
    with unit_of_work(ctx.factory) as session:
        stored = set(session.scalars(text("SELECT name FROM sources WHERE last_status = 'ok'")))
    assert stored == set(outcomes)  # every source's outcome saved, the failing one's too (its document failed)
