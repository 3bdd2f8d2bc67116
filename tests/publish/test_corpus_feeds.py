"""Feeds built from the real documents in ../shared/corpus pass the validator checks and parse cleanly.

Records come from `tracker extract` of a real recap and a real What's New feed (no database:
the text, services, URLs and session links are what matter to the feeds).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import feedparser
import pytest

from tracker import pipeline
from tracker.config import load_settings
from tracker.items import AnnouncementRecord, Link, Service, SessionLinkRecord, SessionRecord
from tracker.publish import FeedContext, build_feed_files, entry_id
from tracker.publish.feeds import web_url
from tracker.textutil import slugify

from .conftest import BASE_URL
from .feedcheck import check_feed

pytestmark = pytest.mark.corpus
DOCUMENTS = ("recaps/2023-12-aws-reinvent-2023.md", "whats-new/whats-new-feed-2025-02-22.xml")


def corpus_records(corpus: Path) -> list[AnnouncementRecord]:
    """AnnouncementRecords from the extraction of real documents."""
    settings = load_settings(Path(__file__).resolve().parents[2] / "config", environ={})
    records: list[AnnouncementRecord] = []
    session_ids: dict[str, int] = {}
    for document in DOCUMENTS:
        result = pipeline.extract_location(settings, str(corpus / document))
        for n, ann in enumerate(result["announcements"]):
            sessions = []
            for link in ann["links"]:
                ref = str(link["session"])
                sid = session_ids.setdefault(ref, len(session_ids) + 1)
                url = ref if ref.startswith("http") else None
                sessions.append(
                    SessionLinkRecord(
                        session=SessionRecord(
                            id=sid, title=ref if url is None else f"Session {sid}", kind="session", url=url
                        ),
                        link=Link(str(link["method"]), float(link["score"]), str(link["reason"])),
                    )
                )
            event = ann["event"]
            records.append(
                AnnouncementRecord(
                    id=len(records) + 1,
                    key=f"{slugify(document)}-{n}",
                    title=str(ann["title"]),
                    summary=str(ann["summary"] or ""),
                    url=ann["url"] or ann["document"],
                    announced_at=datetime.fromisoformat(ann["announced_at"]) if ann["announced_at"] else None,
                    event=event,
                    event_slug=slugify(event) if event else None,
                    services=tuple(Service(slugify(name), name) for name in ann["services"]),
                    sessions=tuple(sessions),
                )
            )
    return records


def test_feeds_of_real_documents_are_valid(corpus: Path) -> None:
    records = corpus_records(corpus)
    assert len(records) > 50 and any(r.sessions for r in records) and any(r.event for r in records)
    files = build_feed_files(
        records, FeedContext(base_url=BASE_URL, author="tracker"), title="AWS announcements", limit=20
    )
    feeds = {p: d for p, d in files.items() if p.endswith((".atom", ".rss", ".json"))}
    assert any(p.startswith("archive/") for p in feeds) and any("/services/" in p for p in feeds)
    assert [problem for path, data in sorted(feeds.items()) for problem in check_feed(path, data, BASE_URL)] == []
    known = {entry_id(r.key): r for r in records}
    for path, data in feeds.items():
        if path.endswith(".json"):
            assert all(item["id"] in known for item in json.loads(data)["items"])
            continue
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        for entry in parsed.entries:
            record = known[entry.id]
            if (record.url or "").startswith(("http://", "https://")):
                assert entry.link == web_url(record.url or "")
            else:  # a local file is never a link (feedparser shows the RSS guid instead)
                assert not entry.get("link", "").startswith("/")
            body = entry.content[0].value if "content" in entry else entry.summary
            for link in record.sessions:
                if link.session.url:
                    assert web_url(link.session.url) in body
