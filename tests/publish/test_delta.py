"""Publishing to a folder reads and renders only what changed since the last publish, and the
folder is always exactly what a full build of the whole store gives (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import logging
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text

from tracker import pipeline
from tracker.config import load_settings
from tracker.items import Announcement, ConferenceSession, Document, DocumentKind, Link, NormalizedAnnouncement, Service
from tracker.pipeline import folder
from tracker.publish import FeedContext, PublishReport, build_feed_files
from tracker.publish.feeds import entry_order, feed_specs
from tracker.publish.writer import MARKER
from tracker.store import queries
from tracker.store.announcements import add_mention, get_or_create_event, sync_services, upsert_announcement
from tracker.store.db import close_stores, unit_of_work
from tracker.store.documents import upsert_document
from tracker.store.models import (
    AnnouncementRow,
    AnnouncementServiceRow,
    PublishedEntryRow,
    PublishedFeedRow,
    ServiceRow,
)
from tracker.store.published import changed_since, publish_state
from tracker.store.sessions import link_session, upsert_session

BASE_URL = "https://feeds.example.test/aws/"
LIMIT = 3  # small pages: a few dozen launches fill many archive pages
START = datetime(2031, 1, 1, 9, 0, tzinfo=UTC)
SERVICES = [
    Service("amazon-s3", "Amazon S3", category="Storage"),
    Service("aws-lambda", "AWS Lambda", category="Compute"),
    Service("amazon-aurora", "Amazon Aurora", category="Databases"),
    Service("amazon-redshift", "Amazon Redshift", category="Analytics"),
]


@dataclass
class Site:
    """A store, the settings publishing to a folder, and helpers to change the store."""

    ctx: pipeline.Context
    out: Path
    now: datetime = START

    def store(
        self,
        key: str,
        *,
        day: int,
        services: tuple[Service, ...] = (SERVICES[0],),
        summary: str = "",
        event: str | None = None,
        undated: bool = False,
    ) -> int:
        """Store (or merge into) the launch `key`, owned by its own URL."""
        url = f"https://aws.example.test/new/{key}/"
        when = None if undated else START + timedelta(days=day)
        ann = Announcement(title=f"Launch {key}", summary=summary or f"About {key}.", url=url, rule="test")
        na = NormalizedAnnouncement(key=key, announcement=ann, services=services, url=url, announced_at=when)
        with unit_of_work(self.ctx.factory) as session:
            event_id = None
            if event is not None:
                event_id = get_or_create_event(session, event, event.replace("-", " ").title(), 2031)
            return upsert_announcement(session, na, now=self.now, event_id=event_id, document_url=url).id

    def publish(self, *, full: bool = False) -> PublishReport:
        """`tracker publish`."""
        return pipeline.publish(self.ctx, full=full)

    def files(self) -> dict[str, bytes]:
        """Every published file (hidden bookkeeping files left out)."""
        return {
            p.relative_to(self.out).as_posix(): p.read_bytes()
            for p in sorted(self.out.rglob("*"))
            if p.is_file() and not p.name.startswith(".")
        }

    def reference(self) -> dict[str, bytes]:
        """What a full build of the whole store gives: the pure renderers on every record."""
        settings = self.ctx.settings
        with unit_of_work(self.ctx.factory) as session:
            records = queries.query_announcements(session)
        feed_ctx = FeedContext(base_url=settings.base_url, author=settings.feed_author)
        return build_feed_files(records, feed_ctx, title=settings.feed_title, limit=settings.feed_limit)


@pytest.fixture
def site(database_url: str, tmp_path: Path) -> Iterator[Site]:
    """An empty store publishing to tmp_path/feeds, LIMIT entries per feed document."""
    config = tmp_path / "config"
    config.mkdir()
    (config / "sources.toml").write_text("")
    settings = load_settings(config, environ={}).with_overrides(
        database_url=database_url, output_dir=tmp_path / "feeds", base_url=BASE_URL, feed_limit=LIMIT
    )
    try:
        yield Site(pipeline.Context(settings, now=START), tmp_path / "feeds")
    finally:
        close_stores()


def feed_keys(files: dict[str, bytes], path: str) -> set[str]:
    """The keys of every entry of a feed: its subscription document and its archive pages."""
    documents = [path + ".json"] + [p for p in files if p.startswith(f"archive/{path}/") and p.endswith(".json")]
    return {item["_tracker"]["key"] for doc in documents for item in json.loads(files[doc])["items"]}


def state_problems(site: Site) -> list[object]:
    """Where the published state differs from the feeds a full build makes of the store."""
    with unit_of_work(site.ctx.factory) as session:
        records = queries.query_announcements(session)
        feeds = {f.id: f for f in session.scalars(select(PublishedFeedRow))}
        have: dict[str, list[tuple[tuple[int, str], int | None]]] = {}
        for e in session.scalars(select(PublishedEntryRow)):
            have.setdefault(feeds[e.feed_id].path, []).append(((e.order_ts, e.key), e.announcement_id))
    want = {
        spec.path: [(entry_order(r), r.id) for r in members]
        for spec, members in feed_specs(records, title=site.ctx.settings.feed_title)
    }
    problems: list[object] = []
    for path in sorted(set(want) | set(have)):
        if sorted(have.get(path, [])) != want.get(path, []):
            problems.append((path, "entries"))
        feed = next((f for f in feeds.values() if f.path == path), None)
        if feed is None or feed.entries != len(want.get(path, [])):
            problems.append((path, "count"))
    return problems


def fill(site: Site, count: int) -> list[int]:
    """`count` launches over several services, some at an event, dated a day apart."""
    ids = []
    for n in range(count):
        services = (SERVICES[n % 4],) if n % 5 else (SERVICES[n % 4], SERVICES[(n + 1) % 4])
        ids.append(
            site.store(f"launch-{n:03d}", day=n, services=services, event="reinvent-2031" if n % 7 == 0 else None)
        )
    return ids


@pytest.fixture
def records_read(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ids of every announcement record read from the store from now on."""
    read: list[int] = []
    original = queries._RecordReader.read

    def counting(self: queries._RecordReader, ids: list[int]) -> list[object]:
        read.extend(ids)
        return original(self, ids)  # type: ignore[return-value]

    monkeypatch.setattr(queries._RecordReader, "read", counting)
    return read


def test_one_change_reads_only_its_rows_and_its_pages(site: Site, records_read: list[int]) -> None:
    ids = fill(site, 90)
    first = site.publish()
    assert len(first.written) > 150  # 30 archive pages of `all` alone, in three formats
    with unit_of_work(site.ctx.factory) as session:
        revision = publish_state(session).revision  # type: ignore[union-attr]
    records_read.clear()

    edited = ids[41]  # a Lambda launch in the middle of every feed it is in
    site.store("launch-041", day=41, services=(SERVICES[1],), summary="Now in every Region.")
    with unit_of_work(site.ctx.factory) as session:
        assert changed_since(session, revision) == [edited]
    report = site.publish()

    # The changed record once, then the members of the documents it is on: the subscription
    # feed and one archive page of `all` and of `services/aws-lambda` (LIMIT each) - not the store.
    assert edited in records_read
    assert len(set(records_read)) <= 1 + 4 * LIMIT
    assert len(records_read) < len(ids) // 4
    rendered = {path.rsplit(".", 1)[0] for path in report.written}
    assert rendered <= {"all", "services/aws-lambda", "index"} | {
        p for p in rendered if p.startswith(("archive/all/", "archive/services/aws-lambda/"))
    }
    assert sum(p.startswith("archive/all/") for p in rendered) == 1
    assert "archive/all/14" in rendered  # the 41st oldest of 90 is on page 41 // 3 + 1 = 14
    assert site.files() == site.reference()


def test_an_unchanged_store_rewrites_no_file(site: Site, records_read: list[int]) -> None:
    fill(site, 20)
    site.publish()
    times = {p: p.stat().st_mtime_ns for p in site.out.rglob("*") if p.is_file()}
    records_read.clear()
    report = site.publish()
    assert report.written == [] and report.removed == []
    assert records_read == []
    assert {p: p.stat().st_mtime_ns for p in site.out.rglob("*") if p.is_file()} == times


def test_a_changed_service_moves_the_entry(site: Site) -> None:
    ids = fill(site, 12)
    site.store("lonely", day=30, services=(Service("amazon-kendra", "Amazon Kendra"),))
    site.publish()
    assert "launch-005" in feed_keys(site.files(), "services/aws-lambda")
    assert "services/amazon-kendra.atom" in site.files()
    moved = ids[5]  # Lambda and Aurora (n % 5 == 0): now Redshift only
    with unit_of_work(site.ctx.factory) as session:
        session.execute(delete(AnnouncementServiceRow).where(AnnouncementServiceRow.announcement_id == moved))
        redshift = session.scalar(select(ServiceRow).where(ServiceRow.slug == "amazon-redshift"))
        assert redshift is not None
        session.add(AnnouncementServiceRow(announcement_id=moved, service_id=redshift.id, sort_at=START))
        session.flush()
        lonely = session.scalar(select(AnnouncementRow.id).where(AnnouncementRow.key == "lonely"))
        kendra = session.scalar(select(ServiceRow.id).where(ServiceRow.slug == "amazon-kendra"))
        session.execute(
            delete(AnnouncementServiceRow).where(
                AnnouncementServiceRow.announcement_id == lonely, AnnouncementServiceRow.service_id == kendra
            )
        )
        session.add(AnnouncementServiceRow(announcement_id=lonely, service_id=redshift.id, sort_at=START))
    report = site.publish()
    files = site.files()
    assert files == site.reference()
    assert "launch-005" in feed_keys(files, "services/amazon-redshift")
    assert "launch-005" not in feed_keys(files, "services/aws-lambda") | feed_keys(files, "services/amazon-aurora")
    assert "lonely" in feed_keys(files, "services/amazon-redshift")
    # Kendra lost its only launch: its feed is gone, and says so in the report.
    assert "services/amazon-kendra.atom" in report.removed
    assert not any("kendra" in p for p in files)


def test_a_removed_announcement_leaves_every_feed(
    site: Site, records_read: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    ids = fill(site, 60)
    site.publish()
    gone = ids[14]  # at the event, in two services' feeds and at least one archive page
    with unit_of_work(site.ctx.factory) as session:
        session.execute(delete(AnnouncementRow).where(AnnouncementRow.id == gone))
        orphans = session.scalars(select(PublishedEntryRow.key).where(PublishedEntryRow.announcement_id.is_(None)))
        assert set(orphans) == {"launch-014"}
    records_read.clear()
    with caplog.at_level(logging.INFO, logger="tracker.pipeline.folder"):
        site.publish()
    assert "publishing every feed" not in caplog.text
    # The pages from its place on shift by one: `all` has 46 entries newer than it, so about
    # 16 pages of 3 are read again, not the 60 launches of every feed.
    assert len(records_read) < 2 * 60
    files = site.files()
    assert not any(b"launch-014" in data for data in files.values())
    assert files == site.reference()


def test_updated_moves_only_when_the_record_changes(site: Site) -> None:
    fill(site, 10)
    site.publish()

    def updated(key: str) -> str:
        items = json.loads(site.files()["all.json"])["items"]
        return next(i["date_modified"] for i in items if i["_tracker"]["key"] == key)

    before = updated("launch-009")
    with unit_of_work(site.ctx.factory) as session:
        ann = session.scalar(select(AnnouncementRow.id).where(AnnouncementRow.key == "launch-009"))
        assert ann is not None
        session_id = upsert_session(
            session,
            ConferenceSession(key="storage-keynote", title="Storage keynote", kind="keynote"),
            event_id=None,
            event_slug=None,
        )
        link_session(session, ann, session_id, Link("structural", 1.0, "listed under it"))
    site.now = START + timedelta(days=40)
    site.store("launch-008", day=8, summary="Edited at the source.")
    site.publish()
    assert b"Storage keynote" in site.files()["all.json"]  # the link is published...
    assert updated("launch-009") == before  # ...without moving the entry's updated
    assert updated("launch-008") == "2031-02-10T09:00:00+00:00"  # an edit does
    assert site.files() == site.reference()


def test_mixed_changes_always_publish_what_a_full_build_gives(site: Site, monkeypatch: pytest.MonkeyPatch) -> None:
    # Counts of entries before and after a place start with a cap of 2: both ends and the
    # growing cap are exercised on a store of a few dozen launches.
    monkeypatch.setattr(folder, "FIRST_COUNT", 2)
    rng = random.Random(17)
    fill(site, 24)
    site.publish()
    keys = [f"launch-{n:03d}" for n in range(24)]
    for step in range(14):
        site.now = START + timedelta(days=100 + step)
        what = step % 7
        if what == 0:  # new launches, anywhere in time: archive pages shift from their place on
            # Two on one day: ties go by key, in code point order ("Z" before "a") on both databases.
            day = rng.randrange(0, 60)
            for key in (f"new-{step}", f"New:{step}"):
                keys.append(key)
                site.store(key, day=day, services=(rng.choice(SERVICES),))
        elif what == 1:  # an edit in place
            site.store(rng.choice(keys), day=0, summary=f"Edit {step}.")
        elif what == 2:  # an earlier date found: the entry moves back
            key = rng.choice(keys)
            site.store(key, day=-rng.randrange(1, 30), summary=f"Earlier {step}.")
        elif what == 3:  # another service named: the entry joins its feed
            site.store(rng.choice(keys), day=0, services=(rng.choice(SERVICES),))
        elif what == 4:  # deleted from the store
            key = keys.pop(rng.randrange(len(keys)))
            with unit_of_work(site.ctx.factory) as session:
                session.execute(delete(AnnouncementRow).where(AnnouncementRow.key == key))
        elif what == 5:  # a service renamed in the taxonomy: every entry and title of it changes
            renamed = Service(SERVICES[1].slug, f"AWS Lambda {step}", category="Serverless")
            with unit_of_work(site.ctx.factory) as session:
                sync_services(session, [renamed])
        else:  # a new source document mentions a launch: its sources change
            with unit_of_work(site.ctx.factory) as session:
                ann = session.scalar(select(AnnouncementRow.id).where(AnnouncementRow.key == rng.choice(keys)))
                assert ann is not None
                doc = upsert_document(
                    session,
                    url=f"https://blog.example.test/recap-{step}",
                    title="Recap",
                    author=None,
                    published_at=None,
                    content_hash=f"h{step}",
                    extractor_version="test",
                    archive_sha=None,
                    source_name=None,
                    kind="recap",
                    fetched_at=START,
                )
                add_mention(session, ann, doc.id, excerpt="", position=0, rule="test")
        site.publish()
        assert state_problems(site) == [], f"after step {step} ({what})"
        assert site.files() == site.reference(), f"after step {step} ({what})"


def test_an_undated_launch_and_the_last_of_a_feed(site: Site) -> None:
    fill(site, 7)
    site.publish()
    site.store("undated", day=0, undated=True, services=(SERVICES[2],))
    site.publish()
    assert site.files() == site.reference()
    with unit_of_work(site.ctx.factory) as session:
        session.execute(delete(AnnouncementRow))
    site.publish()
    assert site.files() == site.reference()  # only the empty feed of every announcement is left
    assert sorted(site.files()) == ["all.atom", "all.json", "all.rss", "index.html", "index.opml"]


def test_a_folder_not_matching_the_state_gets_a_full_publish(
    site: Site, records_read: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    fill(site, 15)
    site.publish()
    stray = site.out / "services" / "amazon-retired.atom"
    stray.write_bytes(b"<feed/>")

    # Unchanged store, unchanged folder: the stray file stays (only a full publish prunes).
    site.publish()
    assert stray.exists()
    # The marker gone (a publish cut short, a folder restored): everything is read and rendered.
    (site.out / MARKER).unlink()
    records_read.clear()
    with caplog.at_level(logging.INFO, logger="tracker.pipeline.folder"):
        report = site.publish()
    assert "publishing every feed" in caplog.text
    assert len(set(records_read)) == 15
    assert report.removed == ["services/amazon-retired.atom"] and not stray.exists()
    assert site.files() == site.reference()

    # Another folder: a full publish there; back here the state is that folder's: full again.
    other = site.out.parent / "other"
    site.ctx = pipeline.Context(site.ctx.settings.with_overrides(output_dir=other))
    site.publish()
    assert (other / "all.atom").read_bytes() == (site.out / "all.atom").read_bytes()
    site.ctx = pipeline.Context(site.ctx.settings.with_overrides(output_dir=site.out))
    records_read.clear()
    site.publish()
    assert len(set(records_read)) == 15


def test_a_state_that_disagrees_with_the_store_falls_back_to_a_full_publish(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    ids = fill(site, 15)
    site.publish()
    # Entries lost behind the publisher's back (a restored table, a bug): counts no longer add up.
    with unit_of_work(site.ctx.factory) as session:
        session.execute(delete(PublishedEntryRow).where(PublishedEntryRow.announcement_id.in_(ids[:6])))
    site.store("launch-003", day=3, summary="Edited.")
    with caplog.at_level(logging.WARNING, logger="tracker.pipeline.folder"):
        site.publish()
    assert "publishing every feed" in caplog.text
    assert site.files() == site.reference()


def test_full_publish_renders_everything_and_prunes(site: Site) -> None:
    fill(site, 9)
    site.publish()
    shutil.copy(site.out / "all.atom", site.out / "services" / "amazon-gone.atom")
    (site.out / "services" / "amazon-s3.rss").unlink()  # deleted by hand: --full brings it back
    assert site.publish().written == []  # nothing changed in the store: nothing to do
    report = site.publish(full=True)
    assert report.written == ["services/amazon-s3.rss"]
    assert report.removed == ["services/amazon-gone.atom"]
    assert site.files() == site.reference()


def _recap(name: str, launches: list[tuple[str, str, int]], sessions: int = 2) -> Document:
    """A recap at an event: its sessions, and launches (title, summary, session number) listed under them."""
    confs = tuple(
        ConferenceSession(key=f"{name.upper()}{n}", title=f"{name} session {n}", kind="breakout", code=f"X{name}{n}")
        for n in range(sessions)
    )
    return Document(
        url=f"https://recaps.example.test/{name}",
        title=f"AWS re:Invent 2031 recap: {name}",
        published_at=START,
        event="AWS re:Invent 2031",
        announcements=tuple(
            Announcement(
                title=title,
                summary=summary,
                published_at=START + timedelta(days=i),
                sessions=(confs[s].key,),
                rule="test",
                position=i,
            )
            for i, (title, summary, s) in enumerate(launches)
        ),
        sessions=confs,
        kind=DocumentKind.RECAP,
    )


def test_documents_stored_in_bulk_publish_what_a_full_build_gives(site: Site) -> None:
    # The pipeline's own write path (a document's rows a table at a time), step by step: each
    # publish reads only what the steps changed and the folder is what a full build gives.
    def ingest(doc: Document) -> None:
        with unit_of_work(site.ctx.factory) as session:
            pipeline.ingest_document(site.ctx, session, doc, source=None, archive_sha=None)

    def publish_matches() -> PublishReport:
        report = site.publish()
        assert state_problems(site) == []
        assert site.files() == site.reference()
        return report

    launches = [
        (f"Amazon S3 adds {word} for buckets", f"S3 {word}.", n % 2)
        for n, word in enumerate(("tags", "alarms", "exports", "replicas", "snapshots", "quotas"))
    ]
    ingest(_recap("one", launches))
    publish_matches()
    # Another recap: two launches of the first again (their sources change) and a new one.
    ingest(_recap("two", [launches[1], launches[4], ("AWS Lambda adds tiered pools", "Pools.", 0)]))
    publish_matches()
    # The first recap edited: a summary rewritten, a launch listed under the other session.
    edited = list(launches)
    edited[2] = (launches[2][0], "S3 exports, now in every Region.", launches[2][2])
    edited[5] = (launches[5][0], launches[5][1], 1 - launches[5][2])
    ingest(_recap("one", edited))
    publish_matches()
    # Stored again as it is, under another extractor version: nothing to publish.
    site.ctx.version += "+again"
    ingest(_recap("one", edited))
    again = publish_matches()
    assert again.written == []


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_full_publish_leaves_postgresql_the_count_of_its_entries(site: Site) -> None:
    # A planner that believes the entries are few sorts a whole feed to read one page of it.
    fill(site, 12)
    site.publish()
    with unit_of_work(site.ctx.factory) as session:
        entries = session.scalar(select(func.count()).select_from(PublishedEntryRow))
        counted = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'published_entries'::regclass"))
    assert entries is not None and entries > 12
    assert counted == entries
