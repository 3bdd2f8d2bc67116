"""A published output folder and a running `tracker serve` on a real loopback socket."""

from __future__ import annotations

import http.client
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import Announcement, ConferenceSession, Link, NormalizedAnnouncement, Service
from tracker.publish import FeedContext, build_feed_files, write_files
from tracker.store.announcements import get_or_create_event, sync_services, upsert_announcement
from tracker.store.db import close_stores, make_engine, open_store, unit_of_work
from tracker.store.queries import query_announcements
from tracker.store.sessions import link_session, upsert_session
from tracker.web import TrackerServer, make_server

from ..conftest import copy_sqlite

NOW = datetime(2031, 12, 5, 12, 0, tzinfo=UTC)
BASE_URL = "https://feeds.example.test/aws/"
LIMIT = 10  # entries per feed: with 30 launches the "all" feed has archive pages
LAMBDA = Service("aws-lambda", "AWS Lambda", ("Lambda",), "Compute")
S3 = Service("amazon-s3", "Amazon S3", ("S3", "Amazon Simple Storage Service"), "Storage")
AURORA = Service("amazon-aurora", "Amazon Aurora", ("Aurora",), "Database")
TAXONOMY = (LAMBDA, S3, AURORA)
EVENT_SLUG, EVENT_NAME = "aws-reinvent-2031", "AWS re:Invent 2031"
WORDS = ["vector", "serverless", "streaming", "durable", "quantum", "graph"]


def launches() -> list[tuple[NormalizedAnnouncement, bool]]:
    """30 invented launches, a day apart, over three services; every other one at the event."""
    out = []
    for n in range(30):
        service = TAXONOMY[n % 3]
        word = WORDS[n % len(WORDS)]
        title = f"{service.name} adds {word} feature {n}"
        ann = Announcement(
            title=title,
            summary=f"Launch number {n} brings {word} capabilities.",
            url=f"https://aws.example.test/new/launch-{n}/",
            published_at=NOW - timedelta(days=n),
            rule="test",
        )
        na = NormalizedAnnouncement(
            key=f"launch-{n:02d}", announcement=ann, services=(service,), url=ann.url, announced_at=ann.published_at
        )
        out.append((na, n % 2 == 0))
    return out


def populate(factory: sessionmaker[Session]) -> None:
    """Store the launches, the event and one session linked to the event's launches."""
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        event_id = get_or_create_event(s, EVENT_SLUG, EVENT_NAME, 2031)
        session_id = upsert_session(
            s,
            ConferenceSession(
                key="KEY001",
                title="Keynote",
                kind="keynote",
                code="KEY001",
                url="https://www.youtube.com/watch?v=KEYNOTE0001",
            ),
            event_id=event_id,
            event_slug=EVENT_SLUG,
        )
        for na, at_event in launches():
            ann_id = upsert_announcement(s, na, now=NOW, event_id=event_id if at_event else None).id
            if at_event:
                link_session(s, ann_id, session_id, Link("structural", 1.0, "announced in the keynote"))


def publish(factory: sessionmaker[Session], output: Path) -> None:
    """What `tracker publish` does, with the test's base URL and limit."""
    with unit_of_work(factory) as s:
        records = query_announcements(s)
    files = build_feed_files(
        records, FeedContext(base_url=BASE_URL, author="Tracker Bot"), title="AWS announcements", limit=LIMIT
    )
    write_files(output, files, prune=True)


@dataclass
class Site:
    """A running server over a published folder."""

    server: TrackerServer
    output: Path
    factory: sessionmaker[Session]
    database_url: str

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def request(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET", body: bytes | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        """A raw request (the path is sent exactly as given): status, lower-case headers, body."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in (headers or {}).items():
                conn.putheader(name, value)
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
            response = conn.getresponse()
            data = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, data
        finally:
            conn.close()


def _serve(database_url: str, output: Path) -> Iterator[Site]:
    factory = open_store(database_url)
    server = make_server(output, factory, host="127.0.0.1", port=0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Site(server=server, output=output, factory=factory, database_url=database_url)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        close_stores()


def _start(database_url: str, tmp_path: Path) -> Iterator[Site]:
    """Populate and publish on the given database, then serve it."""
    factory = open_store(database_url)
    populate(factory)
    output = tmp_path / "site" / "feeds"
    publish(factory, output)
    yield from _serve(database_url, output)


@pytest.fixture(scope="session")
def sqlite_site_template(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Path:
    """A populated SQLite store and its published folder, built once per process (publishing costs ~0.6 s)."""
    folder = tmp_path_factory.mktemp("site-template")
    copy_sqlite(sqlite_template, folder / "tracker.db")
    engine = make_engine(f"sqlite:///{folder / 'tracker.db'}")
    try:
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        populate(factory)
        publish(factory, folder / "site" / "feeds")
    finally:
        engine.dispose()
    return folder


def _start_sqlite(template: Path, tmp_path: Path) -> Iterator[Site]:
    """Serve a private copy of the populated SQLite template: the same site `_start` builds, without rebuilding it."""
    copy_sqlite(template / "tracker.db", tmp_path / "tracker.db")
    output = tmp_path / "site" / "feeds"
    shutil.copytree(template / "site" / "feeds", output)
    yield from _serve(f"sqlite:///{tmp_path / 'tracker.db'}", output)


@pytest.fixture
def site(sqlite_site_template: Path, tmp_path: Path) -> Iterator[Site]:
    """The server over SQLite (HTTP behaviour does not depend on the database)."""
    yield from _start_sqlite(sqlite_site_template, tmp_path)


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory, sqlite_site_template: Path) -> Iterator[Site]:
    """One server over SQLite for a module's read-only tests."""
    yield from _start_sqlite(sqlite_site_template, tmp_path_factory.mktemp("shared-site"))


@pytest.fixture(params=["sqlite", "postgresql"])
def any_site(request: pytest.FixtureRequest, sqlite_site_template: Path, tmp_path: Path) -> Iterator[Site]:
    """The server over SQLite, then over PostgreSQL (for the API's queries)."""
    if request.param == "sqlite":
        yield from _start_sqlite(sqlite_site_template, tmp_path)
    else:
        yield from _start(str(request.getfixturevalue("postgres_url")), tmp_path)
