"""A small world for fault tests: two What's New-style sources on a loopback server, run via the CLI.

`World` writes a config folder (tracker.toml with tiny timeouts and retry waits, sources.toml),
runs `tracker run` through `tracker.cli.main` and reads the store back for the invariants
every fault must keep: nothing stored is lost, nothing is duplicated, the feeds on disk parse.
"""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Callable, Iterator, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
import pytest
from sqlalchemy import func, select

from tests.support.http import FixtureServer
from tracker.cli import main
from tracker.store.db import close_stores, open_store, unit_of_work
from tracker.store.models import AnnouncementRow, DocumentRow, MentionRow

# Distinct services and wording, so no two items are the same launch.
SERVICES = [
    ("amazon-s3", "Amazon S3", "adds object tags to lifecycle reports"),
    ("aws-lambda", "AWS Lambda", "supports durable timers up to a year"),
    ("amazon-cloudwatch", "Amazon CloudWatch", "alarms on log ingestion cost anomalies"),
    ("amazon-dynamodb", "Amazon DynamoDB", "introduces point-in-time export to Parquet"),
    ("amazon-rds", "Amazon RDS", "now offers blue/green upgrades for read replicas"),
    ("amazon-ec2", "Amazon EC2", "launches memory-optimized instances with local NVMe"),
    ("amazon-sqs", "Amazon SQS", "increases the maximum message retention to thirty days"),
    ("amazon-sns", "Amazon SNS", "delivers messages to mobile push with priority headers"),
    ("aws-glue", "AWS Glue", "adds connectors for streaming change data capture"),
    ("amazon-kinesis", "Amazon Kinesis", "supports on-demand shard splitting across accounts"),
]


@dataclass(frozen=True)
class Item:
    """One What's New item of a generated feed."""

    n: int  # index into SERVICES
    feed: str  # which feed it belongs to, part of its URL
    edit: str = ""  # appended to the title: an upstream edit
    retitle: str = ""  # replaces the title: an upstream rewording

    @property
    def url(self) -> str:
        return f"https://aws.amazon.com/about-aws/whats-new/2030/11/{self.feed}-{SERVICES[self.n][0]}/"

    @property
    def title(self) -> str:
        return self.retitle or f"{SERVICES[self.n][1]} {SERVICES[self.n][2]}{self.edit}"


GOOD_ITEMS = [Item(0, "good"), Item(1, "good"), Item(2, "good")]


def whats_new_feed(items: Sequence[Item], *, title: str = "Recent Announcements", extra: str = "") -> str:
    """An RSS 2.0 feed shaped like AWS What's New, written for these tests."""
    base = datetime(2030, 11, 20, 12, tzinfo=UTC)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
        f"<title>{escape(title)}</title><link>https://aws.amazon.com/about-aws/whats-new/recent/</link>",
        "<description>Launches from Amazon Web Services.</description>",
    ]
    for item in items:
        slug, name, _ = SERVICES[item.n]
        parts.append(
            "<item>"
            f'<guid isPermaLink="false">{item.feed}-{slug}</guid>'
            f"<title>{escape(item.title)}</title>"
            f"<description>&lt;p&gt;{escape(name)} {escape(SERVICES[item.n][2])}. {escape(extra)}&lt;/p&gt;</description>"
            f"<pubDate>{format_datetime(base + timedelta(hours=item.n), usegmt=True)}</pubDate>"
            f"<category>general:products/{slug},marketing:marchitecture/general</category>"
            f"<link>{item.url}</link>"
            "</item>"
        )
    parts.append("</channel></rss>\n")
    return "".join(parts)


def dead_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Snapshot:
    """What the store holds, by natural keys."""

    announcements: dict[str, tuple[int, str]]  # url -> (id, title)
    documents: set[str]
    mentions: int


class World:
    """A config folder, a database and a loopback server with a `good` and a `bad` source."""

    def __init__(self, root: Path, database_url: str, server: FixtureServer) -> None:
        self.root = root
        self.database_url = database_url
        self.server = server
        self.config = root / "config"
        self.config.mkdir()
        self.output = root / "feeds"
        self.write_settings()

    def write_settings(self, **http: object) -> None:
        values: dict[str, object] = {
            "user_agent": "tracker-fault-tests/0.1",
            "timeout": 0.5,
            "connect_timeout": 0.5,
            "retries": 1,
            "backoff": 0.01,
            "max_bytes": 60_000,
            "max_seconds": 1.0,
            "max_retry_wait": 1.0,
            "min_interval": 0.0,
            "robots": True,
        }
        values.update(http)
        lines = [
            f'database_url = "{self.database_url}"',
            f'output_dir = "{self.output}"',
            f'archive_dir = "{self.root / "archive"}"',
            "[http]",
        ]
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
        (self.config / "tracker.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def sources(self, good_url: str | None = None, bad_url: str | None = None, *, bad_kind: str = "whats-new") -> None:
        """Write sources.toml (defaults: both on the server)."""
        good_url = good_url or self.server.url("/good/feed.xml")
        bad_url = bad_url or self.server.url("/bad/feed.xml")
        (self.config / "sources.toml").write_text(
            f'[[source]]\nname = "good"\nkind = "whats-new"\nurl = "{good_url}"\n\n'
            f'[[source]]\nname = "bad"\nkind = "{bad_kind}"\nurl = "{bad_url}"\n',
            encoding="utf-8",
        )

    def run(self, *args: str) -> int:
        """`tracker run` through the CLI; returns the exit code."""
        return main(["--config", str(self.config), "-q", "run", *args])

    def status(self) -> dict[str, object]:
        """`tracker status --format json`, parsed."""
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(["--config", str(self.config), "status", "--format", "json"])
        assert code == 0
        return json.loads(out.getvalue())

    def source_state(self, name: str) -> dict[str, object]:
        states = {s["name"]: s for s in self.status()["sources"]}  # type: ignore[index, union-attr]
        return states[name]  # type: ignore[return-value]

    def snapshot(self) -> Snapshot:
        with unit_of_work(open_store(self.database_url)) as session:
            rows = session.execute(select(AnnouncementRow.id, AnnouncementRow.url, AnnouncementRow.title)).all()
            urls = [r.url for r in rows]
            # The invariant: one announcement per What's New item, however many runs saw it.
            assert len(urls) == len(set(urls)), f"duplicated announcements: {sorted(urls)}"
            docs = set(session.scalars(select(DocumentRow.url)))
            mentions = int(session.scalar(select(func.count()).select_from(MentionRow)) or 0)
        return Snapshot({r.url: (r.id, r.title) for r in rows}, docs, mentions)

    def summary(self, url: str) -> str:
        """The stored summary of the announcement with this URL."""
        with unit_of_work(open_store(self.database_url)) as session:
            return str(session.scalar(select(AnnouncementRow.summary).where(AnnouncementRow.url == url)))

    def feed_entries(self) -> list[str]:
        """The entry ids of the published Atom feed of everything (it must parse completely)."""
        path = self.output / "all.atom"
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, f"{path} is not a complete feed: {parsed.get('bozo_exception')}"
        ids = [e.id for e in parsed.entries]
        assert len(ids) == len(set(ids)), "duplicated feed entries"
        return ids


@pytest.fixture
def make_world(
    tmp_path: Path, http_server: FixtureServer, request: pytest.FixtureRequest
) -> Iterator[Callable[[str], World]]:
    """Build a world on "sqlite" (a copy of the seeded file) or "postgresql" (a clone of the migrated template)."""

    def make(backend: str) -> World:
        if backend == "sqlite":
            url = str(request.getfixturevalue("seeded_sqlite_url"))
        else:
            url = str(request.getfixturevalue("postgres_url"))
        return World(tmp_path, url, http_server)

    yield make
    close_stores()


@pytest.fixture(params=["sqlite", "postgresql"])
def world(make_world: Callable[[str], World], request: pytest.FixtureRequest) -> World:
    """A fresh world on SQLite and on PostgreSQL."""
    return make_world(request.param)
