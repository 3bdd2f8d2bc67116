"""Repository functions on SQLite and PostgreSQL: writes are idempotent, reads return items."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import AnnouncementRecord, CachedRobots, CacheValidators, EventCount, Link, Service, SessionRecord
from tracker.store.announcements import (
    UpsertedAnnouncement,
    add_mention,
    feed_groups,
    get_or_create_event,
    sync_services,
    upsert_announcement,
)
from tracker.store.db import unit_of_work
from tracker.store.documents import UpsertedDocument, upsert_document
from tracker.store.models import (
    AnnouncementRow,
    AnnouncementSessionRow,
    Base,
    DocumentRow,
    MentionRow,
    ServiceAliasRow,
    ServiceRow,
    SourceRow,
)
from tracker.store.names import UnknownNameError
from tracker.store.queries import (
    announcements_without_services,
    get_announcement,
    last_runs,
    list_events,
    list_services,
    list_sessions,
    list_source_states,
    query_announcements,
)
from tracker.store.runs import finish_run, start_run
from tracker.store.sessions import (
    NATURAL_KEY_MAX,
    announcements_for_linking,
    link_session,
    session_natural_key,
    sessions_for_linking,
    upsert_session,
)
from tracker.store.sources import (
    get_or_create_source,
    load_robots,
    record_fetch_failure,
    record_fetch_success,
    save_robots,
    source_cache,
)

from .conftest import AURORA, LAMBDA, NOW, REDSHIFT, S3, TAXONOMY, announcement, conf_session

WHATS_NEW = "https://aws.amazon.com/about-aws/whats-new/2030/12/lambda-durable-timers/"
RECAP = "https://dev.example.org/posts/reinvent-2030-recap"
BLOG = "https://aws.amazon.com/blogs/aws/aurora-vector-search/"


def _snapshot(session: Session, *, skip: tuple[str, ...] = ("runs",)) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, ordered: equal snapshots mean nothing changed."""
    out: dict[str, list[tuple[object, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        if table.name in skip:
            continue
        rows = session.execute(select(table).order_by(*table.primary_key.columns)).all()
        out[table.name] = [tuple(r) for r in rows]
    return out


def _ingest(factory: sessionmaker[Session]) -> dict[str, int]:
    """One pass over a small, realistic input: two sources mention the same launch."""
    counts: dict[str, int] = {}
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        get_or_create_source(s, "whats-new", kind="feed", url="https://aws.amazon.com/new/feed/")
        get_or_create_source(s, "recaps", kind="recap", url="https://dev.example.org/feed.xml")
        event_id = get_or_create_event(s, "reinvent-2030", "AWS re:Invent 2030", 2030)

        doc_wn = upsert_document(
            s,
            url=WHATS_NEW,
            title="Lambda durable timers",
            author=None,
            published_at=NOW,
            content_hash="h-wn",
            extractor_version="1",
            archive_sha="a" * 64,
            source_name="whats-new",
            kind="whats-new",
            fetched_at=NOW,
        )
        doc_recap = upsert_document(
            s,
            url=RECAP,
            title="re:Invent 2030 recap",
            author="Jo",
            published_at=NOW + timedelta(days=2),
            content_hash="h-recap",
            extractor_version="1",
            archive_sha="b" * 64,
            source_name="recaps",
            kind="recap",
            fetched_at=NOW,
        )
        first = announcement(
            "lambda-durable-timers",
            "AWS Lambda launches durable timers",
            summary="Timers that survive restarts.",
            url=WHATS_NEW,
            at=NOW,
            services=(LAMBDA,),
        )
        second = announcement(
            "lambda-durable-timers",
            "Durable timers for Lambda",
            summary="",
            url=None,
            at=NOW + timedelta(days=2),
            services=(LAMBDA, S3),
        )
        zero_etl = announcement(
            "aurora-redshift-zero-etl",
            "Aurora zero-ETL integration with Redshift",
            url=BLOG,
            at=NOW - timedelta(days=1),
            services=(AURORA, REDSHIFT),
            status="ga",
        )
        orphan = announcement("mystery-feature", "A mystery feature nobody can place", at=None)
        for na, doc in ((first, doc_wn.id), (second, doc_recap.id), (zero_etl, doc_recap.id), (orphan, doc_recap.id)):
            upserted = upsert_announcement(s, na, now=NOW, event_id=event_id)
            ann_id, status = upserted.id, upserted.status
            counts[status] = counts.get(status, 0) + 1
            add_mention(s, ann_id, doc, excerpt=na.announcement.title, position=0, rule="test")
        keynote = upsert_session(
            s,
            conf_session("Keynote with the CEO", url="https://www.youtube.com/watch?v=AbCdEf12345", kind="keynote"),
            event_id=event_id,
            event_slug="reinvent-2030",
        )
        breakout = upsert_session(
            s,
            conf_session("What's new in serverless", code="SVS301", speakers=("Ana", "Bo")),
            event_id=event_id,
            event_slug="reinvent-2030",
        )
        ids = {a.key: a.id for a in query_announcements(s)}
        link_session(s, ids["lambda-durable-timers"], breakout, Link("structural", 1.0, "listed under it"))
        link_session(s, ids["lambda-durable-timers"], keynote, Link("title", 0.6, "shares 'durable timers'"))
    return counts


# --------------------------------------------------------------------------- idempotence


def test_the_same_input_twice_changes_nothing(factory: sessionmaker[Session]) -> None:
    first = _ingest(factory)
    assert first == {"created": 3, "updated": 1}
    with unit_of_work(factory) as s:
        before = _snapshot(s)
    again = _ingest(factory)
    assert again == {"unchanged": 4}
    with unit_of_work(factory) as s:
        after = _snapshot(s)
    assert after == before
    assert {name: len(rows) for name, rows in after.items()} == {name: len(rows) for name, rows in before.items()}
    assert len(before["announcements"]) == 3 and len(before["mentions"]) == 4


def test_nothing_is_written_on_a_rerun(factory: sessionmaker[Session]) -> None:
    _ingest(factory)
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine)
    writes: list[str] = []

    def spy(conn: object, cursor: object, statement: str, *rest: object) -> None:
        if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            writes.append(statement)

    event.listen(bind, "before_cursor_execute", spy)
    _ingest(factory)
    event.remove(bind, "before_cursor_execute", spy)
    assert writes == []


# --------------------------------------------------------------------------- sources


def test_sources_cache_success_and_failure(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        sid = get_or_create_source(s, "blog", kind="feed", url="https://example.com/a.xml")
        assert get_or_create_source(s, "blog", kind="feed", url="https://example.com/b.xml") == sid
        assert source_cache(s, "blog") == CacheValidators(None, None)
        assert source_cache(s, "never-seen") == CacheValidators(None, None)
        record_fetch_failure(s, "blog", at=NOW, kind="timeout", message="timed out after 30 s")
        record_fetch_failure(s, "blog", at=NOW + timedelta(hours=1), kind="http", message="HTTP 503")
    with unit_of_work(factory) as s:
        (state,) = list_source_states(s)
        assert state.url == "https://example.com/b.xml"
        assert state.consecutive_failures == 2
        assert state.last_error == "HTTP 503" and state.last_error_kind == "http"
        assert state.last_success_at is None
        assert state.last_attempt_at == NOW + timedelta(hours=1)
        record_fetch_success(s, "blog", at=NOW + timedelta(days=1), etag='"v1"', last_modified="Mon, 01 Dec 2030")
        assert source_cache(s, "blog") == CacheValidators('"v1"', "Mon, 01 Dec 2030")
        # A 304 without validators keeps the ones that produced it.
        record_fetch_success(
            s, "blog", at=NOW + timedelta(days=2), etag=None, last_modified=None, status="not-modified"
        )
    with unit_of_work(factory) as s:
        (state,) = list_source_states(s)
        assert state.consecutive_failures == 0 and state.last_error is None
        assert state.last_status == "not-modified"
        assert state.last_success_at == NOW + timedelta(days=2)
        assert source_cache(s, "blog") == CacheValidators('"v1"', "Mon, 01 Dec 2030")


# --------------------------------------------------------------------------- services and events


def test_sync_services_upserts_services_and_aliases(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        sync_services(s, TAXONOMY)
        assert s.scalar(select(func.count()).select_from(ServiceRow)) == 4
        assert s.scalar(select(func.count()).select_from(ServiceAliasRow)) == sum(len(x.aliases) for x in TAXONOMY)
    renamed = replace(LAMBDA, name="AWS Lambda (renamed)", aliases=("Lambda", "Lambda functions", "Lambda"))
    with unit_of_work(factory) as s:
        sync_services(s, (renamed, S3))
    with unit_of_work(factory) as s:
        services = {c.service.slug: c.service for c in list_services(s, with_counts=False)}
        assert services["lambda"].name == "AWS Lambda (renamed)"
        assert services["lambda"].aliases == ("Lambda", "Lambda functions")
        assert set(services) == {"lambda", "s3", "aurora", "redshift"}  # never deleted
        assert services["s3"].category == "Storage"


def test_sync_services_does_not_write_when_nothing_changed(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
    bind = factory.kw["bind"]
    statements: list[str] = []
    event.listen(bind, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
    assert [x for x in statements if x.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))] == []
    assert len([x for x in statements if x.lstrip().upper().startswith("SELECT")]) <= 2


def test_events_get_or_create(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        a = get_or_create_event(s, "reinvent-2030", "AWS re:Invent 2030", 2030)
        b = get_or_create_event(s, "reinvent-2030", "AWS re:Invent 2030")
        c = get_or_create_event(s, "summit-paris-2030", "AWS Summit Paris 2030", 2030)
        assert a == b != c
        assert list_events(s) == [
            EventCount("reinvent-2030", "AWS re:Invent 2030", 0),
            EventCount("summit-paris-2030", "AWS Summit Paris 2030", 0),
        ]


# --------------------------------------------------------------------------- documents


def test_upsert_document_reports_changes(factory: sessionmaker[Session]) -> None:
    args = dict(
        url="https://example.com/post",
        title="Post",
        author=None,
        published_at=NOW,
        content_hash="h1",
        extractor_version="1",
        archive_sha=None,
        source_name="blog",
        kind="post",
        fetched_at=NOW,
    )
    with unit_of_work(factory) as s:
        get_or_create_source(s, "blog", kind="feed", url="https://example.com/feed")
        stored_doc = upsert_document(s, **args)  # type: ignore[arg-type]
        doc_id, changed = stored_doc.id, stored_doc.changed
        assert changed
        assert upsert_document(s, **{**args, "fetched_at": NOW + timedelta(days=1)}) == UpsertedDocument(doc_id, False)  # type: ignore[arg-type]
        assert upsert_document(s, **{**args, "content_hash": "h2"}) == UpsertedDocument(doc_id, True)  # type: ignore[arg-type]
        assert upsert_document(s, **{**args, "content_hash": "h2", "extractor_version": "2"}) == UpsertedDocument(
            doc_id, True
        )  # type: ignore[arg-type]
        assert upsert_document(s, **{**args, "content_hash": "h2", "extractor_version": "2"}) == UpsertedDocument(
            doc_id, False
        )  # type: ignore[arg-type]
    with unit_of_work(factory) as s:
        row = s.scalars(select(DocumentRow)).one()
        assert (row.content_hash, row.extractor_version) == ("h2", "2")
        assert row.source_id == s.scalar(select(SourceRow.id).where(SourceRow.name == "blog"))
        assert row.published_at == NOW and row.published_at.tzinfo is not None


# --------------------------------------------------------------------------- announcements


def test_update_changes_updated_at_but_never_key_or_id(factory: sessionmaker[Session]) -> None:
    na = announcement("k1", "Amazon S3 adds widgets", summary="Widgets.", url=WHATS_NEW, at=NOW, services=(S3,))
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        upserted = upsert_announcement(s, na, now=NOW, event_id=None)
        ann_id, status = upserted.id, upserted.status
        assert status == "created"
    with unit_of_work(factory) as s:
        assert upsert_announcement(s, na, now=NOW + timedelta(hours=1), event_id=None) == UpsertedAnnouncement(
            ann_id, "unchanged"
        )
    later = NOW + timedelta(days=1)
    edited = replace(na, announcement=replace(na.announcement, title="Amazon S3 adds blue widgets"))
    with unit_of_work(factory) as s:
        assert upsert_announcement(s, edited, now=later, event_id=None) == UpsertedAnnouncement(ann_id, "updated")
    with unit_of_work(factory) as s:
        record = get_announcement(s, ann_id)
        assert record is not None
        assert record.key == "k1" and record.id == ann_id
        assert record.title == "Amazon S3 adds blue widgets"
        assert record.updated_at == later
        created = s.scalar(select(AnnouncementRow.created_at).where(AnnouncementRow.id == ann_id))
        assert created == NOW


def test_merge_keeps_earliest_date_unions_services_and_does_not_flip_flop(factory: sessionmaker[Session]) -> None:
    wn = announcement(
        "k",
        "Lambda gets timers",
        summary="Official summary.",
        url=WHATS_NEW,
        at=NOW + timedelta(days=1),
        services=(LAMBDA,),
    )
    recap = announcement("k", "Timers in Lambda (recap)", summary="Recap text.", url=RECAP, at=NOW, services=(S3,))
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        # The recap is seen first, then What's New takes over the published fields.
        ann_id = upsert_announcement(s, recap, now=NOW, event_id=None).id
        assert upsert_announcement(s, wn, now=NOW, event_id=None).status == "updated"
    for _ in range(2):
        with unit_of_work(factory) as s:
            assert upsert_announcement(s, recap, now=NOW, event_id=None).status == "unchanged"
            assert upsert_announcement(s, wn, now=NOW, event_id=None).status == "unchanged"
    with unit_of_work(factory) as s:
        record = get_announcement(s, "k")
    assert record is not None and record.id == ann_id
    assert record.title == "Lambda gets timers" and record.summary == "Official summary."
    assert record.url == WHATS_NEW
    assert record.announced_at == NOW  # earliest
    assert [svc.slug for svc in record.services] == ["s3", "lambda"]  # by display name


def test_a_lesser_source_only_fills_empty_fields(factory: sessionmaker[Session]) -> None:
    first = announcement("k", "Aurora gets vectors", summary="", url=BLOG, at=None)
    other = announcement("k", "Other title", summary="Filled in.", url=RECAP, at=NOW, status="preview")
    with unit_of_work(factory) as s:
        upsert_announcement(s, first, now=NOW, event_id=None)
        event_id = get_or_create_event(s, "reinvent-2030", "AWS re:Invent 2030", 2030)
        assert upsert_announcement(s, other, now=NOW, event_id=event_id).status == "updated"
        record = get_announcement(s, "k")
    assert record is not None
    assert (record.title, record.summary, record.url, record.status) == (
        "Aurora gets vectors",
        "Filled in.",
        BLOG,
        "preview",
    )
    assert record.announced_at == NOW and record.event_slug == "reinvent-2030"


def test_unknown_service_slug_is_created(factory: sessionmaker[Session]) -> None:
    newcomer = Service("quantum-ledger", "AWS Quantum Ledger", ("Quantum Ledger",), "Blockchain")
    with unit_of_work(factory) as s:
        upsert_announcement(
            s, announcement("k", "AWS Quantum Ledger is here", services=(newcomer,)), now=NOW, event_id=None
        )
    with unit_of_work(factory) as s:
        (record,) = query_announcements(s, service="quantum ledger")
        # A record names its services; their aliases are listed by list_services, not carried by every record.
        assert record.services == (replace(newcomer, aliases=()),)
        (listed,) = [c.service for c in list_services(s) if c.service.slug == newcomer.slug]
        assert listed == newcomer


def test_mentions_are_added_once(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        ann_id = upsert_announcement(s, announcement("k", "T"), now=NOW, event_id=None).id
        doc_id = upsert_document(
            s,
            url=RECAP,
            title="",
            author=None,
            published_at=None,
            content_hash="h",
            extractor_version="1",
            archive_sha=None,
            source_name=None,
            kind="recap",
            fetched_at=NOW,
        ).id
        assert add_mention(s, ann_id, doc_id, excerpt="T in a list", position=3, rule="marker") is True
        assert add_mention(s, ann_id, doc_id, excerpt="T in a list", position=3, rule="marker") is False
        assert add_mention(s, ann_id, doc_id, excerpt="T in a new list", position=4, rule="marker") is False
    with unit_of_work(factory) as s:
        row = s.scalars(select(MentionRow)).one()
        assert (row.excerpt, row.position) == ("T in a new list", 4)
        record = get_announcement(s, ann_id)
        assert record is not None and record.sources == (RECAP,)


# --------------------------------------------------------------------------- sessions and links


def test_session_natural_keys() -> None:
    assert session_natural_key(conf_session("x", code="dat342"), "reinvent-2030") == "code:reinvent-2030:DAT342"
    assert session_natural_key(conf_session("x", url="https://youtu.be/AbCdEf12345"), None) == "video:AbCdEf12345"
    assert (
        session_natural_key(conf_session("x", url="https://www.youtube.com/watch?v=AbCdEf12345&t=5"), "e")
        == "video:AbCdEf12345"
    )
    assert session_natural_key(conf_session("x", url="https://vimeo.com/1"), "e") == "video:https://vimeo.com/1"
    assert session_natural_key(conf_session("Café: Ünïcode & more!"), "e") == "title:e:cafe-unicode-more"
    assert len(session_natural_key(conf_session("y" * 2000), "e")) <= NATURAL_KEY_MAX


def test_upsert_session_is_get_or_create_and_fills_gaps(factory: sessionmaker[Session]) -> None:
    video = "https://www.youtube.com/watch?v=AbCdEf12345"
    with unit_of_work(factory) as s:
        event_id = get_or_create_event(s, "reinvent-2030", "AWS re:Invent 2030", 2030)
        from_playlist = upsert_session(
            s,
            conf_session("Deep dive into Aurora", url=video, kind="session"),
            event_id=event_id,
            event_slug="reinvent-2030",
        )
        # The catalogue knows the code and speakers of the same video.
        from_catalogue = upsert_session(
            s,
            conf_session("Deep dive into Aurora (DAT401)", code="DAT401", url=video, speakers=("Kim",)),
            event_id=event_id,
            event_slug="reinvent-2030",
        )
        assert from_catalogue == from_playlist
        # Seen again by code only, and again by video only: still the same row.
        assert (
            upsert_session(s, conf_session("Aurora", code="dat401"), event_id=event_id, event_slug="reinvent-2030")
            == from_playlist
        )
        assert (
            upsert_session(s, conf_session("Aurora", url=video), event_id=event_id, event_slug="reinvent-2030")
            == from_playlist
        )
        other = upsert_session(s, conf_session("Deep dive into Aurora", code="DAT401"), event_id=None, event_slug=None)
        assert other != from_playlist  # same code, no event: another session
        (record,) = list_sessions(s, event="reinvent-2030")
    assert record == SessionRecord(
        id=from_playlist,
        title="Deep dive into Aurora",
        kind="breakout",
        code="DAT401",
        url=video,
        event="AWS re:Invent 2030",
        event_slug="reinvent-2030",
        speakers=("Kim",),
        level=None,
    )


def test_link_session_inserts_updates_and_keeps_the_stronger_link(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        ann_id = upsert_announcement(s, announcement("k", "T"), now=NOW, event_id=None).id
        sid = upsert_session(s, conf_session("S", code="ABC101"), event_id=None, event_slug=None)
        assert link_session(s, ann_id, sid, Link("structural", 0.9, "under the heading")) is True
        assert link_session(s, ann_id, sid, Link("structural", 0.9, "under the heading")) is False
        assert link_session(s, ann_id, sid, Link("structural", 0.95, "under the heading")) is True
        assert link_session(s, ann_id, sid, Link("title", 0.5, "weak")) is False
        assert link_session(s, ann_id, sid, Link("catalogue", 0.99, "catalogue lists it")) is True
    with unit_of_work(factory) as s:
        row = s.scalars(select(AnnouncementSessionRow)).one()
        assert (row.method, row.score, row.reason) == ("catalogue", 0.99, "catalogue lists it")
        record = get_announcement(s, "k")
    assert record is not None
    (linked,) = record.sessions
    assert linked.session.code == "ABC101" and linked.link == Link("catalogue", 0.99, "catalogue lists it")


# --------------------------------------------------------------------------- runs


def test_runs_are_recorded_newest_first(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        first = start_run(s, at=NOW)
        finish_run(
            s,
            first,
            at=NOW + timedelta(minutes=2),
            status="ok",
            counts={"documents": 3},
            outcomes={"blog": {"status": "ok", "documents": 3}},
        )
        second = start_run(s, at=NOW + timedelta(days=1))
    with unit_of_work(factory) as s:
        runs = last_runs(s)
        assert [r.id for r in runs] == [second, first]
        assert runs[0].status == "running" and runs[0].finished_at is None
        assert runs[1].counts == {"documents": 3}
        assert runs[1].outcomes == {"blog": {"status": "ok", "documents": 3}}
        assert runs[1].finished_at == NOW + timedelta(minutes=2)
        assert len(last_runs(s, limit=1)) == 1
        with pytest.raises(LookupError):
            finish_run(s, 9999, at=NOW, status="ok", counts={}, outcomes={})


# --------------------------------------------------------------------------- reads


def test_query_filters(factory: sessionmaker[Session]) -> None:
    _ingest(factory)
    with unit_of_work(factory) as s:
        keys = lambda records: [r.key for r in records]  # noqa: E731
        assert keys(query_announcements(s)) == [
            "lambda-durable-timers",
            "aurora-redshift-zero-etl",
            "mystery-feature",
        ]
        assert keys(query_announcements(s, order="asc")) == [
            "aurora-redshift-zero-etl",
            "lambda-durable-timers",
            "mystery-feature",
        ]
        for name in ("lambda", "AWS Lambda", "aws lambda", "aws-lambda", "LAMBDA"):
            assert keys(query_announcements(s, service=name)) == ["lambda-durable-timers"], name
        assert keys(query_announcements(s, service="Amazon Simple Storage Service")) == ["lambda-durable-timers"]
        with pytest.raises(UnknownNameError):  # an unknown name is an error, not an empty answer
            query_announcements(s, service="no-such-service")
        assert len(query_announcements(s, event="reinvent-2030")) == 3
        assert len(query_announcements(s, event="AWS re:Invent 2030")) == 3
        assert len(query_announcements(s, event="re:Invent 2030")) == 3
        with pytest.raises(UnknownNameError):
            query_announcements(s, event="re:Invent 1999")
        assert keys(query_announcements(s, since=NOW)) == ["lambda-durable-timers"]
        assert keys(query_announcements(s, until=NOW)) == ["aurora-redshift-zero-etl"]
        assert keys(query_announcements(s, since=NOW - timedelta(days=1), until=NOW + timedelta(seconds=1))) == [
            "lambda-durable-timers",
            "aurora-redshift-zero-etl",
        ]
        assert keys(query_announcements(s, search="ZERO-etl")) == ["aurora-redshift-zero-etl"]
        assert keys(query_announcements(s, search="survive")) == ["lambda-durable-timers"]  # in the summary
        assert query_announcements(s, search="100%") == []  # wildcards are literal
        assert keys(query_announcements(s, session_code="svs301")) == ["lambda-durable-timers"]
        assert query_announcements(s, session_code="XYZ999") == []
        assert keys(query_announcements(s, limit=1)) == ["lambda-durable-timers"]
        assert keys(query_announcements(s, service="redshift", event="reinvent-2030", search="aurora")) == [
            "aurora-redshift-zero-etl"
        ]


def test_records_carry_services_sessions_and_sources(factory: sessionmaker[Session]) -> None:
    _ingest(factory)
    with unit_of_work(factory) as s:
        record = get_announcement(s, "lambda-durable-timers")
        assert record is not None
        assert get_announcement(s, record.id) == record
        assert get_announcement(s, 424242) is None and get_announcement(s, "nope") is None
    assert isinstance(record, AnnouncementRecord)
    assert record.title == "AWS Lambda launches durable timers"
    assert record.url == WHATS_NEW and record.announced_at == NOW
    assert record.event == "AWS re:Invent 2030" and record.event_slug == "reinvent-2030"
    assert [svc.name for svc in record.services] == ["Amazon S3", "AWS Lambda"]
    assert record.services[1] == replace(LAMBDA, aliases=())  # a record names its services, without aliases
    assert record.sources == (WHATS_NEW, RECAP)
    assert [(sl.session.kind, sl.link.method) for sl in record.sessions] == [
        ("breakout", "structural"),
        ("keynote", "title"),
    ]
    assert record.sessions[0].session.speakers == ("Ana", "Bo")
    assert record.sessions[1].session.url == "https://www.youtube.com/watch?v=AbCdEf12345"


def test_queries_do_not_issue_a_query_per_row(factory: sessionmaker[Session]) -> None:
    _ingest(factory)
    bind = factory.kw["bind"]

    def count_selects(n: int) -> int:
        with unit_of_work(factory) as s:
            for i in range(n):
                upsert_announcement(
                    s, announcement(f"extra-{n}-{i}", f"Extra {i}", services=(S3, AURORA)), now=NOW, event_id=None
                )
        statements: list[str] = []
        listener = lambda *a: statements.append(a[2])  # noqa: E731
        event.listen(bind, "before_cursor_execute", listener)
        with unit_of_work(factory) as s:
            records = query_announcements(s)
        event.remove(bind, "before_cursor_execute", listener)
        assert records
        return len(statements)

    assert count_selects(2) == count_selects(20)


def _pages(s: Session, page: int, **filters: object) -> list[str]:
    """Every result of a query, read page by page with the keyset cursor."""
    keys: list[str] = []
    after = None
    while True:
        records = query_announcements(s, limit=page, after=after, **filters)  # type: ignore[arg-type]
        keys.extend(r.key for r in records)
        if len(records) < page:
            return keys
        after = (records[-1].announced_at, records[-1].id)


def test_a_service_page_reads_in_the_same_order_as_every_other_query(factory: sessionmaker[Session]) -> None:
    # Ties on the date, undated announcements and a date that moves earlier on a merge: the
    # by-service path reads its index (sort keys kept by the repository), the others sort.
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        for i in range(23):
            at = None if i % 7 == 0 else NOW - timedelta(days=i % 5)
            upsert_announcement(
                s,
                announcement(f"s3-{i}", f"S3 launch {i}", at=at, services=(S3,) if i % 3 else (S3, LAMBDA)),
                now=NOW,
                event_id=None,
            )
        upsert_announcement(
            s, announcement("lambda-only", "Lambda launch", at=NOW, services=(LAMBDA,)), now=NOW, event_id=None
        )
        # A later mention dates s3-7 (undated so far) and s3-8 earlier: both move in the order.
        upsert_announcement(s, announcement("s3-7", "S3 launch 7", at=NOW - timedelta(days=30)), now=NOW, event_id=None)
        upsert_announcement(s, announcement("s3-8", "S3 launch 8", at=NOW - timedelta(days=40)), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        everything = [r for r in query_announcements(s) if any(x.slug == S3.slug for x in r.services)]
        expected = [r.key for r in everything]
        assert expected[-3:] == ["s3-21", "s3-14", "s3-0"]  # undated last, newest id first
        assert expected.index("s3-8") == len(expected) - 4 and expected.index("s3-7") == len(expected) - 5
        assert [r.key for r in query_announcements(s, service=S3.name)] == expected
        for page in (1, 4, 50):
            assert _pages(s, page, service=S3.name) == expected
        assert _pages(s, 5, service=S3.name, since=NOW - timedelta(days=2)) == [
            r.key for r in everything if r.announced_at and r.announced_at >= NOW - timedelta(days=2)
        ]


def test_a_page_that_links_the_launch_does_not_own_its_summary(factory: sessionmaker[Session]) -> None:
    # A What's New item and a weekly roundup that links to it with its own blurb: in either
    # order, and read again and again (tracker reextract), the item's summary stands and
    # nothing is "updated" (an update would bump the feed entry's date for nothing).
    own = announcement("lambda-timers", "Lambda durable timers", summary="The item's own text.", url=WHATS_NEW, at=NOW)
    blurb = replace(own, announcement=replace(own.announcement, summary="A roundup's one-line blurb."))
    mentions = ((own, WHATS_NEW), (blurb, "https://aws.amazon.com/blogs/aws/weekly-roundup/"))
    for order in (mentions, mentions[::-1]):
        with unit_of_work(factory) as s:
            s.execute(AnnouncementRow.__table__.delete())
            statuses = []
            for _ in range(3):
                for na, page in order:
                    statuses.append(upsert_announcement(s, na, now=NOW, event_id=None, document_url=page).status)
            assert statuses.count("updated") <= 1 and statuses[2:] == ["unchanged"] * 4
            assert query_announcements(s)[0].summary == "The item's own text."


def test_listings(factory: sessionmaker[Session]) -> None:
    _ingest(factory)
    with unit_of_work(factory) as s:
        services = list_services(s)
        # Equal counts: by display name, case-insensitively (Amazon Aurora ... AWS Lambda).
        assert [(c.service.slug, c.announcements) for c in services] == [
            ("aurora", 1),
            ("redshift", 1),
            ("s3", 1),
            ("lambda", 1),
        ]
        assert list_events(s) == [EventCount("reinvent-2030", "AWS re:Invent 2030", 3)]
        sessions = list_sessions(s)
        assert [x.code for x in sessions] == ["SVS301", None]
        with pytest.raises(UnknownNameError):
            list_sessions(s, event="nowhere")
        assert [r.key for r in announcements_without_services(s)] == ["mystery-feature"]
        assert feed_groups(s) == {
            "services": ["aurora", "lambda", "redshift", "s3"],
            "events": ["reinvent-2030"],
        }
        linking = {row.title: row for row in announcements_for_linking(s)}
        aurora = linking["Aurora zero-ETL integration with Redshift"]
        assert (aurora.service_slugs, aurora.event_slug) == (("aurora", "redshift"), "reinvent-2030")
        assert linking["A mystery feature nobody can place"].service_slugs == ()
        assert len(announcements_for_linking(s, "reinvent-2030")) == 3
        assert announcements_for_linking(s, "other-event") == []
        for_linking = sessions_for_linking(s)
        assert [(x.title, x.code, x.event_slug, x.kind) for x in for_linking] == [
            ("Keynote with the CEO", None, "reinvent-2030", "keynote"),
            ("What's new in serverless", "SVS301", "reinvent-2030", "breakout"),
        ]


def test_list_services_orders_by_count(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        for i in range(3):
            upsert_announcement(s, announcement(f"s3-{i}", f"S3 thing {i}", services=(S3,)), now=NOW, event_id=None)
        upsert_announcement(s, announcement("aurora-0", "Aurora thing", services=(AURORA,)), now=NOW, event_id=None)
        ranked = list_services(s)
    assert [(c.service.slug, c.announcements) for c in ranked] == [
        ("s3", 3),
        ("aurora", 1),
        ("redshift", 0),
        ("lambda", 0),
    ]


def test_reads_return_items_not_orm_objects(factory: sessionmaker[Session]) -> None:
    _ingest(factory)
    with unit_of_work(factory) as s:
        records = query_announcements(s)
        sessions = list_sessions(s)
        services = list_services(s)
    for value in [*records, *sessions, *services, *(c.service for c in services)]:
        assert type(value).__module__ == "tracker.items"
    # Usable after the session is gone.
    assert all(r.services is not None and isinstance(r.sources, tuple) for r in records)


def test_announced_at_reads_back_as_utc(factory: sessionmaker[Session]) -> None:
    paris = datetime(2030, 12, 3, 18, 0, tzinfo=UTC).astimezone(__import__("zoneinfo").ZoneInfo("Europe/Paris"))
    with unit_of_work(factory) as s:
        upsert_announcement(s, announcement("tz", "Timezones", at=paris), now=paris, event_id=None)
    with unit_of_work(factory) as s:
        record = get_announcement(s, "tz")
    assert record is not None and record.announced_at is not None and record.updated_at is not None
    assert record.announced_at == paris and record.announced_at.utcoffset() == timedelta(0)
    assert record.announced_at.hour == 18 and record.updated_at.tzinfo is not None


def test_robots_are_kept_per_origin(database_url: str) -> None:
    """robots.txt survives between runs so the next run can ask for it conditionally."""
    from datetime import UTC, datetime

    from tracker.store.db import open_store, unit_of_work

    factory = open_store(database_url)
    at = datetime(2031, 1, 2, tzinfo=UTC)
    with unit_of_work(factory) as session:
        assert load_robots(session, "https://example.org") is None
        save_robots(session, "https://example.org", b"User-agent: *\n", etag='"a"', last_modified=None, at=at)
    with unit_of_work(factory) as session:
        save_robots(session, "https://example.org", b"Disallow: /x\n", etag='"b"', last_modified="x", at=at)
        save_robots(session, "https://other.example", b"", etag=None, last_modified=None, at=at)
    with unit_of_work(factory) as session:
        assert load_robots(session, "https://example.org") == CachedRobots(b"Disallow: /x\n", '"b"', "x")
        assert load_robots(session, "https://other.example") == CachedRobots(b"", None, None)
