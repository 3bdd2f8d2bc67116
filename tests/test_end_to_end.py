"""End to end: `tracker run` in a subprocess against a real loopback mirror of the AWS sources.

The mirror (tests/fixtures/mirror) holds an AWS News Blog-like feed with its post pages, a
What's New-like feed and a re:Invent recap read from a local path. The published feeds are
read back with feedparser, the way a subscriber's reader would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import feedparser
import pytest

from tests.support.http import FixtureServer

REPO = Path(__file__).resolve().parent.parent
MIRROR = REPO / "tests" / "fixtures" / "mirror"

BLOG_FEED = "/blogs/aws/feed.xml"
WHATS_NEW_FEED = "/about-aws/whats-new/recent/feed.xml"


class Deployment:
    """A working folder with its own config, served mirror and database."""

    def __init__(self, root: Path, server: FixtureServer, database_url: str) -> None:
        self.root = root
        self.server = server
        self.mirror = root / "mirror"
        base = server.base_url.rstrip("/")
        for path in MIRROR.rglob("*"):
            if path.is_file():
                target = self.mirror / path.relative_to(MIRROR)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(path.read_text(encoding="utf-8").replace("{base}", base), encoding="utf-8")
        server.root = self.mirror
        config = root / "config"
        config.mkdir()
        (config / "tracker.toml").write_text(
            f'database_url = "{database_url}"\n'
            'output_dir = "public"\n'
            'archive_dir = "archive"\n'
            'base_url = "https://feeds.example.org/aws/"\n'
            "[http]\nretries = 0\ntimeout = 10.0\n",
            encoding="utf-8",
        )
        # The event's days and keynotes, as a deployment declares them: an undated recap's
        # launches then take their keynote's day.
        (config / "events.toml").write_text(
            '[[event]]\nname = "AWS re:Invent 2030"\nstarts = 2030-12-02\nends = 2030-12-06\n'
            'keynotes = [{ speaker = "Jane Keynoter", day = 2030-12-03 }, { speaker = "Robin Engineer", day = 2030-12-05 }]\n',
            encoding="utf-8",
        )
        recap = self.mirror / "recaps" / "reinvent-2030-recap.md"
        (config / "sources.toml").write_text(
            f'[[source]]\nname = "news-blog"\nkind = "news-blog"\nurl = "{server.url(BLOG_FEED)}"\nfetch_pages = true\n\n'
            f'[[source]]\nname = "whats-new"\nkind = "whats-new"\nurl = "{server.url(WHATS_NEW_FEED)}"\n\n'
            f'[[source]]\nname = "recap"\nkind = "markdown"\nurl = "{recap}"\n',
            encoding="utf-8",
        )
        self.config = config
        self.output = root / "public"

    def tracker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the installed CLI as a user would, in a clean environment."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
        env["TRACKER_CONFIG_DIR"] = str(self.config)
        result = subprocess.run(
            [sys.executable, "-m", "tracker", *args],
            cwd=self.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            pytest.fail(f"tracker {' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
        return result

    def announcements(self) -> list[dict[str, Any]]:
        """Every stored announcement, as `tracker announcements --format json` prints it."""
        out = self.tracker("announcements", "--format", "json", "--limit", "1000").stdout
        return list(json.loads(out))

    def feed(self, name: str) -> Any:
        """A published feed parsed back by feedparser; it must be well-formed."""
        path = self.output / name
        assert path.is_file(), f"{name} was not published; have {sorted(p.name for p in self.output.rglob('*'))}"
        parsed = feedparser.parse(path.read_bytes())
        assert not parsed.bozo, f"{name}: {parsed.get('bozo_exception')}"
        return parsed

    def snapshot(self) -> dict[str, tuple[int, bytes]]:
        """Every published file with its modification time and bytes."""
        return {
            str(p.relative_to(self.output)): (p.stat().st_mtime_ns, p.read_bytes())
            for p in sorted(self.output.rglob("*"))
            if p.is_file()
        }


@pytest.fixture
def deployment(tmp_path: Path, http_server: FixtureServer, database_url: str) -> Deployment:
    return Deployment(tmp_path, http_server, database_url)


def titles(parsed: Any) -> list[str]:
    return [entry.title for entry in parsed.entries]


def ids(parsed: Any) -> set[str]:
    return {entry.id for entry in parsed.entries}


def test_run_publishes_feeds_that_readers_accept(deployment: Deployment) -> None:
    result = deployment.tracker("run")
    assert "failed" not in result.stdout.lower().replace("0 failed", "")

    atom, rss = deployment.feed("all.atom"), deployment.feed("all.rss")
    json_feed = json.loads((deployment.output / "all.json").read_text(encoding="utf-8"))
    assert json_feed["version"] == "https://jsonfeed.org/version/1.1"
    assert len(atom.entries) == len(rss.entries) == len(json_feed["items"]) > 0
    assert ids(atom) == {item["id"] for item in json_feed["items"]}

    every_title = " | ".join(titles(atom))
    for launch in ("Glacier Flash Retrieval", "durable timers", "cost anomaly alarms", "Global Snapshots"):
        assert launch in every_title
    # One launch seen in the recap, a News Blog post and What's New is one entry.
    for launch in ("Glacier Flash Retrieval", "durable timers"):
        assert sum(launch.lower() in t.lower() for t in titles(atom)) == 1, titles(atom)
    # Bold text that is not a launch never becomes an entry, in the recap or in a post.
    for not_a_launch in ("Nature is Asynchronous", "Jordan Builder", "Riley Maker", "How it works", "Summit"):
        assert not_a_launch not in every_title
    # A launch that names no AWS service is kept, with no service rather than a wrong one.
    [partner] = [e for e in atom.entries if "Orbital Widgets" in e.title]
    assert not [t for t in partner.get("tags", []) if "/services/" in (t.scheme or "")]
    assert any("/services/" in (t.scheme or "") for e in atom.entries for t in e.get("tags", []))

    # Entries link to the original source: the post or What's New page on the (mirrored) site.
    links = {entry.title: entry.link for entry in atom.entries}
    durable = next(link for title, link in links.items() if "durable timers" in title)
    assert durable.startswith(deployment.server.base_url)
    # The self link is the public URL from the configuration.
    assert any(link.rel == "self" and link.href == "https://feeds.example.org/aws/all.atom" for link in atom.feed.links)

    # Every fetch names the project in its User-Agent.
    assert deployment.server.requests
    assert all("tracker" in r.headers["user-agent"] for r in deployment.server.requests)
    # The post pages were read, not only the feed.
    assert any(r.path.startswith("/blogs/aws/introducing-") for r in deployment.server.requests)


def test_per_service_and_per_event_feeds_hold_the_right_entries(deployment: Deployment) -> None:
    deployment.tracker("run")

    s3 = " | ".join(titles(deployment.feed("services/amazon-s3.atom")))
    assert "Glacier Flash Retrieval" in s3
    assert "durable timers" not in s3 and "cost anomaly" not in s3

    lambda_titles = " | ".join(titles(deployment.feed("services/aws-lambda.atom")))
    assert "durable timers" in lambda_titles
    assert "Glacier" not in lambda_titles

    cloudwatch = titles(deployment.feed("services/amazon-cloudwatch.atom"))
    assert any("cost anomaly alarms" in t for t in cloudwatch)
    assert all("CloudWatch" in t for t in cloudwatch)

    event = " | ".join(titles(deployment.feed("events/aws-reinvent-2030.atom")))
    assert "Global Snapshots" in event
    assert "cost anomaly" not in event  # a What's New item from no event

    opml = (deployment.output / "index.opml").read_text(encoding="utf-8")
    for name in ("all.atom", "services/amazon-s3.atom", "services/aws-lambda.atom", "events/aws-reinvent-2030.atom"):
        assert f"https://feeds.example.org/aws/{name}" in opml

    # The recap's keynote is the session where the recap's launches were announced.
    by_title = {a["title"]: a for a in deployment.announcements()}
    snapshots = next(a for t, a in by_title.items() if "Global Snapshots" in t)
    assert any(s["kind"] == "keynote" and "youtu" in (s["url"] or "") for s in snapshots["sessions"])


def test_second_run_changes_nothing(deployment: Deployment) -> None:
    deployment.tracker("run")
    before_rows = deployment.announcements()
    before_files = deployment.snapshot()
    before_ids = ids(deployment.feed("all.atom"))
    served = len(deployment.server.requests)

    deployment.tracker("run")

    assert deployment.announcements() == before_rows
    assert deployment.snapshot() == before_files  # same bytes, and not even rewritten
    assert ids(deployment.feed("all.atom")) == before_ids
    # The second run asked the feeds conditionally, and did not fetch unchanged posts again.
    second = deployment.server.requests[served:]
    feeds = [r for r in second if r.path in (BLOG_FEED, WHATS_NEW_FEED)]
    assert len(feeds) == 2
    assert all("if-none-match" in r.headers or "if-modified-since" in r.headers for r in feeds)
    assert not [r for r in second if r.path.startswith("/blogs/aws/") and r.path != BLOG_FEED]


def test_changed_upstream_item_updates_its_entry(deployment: Deployment) -> None:
    deployment.tracker("run")
    before = {e.id: e for e in deployment.feed("all.atom").entries}
    [(entry_id, old)] = [(i, e) for i, e in before.items() if "cost anomaly alarms" in e.title]

    feed = deployment.mirror / WHATS_NEW_FEED.lstrip("/")
    text = feed.read_text(encoding="utf-8")
    old_blurb = "You can now alarm on unusual log ingestion costs in Amazon CloudWatch."
    assert old_blurb in text
    feed.write_text(
        text.replace(
            old_blurb, "You can now alarm on unusual log ingestion costs, per log group, in Amazon CloudWatch."
        ),
        encoding="utf-8",
    )

    deployment.tracker("run")
    after = {e.id: e for e in deployment.feed("all.atom").entries}
    assert after.keys() == before.keys()  # updated in place: no new entry, no id changed
    new = after[entry_id]
    assert "per log group" in new.summary and "per log group" not in old.summary
    assert new.updated_parsed > old.updated_parsed
    unchanged = [i for i in before if i != entry_id]
    assert all(after[i].updated == before[i].updated for i in unchanged)


def test_offline_import_then_query_by_service(tmp_path: Path, database_url: str) -> None:
    """The README's offline path: import a saved recap, then ask for a service's launches."""
    recap = tmp_path / "recap.md"
    shutil.copy(MIRROR / "recaps" / "reinvent-2030-recap.md", recap)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_DATABASE_URL=database_url,
        TRACKER_OUTPUT_DIR=str(tmp_path / "out"),
        TRACKER_ARCHIVE_DIR=str(tmp_path / "archive"),
    )

    def tracker(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "tracker", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    tracker("import", str(recap))
    rows = json.loads(tracker("announcements", "--service", "Amazon S3", "--format", "json"))
    assert [r["title"] for r in rows] == ["Amazon S3 Glacier Flash Retrieval"]
    assert rows[0]["services"] == ["Amazon S3"]
    assert [s["kind"] for s in rows[0]["sessions"]] == ["keynote"]
    assert (tmp_path / "out" / "all.atom").is_file()


def test_malformed_post_page_does_not_stop_the_run(deployment: Deployment) -> None:
    """A post page with broken markup (unclosed and stray tags, cut off mid-tag) is read leniently."""
    page = deployment.mirror / "blogs/aws/introducing-amazon-s3-glacier-flash-retrieval/index.html"
    html = page.read_text(encoding="utf-8")
    cut = html.index("<strong>Now available")
    page.write_text(html[:cut] + '</div></span><p>unclosed <b>bold <i>and <a href="/x"', encoding="utf-8")

    deployment.tracker("run")

    every_title = " | ".join(titles(deployment.feed("all.atom")))
    assert "Glacier Flash Retrieval" in every_title
    assert "durable timers" in every_title.lower()  # the other sources went on as usual
    status = json.loads(deployment.tracker("status", "--format", "json").stdout)
    assert all(s["last_error"] is None for s in status["sources"]), status["sources"]
