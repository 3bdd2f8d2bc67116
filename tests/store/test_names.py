"""The one name resolver (tracker.store.names) on SQLite and PostgreSQL: the spellings people type (issue 15).

Before it, `--service "AWS S3"`, `"AWS EC2"`, `"Amazon Lambda"` and any unknown name answered
0 announcements; now each spelling finds its service and an unknown name is an error with the
closest names.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import Announcement, ConferenceSession, NormalizedAnnouncement
from tracker.normalize.taxonomy import Taxonomy
from tracker.store.announcements import get_or_create_event, sync_services, upsert_announcement
from tracker.store.db import make_engine, unit_of_work
from tracker.store.models import SessionRow
from tracker.store.names import UnknownNameError, resolve_event, resolve_service
from tracker.store.queries import list_sessions, query_announcements
from tracker.store.sessions import upsert_session

from ..conftest import copy_sqlite, postgres_database

NOW = datetime(2023, 11, 28, 12, 0, tzinfo=UTC)
EVENTS = (
    ("aws-reinvent-2023", "AWS re:Invent 2023", 2023),
    ("aws-reinvent-2024", "AWS re:Invent 2024", 2024),
    ("aws-summit-new-york-2023", "AWS Summit New York 2023", 2023),
)


def _store(factory: sessionmaker[Session]) -> None:
    """The shipped taxonomy as a run syncs it, three events and one launch each of S3, Lambda and EC2."""
    taxonomy = Taxonomy.load()
    with unit_of_work(factory) as s:
        sync_services(s, taxonomy.services)
        ids = {slug: get_or_create_event(s, slug, name, year) for slug, name, year in EVENTS}
        for n, slug in enumerate(("amazon-s3", "aws-lambda", "amazon-ec2")):
            service = taxonomy.get(slug)
            assert service is not None, slug
            ann = Announcement(title=f"{service.name} launch {n}", rule="test", published_at=NOW + timedelta(hours=n))
            na = NormalizedAnnouncement(
                key=f"k{n}", announcement=ann, services=(service,), announced_at=ann.published_at
            )
            upsert_announcement(s, na, now=NOW, event_id=ids["aws-reinvent-2023"])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stored(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path
) -> Iterator[sessionmaker[Session]]:
    """One store per database for the module's read-only tests (syncing the shipped taxonomy costs a second)."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("names") / "tracker.db"
        copy_sqlite(sqlite_template, path)
        database: AbstractContextManager[str] = nullcontext(f"sqlite:///{path}")
    else:
        database = postgres_database(
            request.getfixturevalue("postgres_server"), request.getfixturevalue("postgres_template")
        )
    with database as url:
        engine = make_engine(url)
        try:
            factory = sessionmaker(bind=engine, expire_on_commit=False)
            _store(factory)
            yield factory
        finally:
            engine.dispose()


@pytest.mark.parametrize(
    ("spelling", "slug"),
    [
        ("AWS S3", "amazon-s3"),
        ("S3", "amazon-s3"),
        ("s3", "amazon-s3"),
        ("Amazon S3", "amazon-s3"),
        ("amazon-s3", "amazon-s3"),
        ("Amazon Simple Storage Service", "amazon-s3"),
        ("  aws   s3 ", "amazon-s3"),
        ("Amazon Lambda", "aws-lambda"),
        ("AWS Lambda", "aws-lambda"),
        ("lambda", "aws-lambda"),
        ("AWS EC2", "amazon-ec2"),
        ("EC2", "amazon-ec2"),
    ],
)
def test_each_spelling_resolves_to_its_service(stored: sessionmaker[Session], spelling: str, slug: str) -> None:
    with unit_of_work(stored) as s:
        resolved = resolve_service(s, spelling)
        assert resolved.slug == slug and len(resolved.ids) == 1
        (record,) = query_announcements(s, service=spelling)
        assert [svc.slug for svc in record.services] == [slug]


@pytest.mark.parametrize(
    "spelling",
    [
        "reinvent 2023",
        "re:Invent 2023",
        "AWS re:Invent 2023",
        "aws-reinvent-2023",
        "reInvent23",
        "RE:INVENT 2023",
    ],
)
def test_each_spelling_resolves_to_its_event(stored: sessionmaker[Session], spelling: str) -> None:
    with unit_of_work(stored) as s:
        assert resolve_event(s, spelling).slugs == ("aws-reinvent-2023",)
        assert len(query_announcements(s, event=spelling)) == 3


def test_a_name_without_a_year_means_every_edition(stored: sessionmaker[Session]) -> None:
    with unit_of_work(stored) as s:
        assert resolve_event(s, "re:Invent").slugs == ("aws-reinvent-2023", "aws-reinvent-2024")
        assert resolve_event(s, "reinvent").slug is None  # several events: no single feed
        assert resolve_event(s, "Summit").slugs == ("aws-summit-new-york-2023",)


@pytest.mark.parametrize(
    ("kind", "spelling", "suggested"),
    [
        ("service", "Lamda", "AWS Lambda"),
        ("service", "AWS Lamda", "AWS Lambda"),
        ("service", "Amazon S4", "Amazon S3"),
        ("event", "reinvnt 2023", "AWS re:Invent 2023"),
        ("event", "re:Invent 2019", "AWS re:Invent 2023"),
    ],
)
def test_an_unknown_name_is_an_error_with_the_closest_names(
    stored: sessionmaker[Session], kind: str, spelling: str, suggested: str
) -> None:
    with unit_of_work(stored) as s:
        with pytest.raises(UnknownNameError) as exc:
            query_announcements(s, **{kind: spelling})  # type: ignore[arg-type]
    error = exc.value
    assert error.exit_code == 2 and error.kind == kind and suggested in error.suggestions
    assert str(error).startswith(f"unknown {kind} {spelling!r}; did you mean: ")


def test_an_unknown_name_with_nothing_close_says_where_the_names_are(stored: sessionmaker[Session]) -> None:
    with unit_of_work(stored) as s:
        with pytest.raises(UnknownNameError) as exc:
            resolve_service(s, "zzzzzzzz")
        assert exc.value.suggestions == () and "tracker services --all" in str(exc.value)
        with pytest.raises(UnknownNameError):
            resolve_service(s, "   ")
        with pytest.raises(UnknownNameError):
            list_sessions(s, event="nowhere at all")


def test_a_known_service_with_nothing_stored_is_an_empty_answer(factory: sessionmaker[Session]) -> None:
    # A fresh database holds no services yet: the taxonomy still knows S3, so the answer is
    # "no announcements", not "unknown service".
    with unit_of_work(factory) as s:
        resolved = resolve_service(s, "AWS S3")
        assert (resolved.ids, resolved.slug) == ((), "amazon-s3")
        assert query_announcements(s, service="AWS S3") == []


def test_a_session_stored_under_its_old_title_key_is_found_and_moved(factory: sessionmaker[Session]) -> None:
    # Before one slugify, title keys split words at inner colons and apostrophes.
    old_key = "title:aws-reinvent-2023:what-s-new-at-re-invent"
    with unit_of_work(factory) as s:
        s.add(SessionRow(natural_key=old_key, title="What's new at re:Invent", kind="session", speakers=[]))
    with unit_of_work(factory) as s:
        session_id = upsert_session(
            s,
            ConferenceSession(key="x", title="What's new at re:Invent", kind="breakout"),
            event_id=None,
            event_slug="aws-reinvent-2023",
        )
    with unit_of_work(factory) as s:
        rows = s.scalars(select(SessionRow)).all()
        assert [(r.id, r.natural_key) for r in rows] == [(session_id, "title:aws-reinvent-2023:whats-new-at-reinvent")]
        assert rows[0].kind == "breakout"
