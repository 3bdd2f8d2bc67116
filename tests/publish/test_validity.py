"""Every published file passes the validator's checks and parses cleanly in two languages.

Python: feedparser (bozo must be 0). Node.js: @rowanmanning/feed-parser and rss-parser
(xml2js, a strict XML parser), installed from tests/js/package-lock.json by .ci/run.
Also: RFC 5005 archives, the OPML and HTML indexes, and HTML sanitising.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from tests.conftest import ON_CI
from tracker.items import AnnouncementRecord, Link, Service, SessionLinkRecord, SessionRecord
from tracker.publish import FeedContext, build_feed_files, entry_id, sanitize_html
from tracker.publish.feeds import web_url

from .conftest import BASE_URL, EVENT, EVENT_SLUG
from .feedcheck import check_feed, check_html

JS_DIR = Path(__file__).resolve().parent.parent / "js"
ATOM_NS = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"
TITLE = "AWS announcements"
COMPUTE = Service("amazon-ec2", "Amazon EC2", category="Compute")
STORAGE = Service("amazon-s3", "Amazon S3", category="Storage")
GLACIER = Service("amazon-s3-glacier", "Amazon S3 Glacier", category="Storage")
LAMBDA = Service("aws-lambda", "AWS Lambda", category="Compute")
NOCAT = Service("aws-thing", "AWS Thing")


def many_records(count: int, *, start: datetime = datetime(2031, 1, 1, tzinfo=UTC)) -> list[AnnouncementRecord]:
    """`count` invented launches a day apart, over several services, some in an event, with hostile text."""
    services = [COMPUTE, STORAGE, GLACIER, LAMBDA, NOCAT]
    out = []
    for n in range(count):
        in_event = n % 3 == 0
        video = SessionLinkRecord(
            session=SessionRecord(
                id=1000 + n,
                title=f"Session {n}",
                kind="breakout",
                code=f"DEV{n:03d}",
                url=f"https://www.youtube.com/watch?v=VIDEO{n:06d}",
                event=EVENT,
                event_slug=EVENT_SLUG,
            ),
            link=Link("structural", 1.0, "listed under the session"),
        )
        out.append(
            AnnouncementRecord(
                id=n + 1,
                key=f"launch-{n:04d}",
                title=f'Launch {n} <b onmouseover=alert(1)>bold</b> & "quoted"',
                summary=f"Summary {n} with <img src=x onerror=alert(1)> and <a href='javascript:alert(1)'>link</a>.",
                url=f"https://aws.example.test/new/launch-{n}/?utm=1&x=<y>",
                announced_at=start + timedelta(days=n),
                updated_at=start + timedelta(days=n, hours=3) if n % 2 else None,
                event=EVENT if in_event else None,
                event_slug=EVENT_SLUG if in_event else None,
                services=(services[n % len(services)],) + ((LAMBDA,) if n % 4 == 0 else ()),
                sessions=(video,) if in_event else (),
                sources=(f"https://blog.example.test/post-{n}",),
            )
        )
    return out


def build(records: list[AnnouncementRecord], ctx: FeedContext, limit: int = 100) -> dict[str, bytes]:
    return build_feed_files(records, ctx, title=TITLE, limit=limit)


def feeds_of(files: dict[str, bytes]) -> dict[str, bytes]:
    return {p: d for p, d in files.items() if p.endswith((".atom", ".rss", ".json"))}


# ---------------------------------------------------------------- the validator's checks


@pytest.mark.parametrize("limit", [100, 4])
def test_every_published_file_passes_the_validator_checks(
    records: list[AnnouncementRecord], ctx: FeedContext, limit: int
) -> None:
    files = build(records + many_records(30), ctx, limit=limit)
    feeds = feeds_of(files)
    assert any(p.startswith("archive/") for p in feeds) == (limit == 4)
    problems = [problem for path, data in sorted(feeds.items()) for problem in check_feed(path, data, BASE_URL)]
    assert problems == []


def test_the_checker_catches_what_it_claims_to(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    """The checker is only worth something if it fails on broken feeds."""
    files = build(records, ctx)
    atom, rss, jsonfeed = files["all.atom"], files["all.rss"], files["all.json"]
    assert check_feed("all.atom", atom, BASE_URL) == []
    assert check_feed("moved.atom", atom, BASE_URL)  # self link no longer matches
    no_author = re.sub(rb"<author>.*?</author>", b"", atom, flags=re.S)
    assert any("no author" in p for p in check_feed("all.atom", no_author, BASE_URL))
    assert check_feed("all.atom", atom.replace(b"2031-12-03T09:00:00+00:00", b"2031-12-03 09:00"), BASE_URL)
    assert check_feed("all.rss", rss.replace(b"+0000</pubDate>", b"</pubDate>"), BASE_URL)
    assert check_feed("all.rss", rss.replace(b"<link>https://aws.example.test", b"<link>/aws.example.test"), BASE_URL)
    assert check_feed("all.json", jsonfeed.replace(b'"feed_url": "https://', b'"feed_url": "http://'), BASE_URL)
    assert check_html('<p><a href="javascript:alert(1)">x</a></p>', "t")
    assert check_html('<p onclick="x()">x</p>', "t")
    assert check_html("<script>x()</script>", "t")
    assert check_html('<a href="/relative">x</a>', "t")
    assert check_html('<p>javascript: as text is fine <a href="https://x.test/">ok</a></p>', "t") == []


def test_every_xml_feed_parses_in_feedparser_without_warnings(
    records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    all_records = records + many_records(12)
    files = build(all_records, ctx, limit=5)
    known = {entry_id(r.key): r for r in all_records}
    xml_feeds = {p: d for p, d in files.items() if p.endswith((".atom", ".rss"))}
    assert len(xml_feeds) > 20
    for path, data in xml_feeds.items():
        parsed = feedparser.parse(data)
        assert parsed.bozo == 0, (path, parsed.get("bozo_exception"))
        assert parsed.version == ("atom10" if path.endswith(".atom") else "rss20")
        for entry in parsed.entries:
            record = known[entry.id]
            assert entry.link == web_url(record.url or record.sources[0])
            labels = {t.label or t.term for t in entry.tags}
            assert {s.name for s in record.services} <= labels, path
            body = entry.content[0].value if "content" in entry else entry.summary
            for link in record.sessions:
                assert (link.session.url or link.session.title) in body, path


# ---------------------------------------------------------------- a reader in another language


def _node_readers() -> Path:
    if shutil.which("node") is None or not (JS_DIR / "node_modules" / "@rowanmanning" / "feed-parser").is_dir():
        reason = f"the Node.js feed readers are not installed (npm ci --prefix {JS_DIR})"
        if ON_CI:
            pytest.fail(reason + " (CI=true: .ci/run installs them)")
        pytest.skip(reason)
    return JS_DIR / "read_feeds.mjs"


def test_node_feed_readers_parse_every_xml_feed(
    records: list[AnnouncementRecord], ctx: FeedContext, tmp_path: Path
) -> None:
    script = _node_readers()
    all_records = records + many_records(12)
    files = build(all_records, ctx, limit=5)
    paths = []
    for rel, data in files.items():
        if rel.endswith((".atom", ".rss")):
            target = tmp_path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            paths.append(rel)
    result = subprocess.run(
        ["node", str(script), *paths], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True
    )
    seen = json.loads(result.stdout)
    known = {entry_id(r.key): r for r in all_records}
    assert sorted(seen) == sorted(paths)
    for rel, out in seen.items():
        assert out["errors"] == [], rel
        rowan, strict = out["rowan"], out["rssParser"]
        parsed = feedparser.parse(files[rel])
        assert rowan["title"] == parsed.feed.title
        assert rowan["self"] == BASE_URL + rel
        assert [i["id"] for i in rowan["items"]] == [e.id for e in parsed.entries]
        assert [i["id"] for i in strict["items"]] == [e.id for e in parsed.entries]
        if rel.endswith(".atom"):
            assert rowan["authors"] == [ctx.author]
        for item in rowan["items"]:
            record = known[item["id"]]
            assert item["url"] == web_url(record.url or record.sources[0])
            assert {s.name for s in record.services} <= set(item["categories"])
            if record.announced_at:
                published = record.announced_at.replace(tzinfo=record.announced_at.tzinfo or UTC)
                assert datetime.fromisoformat(item["published"].replace("Z", "+00:00")) == published
            for link in record.sessions:
                if link.session.url:
                    assert f'href="{link.session.url}"' in item["content"]


# ---------------------------------------------------------------- RFC 5005 archives


def _xml_links(data: bytes) -> dict[str, str]:
    root = ET.fromstring(data)
    parent = root if root.tag == ATOM_NS + "feed" else root.find("channel")
    assert parent is not None
    return {ln.get("rel") or "": ln.get("href") or "" for ln in parent.findall(ATOM_NS + "link")}


def _walk_archives(files: dict[str, bytes], path: str, ext: str) -> list[str]:
    """Entry ids seen by a subscriber who follows prev-archive from the subscription feed."""
    ids: list[str] = []
    current = path + ext
    visited = set()
    while current:
        assert current not in visited, "prev-archive loop"
        visited.add(current)
        data = files[current]
        if ext == ".json":
            feed = json.loads(data)
            ids += [i["id"] for i in feed["items"]]
            nxt = feed.get("next_url")
        else:
            ids += [e.id for e in feedparser.parse(data).entries]
            nxt = _xml_links(data).get("prev-archive")
        current = nxt.removeprefix(BASE_URL) if nxt else ""
    return ids


@pytest.mark.parametrize("ext", [".atom", ".rss", ".json"])
def test_archives_make_every_entry_reachable(ctx: FeedContext, ext: str) -> None:
    all_records = many_records(23)
    files = build(all_records, ctx, limit=5)
    assert len(feedparser.parse(files["all.atom"]).entries) == 5
    assert sorted({f"archive/all/{n}{ext}" for n in range(1, 5)}) == sorted(
        p for p in files if p.startswith("archive/all/") and p.endswith(ext)
    )
    assert set(_walk_archives(files, "all", ext)) == {entry_id(r.key) for r in all_records}
    lambda_records = [r for r in all_records if LAMBDA in r.services]
    assert set(_walk_archives(files, "services/aws-lambda", ext)) == {entry_id(r.key) for r in lambda_records}
    # a feed with no more than `limit` entries has no archive at all
    small = [p for p in files if p.startswith("archive/services/amazon-s3-glacier/")]
    assert len([r for r in all_records if GLACIER in r.services]) <= 5 and small == []


def test_archive_pages_link_to_current_and_neighbours(ctx: FeedContext) -> None:
    files = build(many_records(23), ctx, limit=5)
    assert _xml_links(files["all.atom"])["prev-archive"] == BASE_URL + "archive/all/4.atom"
    assert ET.fromstring(files["all.atom"]).find(FH + "archive") is None
    first, middle, newest = (_xml_links(files[f"archive/all/{n}.atom"]) for n in (1, 2, 4))
    assert first["current"] == middle["current"] == newest["current"] == BASE_URL + "all.atom"
    assert "prev-archive" not in first and first["next-archive"] == BASE_URL + "archive/all/2.atom"
    assert middle["prev-archive"] == BASE_URL + "archive/all/1.atom"
    assert "next-archive" not in newest
    for n in range(1, 5):
        page = ET.fromstring(files[f"archive/all/{n}.atom"])
        assert page.find(FH + "archive") is not None
        # same feed id as the subscription document (RFC 5005 section 4)
        assert page.findtext(ATOM_NS + "id") == ET.fromstring(files["all.atom"]).findtext(ATOM_NS + "id")
        rss_channel = ET.fromstring(files[f"archive/all/{n}.rss"]).find("channel")
        assert rss_channel is not None and rss_channel.find(FH + "archive") is not None


def test_archive_pages_stay_stable_as_new_launches_arrive(ctx: FeedContext) -> None:
    before = build(many_records(23), ctx, limit=5)
    after = build(many_records(31), ctx, limit=5)  # eight newer launches
    pages_before = sorted(p for p in before if p.startswith("archive/all/"))
    assert pages_before and set(pages_before) <= set(after)
    assert len([p for p in after if p.startswith("archive/all/") and p.endswith(".atom")]) == 6
    for path in pages_before:
        if path.endswith(".json"):
            assert [i["id"] for i in json.loads(before[path])["items"]] == [
                i["id"] for i in json.loads(after[path])["items"]
            ]
        else:
            assert [e.id for e in feedparser.parse(before[path]).entries] == [
                e.id for e in feedparser.parse(after[path]).entries
            ]
        if not path.startswith("archive/all/4."):
            # only the page that was newest gains a next-archive link; older pages keep every byte
            assert before[path] == after[path], path


def test_an_update_changes_updated_in_the_archive_too_never_the_id(ctx: FeedContext) -> None:
    records = many_records(12)
    files = build(records, ctx, limit=5)
    changed_at = datetime(2032, 6, 1, tzinfo=UTC)
    edited = [
        dataclasses.replace(r, title="Renamed", updated_at=changed_at) if r.key == "launch-0000" else r for r in records
    ]
    after = build(edited, ctx, limit=5)
    old = {e.id: e for e in feedparser.parse(files["archive/all/1.atom"]).entries}
    new = {e.id: e for e in feedparser.parse(after["archive/all/1.atom"]).entries}
    eid = entry_id("launch-0000")
    assert old.keys() == new.keys() and eid in new
    assert datetime.fromisoformat(new[eid].updated) == changed_at != datetime.fromisoformat(old[eid].updated)
    assert new[eid].title == "Renamed"


# ---------------------------------------------------------------- sanitising


def test_entry_html_is_sanitised_everywhere(ctx: FeedContext) -> None:
    hostile = many_records(3)
    hostile[0] = dataclasses.replace(
        hostile[0],
        sessions=(
            SessionLinkRecord(
                session=SessionRecord(
                    id=9, title="<script>x()</script>", kind="keynote", url="javascript:alert(document.cookie)"
                ),
                link=Link("structural", 1.0, ""),
            ),
        ),
    )
    files = build(hostile, ctx)
    for path, data in feeds_of(files).items():
        assert b"javascript:alert(document" not in data, path
        for problem in check_feed(path, data, BASE_URL):
            pytest.fail(problem)


@pytest.mark.parametrize(
    "dirty, forbidden",
    [
        ('<p onclick="steal()">x</p>', "onclick"),
        ('<a href="javascript:alert(1)">x</a>', "javascript:"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "avascript"),
        ("<script>alert(1)</script><p>x</p>", "<script"),
        ('<img src="x" onerror="alert(1)">', "onerror"),
        ("<style>body{}</style>", "<style"),
        ('<iframe src="https://evil.test/"></iframe>', "<iframe"),
        ('<a href="data:text/html,<script>x</script>">x</a>', "data:"),
    ],
)
def test_sanitize_html_removes_active_content(dirty: str, forbidden: str) -> None:
    clean = sanitize_html(dirty)
    assert forbidden.lower() not in clean.lower()
    assert check_html(clean, "clean") == []


def test_link_urls_are_valid_uris() -> None:
    assert web_url("https://a.test/x?q=<y> z") == "https://a.test/x?q=%3Cy%3E%20z"
    same = "https://a.test/p%20q?a=1&b=%C3%A9#frag"
    assert web_url(same) == same


def test_sanitize_html_keeps_the_markup_we_write() -> None:
    ours = '<p>Announced in: <a href="https://www.youtube.com/watch?v=AB&amp;t=1">Keynote</a></p>'
    assert sanitize_html(ours) == ours


# ---------------------------------------------------------------- discovery: OPML and index.html


def test_opml_groups_service_feeds_by_category(ctx: FeedContext) -> None:
    files = build(many_records(15), ctx)
    body = ET.fromstring(files["index.opml"]).find("body")
    assert body is not None
    groups = {g.get("text"): g for g in body.findall("outline")}
    assert list(groups) == [
        "All announcements",
        "Services: Compute",
        "Services: Storage",
        "Services: Other services",
        "Events",
    ]
    compute = {o.get("xmlUrl") for o in groups["Services: Compute"].findall("outline")}
    assert compute == {
        BASE_URL + f"services/{s}{ext}" for s in ("amazon-ec2", "aws-lambda") for ext in (".atom", ".rss", ".json")
    }
    storage = {o.get("xmlUrl") for o in groups["Services: Storage"].findall("outline")}
    assert BASE_URL + "services/amazon-s3-glacier.rss" in storage
    assert all(o.get("category") == "/Storage" for o in groups["Services: Storage"].findall("outline"))
    events = [o.get("xmlUrl") for o in groups["Events"].findall("outline")]
    assert BASE_URL + f"events/{EVENT_SLUG}/services/aws-lambda.atom" in events
    # every subscription feed is listed once, no archive page is
    listed = sorted(o.get("xmlUrl") or "" for g in groups.values() for o in g.findall("outline"))
    expected = sorted(BASE_URL + p for p in feeds_of(files) if not p.startswith("archive/"))
    assert listed == expected


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.alternates: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "a" and values.get("href"):
            self.hrefs.append(values["href"] or "")
        if tag == "link" and values.get("rel") == "alternate":
            self.alternates.append(values.get("href") or "")


def test_index_html_lists_every_feed(ctx: FeedContext) -> None:
    evil = Service("aws-evil", 'AWS <script>alert("x")</script> Evil', category="<b>Cat</b>")
    records = [*many_records(15), dataclasses.replace(many_records(1)[0], key="evil", services=(evil,))]
    files = build(records, ctx, limit=5)
    page = files["index.html"].decode()
    anchors = _Anchors()
    anchors.feed(page)
    expected = {BASE_URL + p for p in feeds_of(files) if not p.startswith("archive/")}
    assert expected <= set(anchors.hrefs)
    assert BASE_URL + "index.opml" in anchors.hrefs
    assert anchors.alternates == [BASE_URL + "all.atom", BASE_URL + "all.rss", BASE_URL + "all.json"]
    assert "<script" not in page and "&lt;script&gt;" in page
    assert page.startswith("<!DOCTYPE html>")
