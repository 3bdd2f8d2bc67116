"""Statements run on the driver's cursor give what SQLAlchemy's execution gives, on both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, bindparam, column, event, select, table, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from tracker.errors import StoreError
from tracker.items import ConferenceSession, Link
from tracker.store.announcements import get_or_create_event, sync_services, upsert_announcement
from tracker.store.db import make_engine, reading, unit_of_work
from tracker.store.models import ServiceRow
from tracker.store.prepared import Prepared, all_together
from tracker.store.sessions import link_session, upsert_session
from tracker.store.tables import ANNOUNCEMENT_SESSIONS, ANNOUNCEMENTS, SERVICES, SESSIONS

from .conftest import NOW, S3, TAXONOMY, announcement

# Datetimes (UTCDateTime), JSON, a float, text and NULLs, an expanding list and a datetime bound.
STATEMENT = (
    select(
        ANNOUNCEMENTS.c.id,
        ANNOUNCEMENTS.c.title,
        ANNOUNCEMENTS.c.announced_at,
        ANNOUNCEMENTS.c.updated_at,
        ANNOUNCEMENTS.c.status,
        ANNOUNCEMENT_SESSIONS.c.score,
        SESSIONS.c.speakers,
        SESSIONS.c.code,
    )
    .outerjoin(ANNOUNCEMENT_SESSIONS, ANNOUNCEMENT_SESSIONS.c.announcement_id == ANNOUNCEMENTS.c.id)
    .outerjoin(SESSIONS, SESSIONS.c.id == ANNOUNCEMENT_SESSIONS.c.session_id)
    .where(
        ANNOUNCEMENTS.c.id.in_(bindparam("ids", expanding=True)),
        ANNOUNCEMENTS.c.updated_at <= bindparam("until", type_=ANNOUNCEMENTS.c.updated_at.type),
    )
    .order_by(ANNOUNCEMENTS.c.id.desc())
    .limit(bindparam("limit"))
)


def _populate(factory: sessionmaker[Session]) -> list[int]:
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        event_id = get_or_create_event(s, "reinvent-2030", "AWS re:Invent 2030", 2030)
        session_id = upsert_session(
            s,
            ConferenceSession(key="SVS301", title="Serverless", kind="breakout", code="SVS301", speakers=("Ana", "Bo")),
            event_id=event_id,
            event_slug="reinvent-2030",
        )
        ids = []
        for i in range(5):
            at = None if i == 3 else NOW - timedelta(days=i, microseconds=i * 17)
            ann_id = upsert_announcement(
                s, announcement(f"k{i}", f"Launch {i} \u2014 \U0001f680", at=at, services=(S3,)), now=NOW, event_id=None
            ).id
            if i % 2:
                link_session(s, ann_id, session_id, Link("title", 0.25 * i, "why"))
            ids.append(ann_id)
    return ids


def test_rows_are_the_values_sqlalchemy_gives(factory: sessionmaker[Session]) -> None:
    ids = _populate(factory)
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    prepared = Prepared(STATEMENT)
    with reading(engine) as connection:
        cases = ((ids, NOW, 10), (ids[1:2], NOW, 10), (ids[::2], NOW, 2), (ids, NOW - timedelta(days=1), 10))
        for chosen, until, limit in cases:
            values = {"ids": chosen, "until": until, "limit": limit}
            expected = [tuple(row) for row in connection.execute(STATEMENT, values).all()]
            assert len(expected) == (min(limit, len(chosen)) if until >= NOW else 0)  # one row per launch here
            assert prepared.all(connection, values) == expected
            assert prepared.all(connection, values) == expected  # again, with the compiled text reused
        rows = prepared.all(connection, {"ids": ids, "until": NOW, "limit": 10})
    assert {r[2].utcoffset() for r in rows if r[2] is not None} == {timedelta(0)}  # aware UTC
    assert {tuple(r[6]) for r in rows if r[6] is not None} == {("Ana", "Bo")}  # JSON read as a list
    assert sorted(r[5] for r in rows if r[5] is not None) == [0.25, 0.75]


def test_listeners_see_each_statement(factory: sessionmaker[Session]) -> None:
    ids = _populate(factory)
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with reading(engine) as connection:
        Prepared(STATEMENT).all(connection, {"ids": ids, "until": NOW, "limit": 3})
    assert any("announcement_sessions" in s and s.lstrip().upper().startswith("SELECT") for s in seen), seen


def test_a_driver_error_is_sqlalchemys_and_a_store_error_when_reading(factory: sessionmaker[Session]) -> None:
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    missing = Prepared(select(column("x")).select_from(table("no_such_table")).where(column("x") == bindparam("x")))
    with engine.connect() as connection, pytest.raises(DBAPIError, match="no_such_table"):
        missing.all(connection, {"x": 1})
    with pytest.raises(StoreError, match="no_such_table"), reading(engine) as connection:
        missing.all(connection, {"x": 1})


def test_on_a_session_the_statement_sees_what_is_not_flushed_yet(factory: sessionmaker[Session]) -> None:
    by_slug = Prepared(select(SERVICES.c.name).where(SERVICES.c.slug == bindparam("slug")))
    with unit_of_work(factory) as s:
        s.add(ServiceRow(slug="pending", name="Pending Service", category=None))
        assert by_slug.all(s, {"slug": "pending"}) == [("Pending Service",)]


def test_planned_each_time_is_never_prepared_on_the_server(postgres_url: str) -> None:
    # psycopg prepares a statement on the server from its fifth run, after which PostgreSQL may
    # keep one generic plan for every value; a statement planned each time stays unprepared.
    engine = make_engine(postgres_url)
    by_slug = select(SERVICES.c.name).where(SERVICES.c.slug == bindparam("slug"))
    try:
        with engine.connect() as connection:
            prepared_statements = text("SELECT count(*) FROM pg_prepared_statements")
            each_time = Prepared(by_slug, plan_each_time=True)
            for _ in range(8):
                assert each_time.all(connection, {"slug": "none"}) == []
            assert connection.execute(prepared_statements).scalar() == 0
            usual = Prepared(by_slug)
            for _ in range(8):
                assert usual.all(connection, {"slug": "none"}) == []
            assert connection.execute(prepared_statements).scalar() == 1  # the check is able to fail
    finally:
        engine.dispose()


def test_statements_sent_together_give_what_each_gives(factory: sessionmaker[Session]) -> None:
    # On psycopg they go in one pipeline (one round trip); the rows, the listeners and the
    # errors are those of running them one by one.
    ids = _populate(factory)
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    by_slug = Prepared(select(SERVICES.c.name).where(SERVICES.c.slug == bindparam("slug")))
    calls = [
        (Prepared(STATEMENT), {"ids": ids, "until": NOW, "limit": 10}),
        (by_slug, {"slug": "s3"}),
        (Prepared(STATEMENT), {"ids": ids[:2], "until": NOW, "limit": 1}),
    ]
    seen: list[str] = []
    event.listen(engine, "after_cursor_execute", lambda *a: seen.append(a[2]))
    with reading(engine) as connection:
        separately = [p.all(connection, v) for p, v in calls]
        del seen[:]
        assert all_together(connection, calls) == separately
        assert len(seen) == 3 and separately[1] == [("Amazon S3",)] and len(separately[2]) == 1
    missing = Prepared(select(column("x")).select_from(table("no_such_table")).where(column("x") == bindparam("x")))
    with pytest.raises(StoreError, match="no_such_table"), reading(engine) as connection:
        all_together(connection, [calls[1], (missing, {"x": 1}), calls[1]])
    with reading(engine) as connection:  # the pool's connection is usable again
        assert by_slug.all(connection, {"slug": "s3"}) == [("Amazon S3",)]
    with unit_of_work(factory) as s:  # on a session, after what it holds is flushed
        s.add(ServiceRow(slug="pending", name="Pending Service", category=None))
        assert all_together(s, [(by_slug, {"slug": "pending"}), calls[1]])[0] == [("Pending Service",)]


def test_a_list_is_one_array_parameter_on_psycopg(factory: sessionmaker[Session], database_url: str) -> None:
    # psycopg parses a statement of more than 50 parameters again at every run: the list of ids
    # of a page (51) is one array there; SQLite keeps a placeholder per value.
    ids = _populate(factory)
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    seen: list[tuple[str, object]] = []
    event.listen(engine, "before_cursor_execute", lambda *a: seen.append((a[2], a[3])))
    many = [*ids, *range(10_000, 10_060)]  # 65 ids, most of them stored nowhere
    with reading(engine) as connection:
        expected = [tuple(row) for row in connection.execute(STATEMENT, {"ids": many, "until": NOW, "limit": 99})]
        del seen[:]
        assert Prepared(STATEMENT).all(connection, {"ids": many, "until": NOW, "limit": 99}) == expected
    assert len(expected) == len(ids)
    [(text_, parameters)] = seen
    if database_url.startswith("postgresql"):
        assert "= ANY(%(ids)s)" in text_ and isinstance(parameters, dict) and parameters["ids"] == many
    else:
        assert text_.count("?") >= len(many)
