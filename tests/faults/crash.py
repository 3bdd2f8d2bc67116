"""The SIGKILL campaign, shared by tests/faults/test_crash.py and tests/benchmarks/crash_kills.py.

Each round changes the upstream feeds (new items, edited summaries), starts `python -m tracker run`
in a subprocess and kills it with SIGKILL at a random moment. After every kill the store must
be consistent (integrity and foreign keys, one announcement per item) and every feed file on
disk must be complete; at the end a normal run must store exactly the items ever served, each
once, and publish them.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import feedparser
from sqlalchemy import text

from tests.faults.conftest import World
from tracker.config import PACKAGE_ROOT, data_file
from tracker.normalize import Taxonomy
from tracker.store.db import close_stores, open_store, unit_of_work

REPO = Path(__file__).resolve().parents[2]
FEEDS = ("a", "b", "c")
PER_FEED = 30


@dataclass
class CampaignResult:
    """What a campaign did."""

    rounds: int = 0
    killed: int = 0  # killed while running
    finished: int = 0  # ended before the kill came
    runs_started: int = 0  # killed runs that had recorded their start in the database
    calibration: float = 0.0  # seconds an uninterrupted run took (the kill window scales with it)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _services() -> list[tuple[str, str]]:
    taxonomy = Taxonomy.load(data_file(PACKAGE_ROOT / "config", "services.toml").parent)
    return [(s.slug, s.name) for s in taxonomy.services][: len(FEEDS) * PER_FEED]


def item_url(feed: str, slug: str) -> str:
    """The What's New URL of one generated item."""
    return f"https://aws.amazon.com/about-aws/whats-new/2030/10/{feed}-{slug}-crash/"


def feed_version(feed: str, services: list[tuple[str, str]], round_no: int) -> tuple[str, set[str]]:
    """Round `round_no` of one feed: a growing set of items whose summaries change every few rounds."""
    index = FEEDS.index(feed)
    mine = services[index * PER_FEED : (index + 1) * PER_FEED]
    count = min(len(mine), 8 + round_no)
    base = datetime(2030, 10, 1, tzinfo=UTC)
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>crash {feed}</title><link>https://aws.amazon.com/about-aws/whats-new/recent/</link>"
    ]
    urls = set()
    for n, (slug, name) in enumerate(mine[:count]):
        url = item_url(feed, slug)
        urls.add(url)
        # Upstream edits: every few rounds half of the items get a new summary.
        revision = f" Updated in revision {round_no // 3}." if n % 2 == 0 else ""
        parts.append(
            f"<item><guid>{feed}-{slug}</guid><title>{escape(name)} launches capability {n}</title>"
            f"<description>{escape(name)} capability {n} is now available.{escape(revision)}</description>"
            f"<pubDate>{format_datetime(base + timedelta(hours=n), usegmt=True)}</pubDate>"
            f"<category>general:products/{slug}</category><link>{url}</link></item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts), urls


def check_feeds(output: Path) -> list[str]:
    """Every published file parses completely; the problems found."""
    problems: list[str] = []
    if not output.is_dir():
        return problems
    for path in sorted(output.rglob("*")):
        if not path.is_file() or path.name.startswith("."):
            continue  # a writer's temp file is never at a published name
        data = path.read_bytes()
        try:
            if path.suffix == ".json":
                json.loads(data)
            elif path.suffix in (".atom", ".rss"):
                parsed = feedparser.parse(data)
                if parsed.bozo:
                    problems.append(f"{path.name}: {parsed.get('bozo_exception')}")
            elif path.suffix in (".opml", ".xml"):
                ElementTree.fromstring(data)
        except (ValueError, ElementTree.ParseError) as exc:
            problems.append(f"{path.name}: {exc}")
    return problems


def check_store(world: World) -> list[str]:
    """Consistency of the database after a kill; the problems found."""
    problems: list[str] = []
    factory = open_store(world.database_url)
    try:
        with unit_of_work(factory) as session:
            if world.database_url.startswith("sqlite"):
                integrity = session.execute(text("PRAGMA integrity_check")).scalar()
                if integrity != "ok":
                    problems.append(f"integrity_check: {integrity}")
                broken = session.execute(text("PRAGMA foreign_key_check")).all()
                if broken:
                    problems.append(f"foreign keys: {broken[:3]}")
            orphans = session.execute(
                text("SELECT count(*) FROM mentions m LEFT JOIN documents d ON d.id = m.document_id WHERE d.id IS NULL")
            ).scalar()
            if orphans:
                problems.append(f"{orphans} mentions without a document")
    finally:
        close_stores()
    try:
        world.snapshot()  # asserts one announcement per item
    except AssertionError as exc:
        problems.append(str(exc))
    return problems


def _run_count(world: World) -> int:
    try:
        with unit_of_work(open_store(world.database_url)) as session:
            return int(session.execute(text("SELECT count(*) FROM runs")).scalar() or 0)
    finally:
        close_stores()


def campaign(world: World, kills: int, *, seed: int) -> CampaignResult:
    """Run `kills` rounds of start-then-SIGKILL at a random moment of a run.

    A first, uninterrupted run in a subprocess measures how long a run takes here (start-up
    included), and so does every later run that finishes before its kill; each kill comes
    uniformly between 25% and 105% of the latest measure, so the kills spread over the whole
    run (imports, fetching, storing, publishing) whatever the machine's speed.
    """
    rng = random.Random(seed)
    services = _services()
    served: set[str] = set()
    result = CampaignResult()
    started = time.monotonic()
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    command = [sys.executable, "-m", "tracker", "--config", str(world.config), "-q", "run"]
    for round_no in range(-1, kills):
        for feed in FEEDS:
            body, urls = feed_version(feed, services, max(round_no, 0))
            served |= urls
            world.server.route(f"/{feed}.xml", body, content_type="application/rss+xml")
        if round_no < 0:
            begin = time.monotonic()
            subprocess.run(command, cwd=REPO, env=env, capture_output=True, check=True)
            result.calibration = time.monotonic() - begin
            continue
        runs_before = _run_count(world)
        begin = time.monotonic()
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        delay = rng.uniform(0.25 * result.calibration, 1.05 * result.calibration)
        try:
            process.wait(timeout=delay)
            result.finished += 1
            # A run that beat the kill is the newest measure of a run's length here (the
            # machine may have been busier during the first): aim the next kills by it.
            result.calibration = time.monotonic() - begin
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
            process.wait()
            result.killed += 1
            result.runs_started += _run_count(world) > runs_before
        result.rounds += 1
        for problem in check_store(world) + check_feeds(world.output):
            result.problems.append(f"round {round_no}: {problem}")
    # A normal run afterwards completes and holds every item ever served, once.
    code = world.run()
    if code != 0:
        result.problems.append(f"the run after the campaign exited {code}")
    snapshot = world.snapshot()
    if set(snapshot.announcements) != served:
        missing = served - set(snapshot.announcements)
        extra = set(snapshot.announcements) - served
        result.problems.append(f"after the campaign: {len(missing)} items missing, {len(extra)} unexpected")
    entries = world.feed_entries()
    if len(entries) != min(len(served), 100):
        result.problems.append(f"all.atom has {len(entries)} entries for {len(served)} announcements")
    result.problems += check_feeds(world.output)
    result.seconds = time.monotonic() - started
    return result


def setup_world(world: World) -> None:
    """Three feed sources on the world's server, and a first complete run."""
    lines = []
    for feed in FEEDS:
        lines.append(
            f'[[source]]\nname = "crash-{feed}"\nkind = "whats-new"\nurl = "{world.server.url(f"/{feed}.xml")}"\n'
        )
    (world.config / "sources.toml").write_text("\n".join(lines), encoding="utf-8")
