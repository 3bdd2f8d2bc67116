"""End to end: a recap saved as a file, imported, then read back from the published feeds.

Every entry must carry the launch's date (a keynote's day, the event's first day), never the
time of the import, and link to a public address or to nothing, never to the local file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import feedparser

RECAP = """# My AWS re:Invent 2031 notes

* Announcing **Amazon Zeta Streams** before the show

## Keynotes

### Riley Ceo - CEO AWS

[YouTube](https://www.youtube.com/watch?v=RiLeYcEo002)

* Announcing **Amazon Kelp DB**, a graph database
* Announcing **AWS Pebble Store** for the edge

### Sam Cto - CTO

[YouTube](https://www.youtube.com/watch?v=SaMcTo00003)

* Announcing **Amazon Quill Ledger**
"""

EVENTS = """[[event]]
name = "AWS re:Invent 2031"
starts = 2031-12-01
ends = 2031-12-05
keynotes = [{ speaker = "Riley Ceo", day = 2031-12-02 }, { speaker = "Sam Cto", day = 2031-12-04 }]
"""

EXPECTED = {
    "Amazon Zeta Streams": datetime(2031, 12, 1, tzinfo=UTC),
    "Amazon Kelp DB": datetime(2031, 12, 2, tzinfo=UTC),
    "AWS Pebble Store": datetime(2031, 12, 2, tzinfo=UTC),
    "Amazon Quill Ledger": datetime(2031, 12, 4, tzinfo=UTC),
}


def _deploy(tmp_path: Path, database_url: str) -> tuple[Path, dict[str, str]]:
    config = tmp_path / "config"
    config.mkdir()
    (config / "events.toml").write_text(EVENTS, encoding="utf-8")
    (config / "sources.toml").write_text("", encoding="utf-8")
    recap = tmp_path / "saved" / "reinvent-2031-notes.md"
    recap.parent.mkdir()
    recap.write_text(RECAP, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKER_")}
    env.update(
        TRACKER_DATABASE_URL=database_url,
        TRACKER_OUTPUT_DIR=str(tmp_path / "out"),
        TRACKER_ARCHIVE_DIR=str(tmp_path / "archive"),
        TRACKER_BASE_URL="https://feeds.example.org/aws/",
    )
    return recap, env


def _tracker(tmp_path: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "tracker", "--config", str(tmp_path / "config"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _entries(out: Path) -> dict[str, dict[str, object]]:
    atom = feedparser.parse((out / "all.atom").read_bytes())
    rss = feedparser.parse((out / "all.rss").read_bytes())
    feed = json.loads((out / "all.json").read_text(encoding="utf-8"))
    assert not atom.bozo and not rss.bozo
    got: dict[str, dict[str, object]] = {}
    for form, parsed in (("atom", atom), ("rss", rss)):
        for entry in parsed.entries:
            # The entry's own link elements (feedparser would fall back to the entry id).
            link = next((lk.get("href") for lk in entry.get("links", []) if lk.get("rel") == "alternate"), None)
            got.setdefault(entry.title, {})[form] = (entry.get("published"), link)
    for item in feed["items"]:
        got.setdefault(item["title"], {})["json"] = (item.get("date_published"), item.get("url"))
    return got


def test_a_saved_recap_is_published_with_launch_dates_and_no_local_links(tmp_path: Path, database_url: str) -> None:
    recap, env = _deploy(tmp_path, database_url)
    _tracker(tmp_path, env, "import", str(recap))
    entries = _entries(tmp_path / "out")
    assert set(entries) == set(EXPECTED)
    for title, forms in entries.items():
        for form, (published, link) in forms.items():
            assert published, (title, form)
            assert feedparser.datetimes._parse_date(str(published))[:3] == EXPECTED[title].timetuple()[:3], (
                title,
                form,
                published,
            )
            assert not link or str(link).startswith("https://"), (title, form, link)
            assert str(recap) not in str(link or "") and "file:" not in str(link or "")
    updated = [e.updated for e in feedparser.parse((tmp_path / "out" / "all.atom").read_bytes()).entries]
    assert len(set(updated)) == len(updated), "launches of one day share an updated value"
    rows = json.loads(_tracker(tmp_path, env, "announcements", "--since", "2031-12-02", "--format", "json"))
    assert {r["title"] for r in rows} == {"Amazon Kelp DB", "AWS Pebble Store", "Amazon Quill Ledger"}
    assert all(r["url"] is None and r["sources"] == [] for r in rows)
    assert {r["announced_at_source"] for r in rows} == {"keynote"}


def test_a_saved_recap_with_its_public_url_links_there(tmp_path: Path, database_url: str) -> None:
    recap, env = _deploy(tmp_path, database_url)
    public = "https://blog.example.org/reinvent-2031-notes/"
    _tracker(tmp_path, env, "import", str(recap), "--url", public)
    for forms in _entries(tmp_path / "out").values():
        assert {str(link) for _, link in forms.values()} == {public}
