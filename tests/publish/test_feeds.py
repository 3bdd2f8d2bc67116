"""Feeds read back by real parsers: feedparser for Atom/RSS, json for JSON Feed, ElementTree for OPML."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import feedparser
import pytest

from tracker.items import AnnouncementRecord, Service
from tracker.publish import FeedContext, FeedSpec, build_feed_files, entry_id, render_atom, render_json, render_rss
from tracker.publish.feeds import EPOCH, _json_document, feed_specs, redate_opml, render_opml

from .conftest import BASE_URL, EVENT_SLUG

ATOM_NS = "{http://www.w3.org/2005/Atom}"
TITLE = "AWS announcements"
ALL = FeedSpec(path="all", title=TITLE, description="every announcement", kind="all", slug=None)
RFC822 = re.compile(
    r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"\d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$"
)


def build(records: list[AnnouncementRecord], ctx: FeedContext, limit: int = 100) -> dict[str, bytes]:
    return build_feed_files(records, ctx, title=TITLE, limit=limit)


def parse(data: bytes) -> feedparser.FeedParserDict:
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def ids(data: bytes) -> list[str]:
    return [e.id for e in parse(data).entries]


def by_key(records: list[AnnouncementRecord]) -> dict[str, AnnouncementRecord]:
    return {r.key: r for r in records}


def test_every_atom_and_rss_file_parses_cleanly(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    files = build(records, ctx)
    feeds = [p for p in files if p.endswith((".atom", ".rss"))]
    assert len(feeds) == 2 * (1 + 4 + 1 + 3)  # all, four services, one event, three services in the event
    for path in feeds:
        parsed = parse(files[path])
        assert parsed.version == ("atom10" if path.endswith(".atom") else "rss20"), path
        assert parsed.entries, path
        assert all(e.title and e.id for e in parsed.entries), path


def test_expected_file_names(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    files = build(records, ctx)
    stems = {p.rsplit(".", 1)[0] for p in files if p not in {"index.opml", "index.html"}}
    assert stems == {
        "all",
        "services/amazon-s3",
        "services/amazon-aurora",
        "services/amazon-redshift",
        "services/aws-lambda",
        f"events/{EVENT_SLUG}",
        f"events/{EVENT_SLUG}/services/amazon-s3",
        f"events/{EVENT_SLUG}/services/amazon-aurora",
        f"events/{EVENT_SLUG}/services/amazon-redshift",
    }
    for stem in stems:
        assert {f"{stem}.atom", f"{stem}.rss", f"{stem}.json"} <= files.keys()


def test_output_is_byte_identical_across_renders_and_input_orders(
    records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    first = build(records, ctx)
    shuffled = list(records)
    random.Random(7).shuffle(shuffled)
    assert build(shuffled, ctx) == first
    assert build(list(reversed(records)), ctx) == first


def test_entry_ids_depend_only_on_the_key(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    for render in (render_atom, render_rss):
        before = ids(render(ALL, records, ctx))
        assert sorted(before) == sorted(entry_id(r.key) for r in records)
        assert len(set(before)) == len(before)
        assert all(r.key in entry_id(r.key) for r in records)
    edited = [
        dataclasses.replace(
            r, title=r.title + " (edited)", summary="new words", url="https://moved.example.test/x", id=r.id + 100
        )
        for r in records
    ]
    for render in (render_atom, render_rss):
        assert sorted(ids(render(ALL, edited, ctx))) == sorted(ids(render(ALL, records, ctx)))
    json_ids = [i["id"] for i in json.loads(render_json(ALL, edited, ctx))["items"]]
    assert sorted(json_ids) == sorted(entry_id(r.key) for r in records)
    # a different key is a different entry
    assert entry_id("a") != entry_id("b")


def test_rss_guid_is_not_a_permalink(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    root = ET.fromstring(render_rss(ALL, records, ctx))
    guids = root.findall("./channel/item/guid")
    assert len(guids) == len(records)
    assert all(g.get("isPermaLink") == "false" for g in guids)
    assert sorted(g.text or "" for g in guids) == sorted(entry_id(r.key) for r in records)


def test_updated_follows_updated_at(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    target = "s3-vector-tables"
    before = {e.id: e for e in parse(render_atom(ALL, records, ctx)).entries}
    newer = datetime(2032, 1, 5, 8, 0, tzinfo=UTC)
    changed = [dataclasses.replace(r, updated_at=newer) if r.key == target else r for r in records]
    after_bytes = render_atom(ALL, changed, ctx)
    after = {e.id: e for e in parse(after_bytes).entries}
    eid = entry_id(target)
    assert before[eid].updated != after[eid].updated
    assert datetime.fromisoformat(after[eid].updated) == newer
    assert before[eid].published == after[eid].published  # published stays announced_at
    # feed-level updated is the newest entry, never the wall clock
    assert datetime.fromisoformat(parse(after_bytes).feed.updated) == newer
    others = [k for k in after if k != eid]
    assert all(before[k].updated == after[k].updated for k in others)


def test_feed_updated_is_the_newest_entry_not_now(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    newest = max(
        (r.updated_at or r.announced_at).replace(tzinfo=UTC)  # type: ignore[union-attr]
        for r in records
        if r.updated_at or r.announced_at
    )
    atom = parse(render_atom(ALL, records, ctx))
    assert datetime.fromisoformat(atom.feed.updated) == newest
    rss_root = ET.fromstring(render_rss(ALL, records, ctx))
    assert parsedate_to_datetime(rss_root.findtext("./channel/lastBuildDate") or "") == newest
    empty = parse(render_atom(ALL, [], ctx))
    assert datetime.fromisoformat(empty.feed.updated) == EPOCH
    assert empty.entries == []


def test_entries_link_to_the_original_source(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    known = by_key(records)
    for render in (render_atom, render_rss):
        for entry in parse(render(ALL, records, ctx)).entries:
            record = next(r for r in records if entry_id(r.key) == entry.id)
            assert entry.link == (record.url or record.sources[0])
    # exactly one link per Atom entry: the other sources must not become extra alternates
    atom_root = ET.fromstring(render_atom(ALL, records, ctx))
    assert all(len(e.findall(ATOM_NS + "link")) == 1 for e in atom_root.iter(ATOM_NS + "entry"))
    # url None -> the first source
    assert known["aurora-redshift-zero-etl"].url is None
    items = {i["id"]: i for i in json.loads(render_json(ALL, records, ctx))["items"]}
    assert items[entry_id("aurora-redshift-zero-etl")]["url"] == "https://blog.example.test/recap-2031"
    assert items[entry_id("s3-vector-tables")]["url"] == known["s3-vector-tables"].url


def test_non_web_links_are_never_used(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    record = dataclasses.replace(records[0], key="js", url="javascript:alert(1)", sources=("/tmp/local.md",))
    for render in (render_atom, render_rss, render_json):
        assert b"javascript:" not in render(ALL, [record], ctx)
    assert "link" not in parse(render_rss(ALL, [record], ctx)).entries[0]


def test_categories_are_the_services_and_the_event(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    atom = parse(render_atom(ALL, records, ctx))
    rss = parse(render_rss(ALL, records, ctx))
    for record in records:
        eid = entry_id(record.key)
        a = next(e for e in atom.entries if e.id == eid)
        service_tags = [t for t in a.tags if t.scheme == BASE_URL + "services/"]
        assert sorted(t.term for t in service_tags) == sorted(s.slug for s in record.services)
        assert sorted(t.label for t in service_tags) == sorted(s.name for s in record.services)
        event_tags = [t.term for t in a.tags if t.scheme == BASE_URL + "events/"]
        assert event_tags == ([record.event_slug] if record.event_slug else [])
        r = next(e for e in rss.entries if e.id == eid)
        expected = sorted([s.name for s in record.services] + ([record.event] if record.event else []))
        assert sorted(t.term for t in r.tags) == expected


def test_per_service_and_event_files_hold_exactly_their_records(
    records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    files = build(records, ctx)
    slugs = {s.slug for r in records for s in r.services}
    for slug in slugs:
        expected = {entry_id(r.key) for r in records if slug in {s.slug for s in r.services}}
        for ext in (".atom", ".rss"):
            assert set(ids(files[f"services/{slug}{ext}"])) == expected, slug
        items = json.loads(files[f"services/{slug}.json"])["items"]
        assert {i["id"] for i in items} == expected
    in_event = {entry_id(r.key) for r in records if r.event_slug == EVENT_SLUG}
    assert len(in_event) == 2
    assert set(ids(files[f"events/{EVENT_SLUG}.atom"])) == in_event
    assert set(ids(files["all.atom"])) == {entry_id(r.key) for r in records}


def test_entries_are_newest_first_undated_last(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    expected = [
        entry_id(k)
        for k in (
            "s3-vector-tables",
            "aurora-redshift-zero-etl",
            "lambda-tenant-isolation",
            "s3-bucket-quotas",
            "lambda-undated",
        )
    ]
    assert ids(render_atom(ALL, records, ctx)) == expected
    assert ids(render_rss(ALL, records, ctx)) == expected
    assert [i["id"] for i in json.loads(render_json(ALL, records, ctx))["items"]] == expected


def test_limit_keeps_the_newest(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    files = build(records, ctx, limit=2)
    assert ids(files["all.atom"]) == [entry_id("s3-vector-tables"), entry_id("aurora-redshift-zero-etl")]
    for path, data in files.items():
        if path.endswith((".atom", ".rss")):
            assert 1 <= len(parse(data).entries) <= 2, path
    assert ids(files["services/aws-lambda.rss"]) == [entry_id("lambda-tenant-isolation"), entry_id("lambda-undated")]
    with pytest.raises(ValueError):
        build(records, ctx, limit=0)


def test_script_in_source_text_is_escaped_never_a_tag(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    eid = entry_id("s3-vector-tables")
    atom_root = ET.fromstring(render_atom(ALL, records, ctx))
    entry = next(e for e in atom_root.iter(ATOM_NS + "entry") if e.findtext(ATOM_NS + "id") == eid)
    content = entry.find(ATOM_NS + "content")
    assert content is not None and content.get("type") == "html"
    html_text = content.text or ""
    assert "&lt;script&gt;steal()&lt;/script&gt;" in html_text
    assert "<script" not in html_text.lower()
    assert "&amp; query" in html_text  # a bare & is escaped too
    assert entry.find(ATOM_NS + "summary").get("type") == "text"  # type: ignore[union-attr]

    rss_root = ET.fromstring(render_rss(ALL, records, ctx))
    item = next(i for i in rss_root.iter("item") if i.findtext("guid") == eid)
    description = item.findtext("description") or ""
    assert "&lt;script&gt;steal()&lt;/script&gt;" in description
    assert "<script" not in description.lower()

    item_json = next(i for i in json.loads(render_json(ALL, records, ctx))["items"] if i["id"] == eid)
    assert "<script" not in item_json["content_html"].lower()
    assert "&lt;script&gt;" in item_json["content_html"]
    assert "<script>steal()</script>" in item_json["content_text"]  # plain text stays plain

    # and a real reader sees the escaped text, not a tag it had to strip
    parsed_entry = next(e for e in parse(render_atom(ALL, records, ctx)).entries if e.id == eid)
    assert "&lt;script&gt;steal()&lt;/script&gt;" in parsed_entry.content[0].value
    assert "<script>" in parsed_entry.title  # titles are plain text (Atom type="text")


def test_content_lists_sessions_with_video_links_and_services(
    records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    eid = entry_id("s3-vector-tables")
    parsed = next(e for e in parse(render_atom(ALL, records, ctx)).entries if e.id == eid)
    value = parsed.content[0].value
    assert 'Announced in: <a href="https://www.youtube.com/watch?v=KEYNOTE0001">Keynote with the CEO</a>' in value
    assert "STG330: Deep dive into S3 vectors" in value  # no video: named, not linked
    assert "Services: Amazon S3" in value
    assert parsed.summary.startswith("Store vectors in S3")
    rss_entries = parse(render_rss(ALL, records, ctx)).entries
    other = next(e for e in rss_entries if e.id == entry_id("aurora-redshift-zero-etl"))
    assert '<a href="https://www.youtube.com/watch?v=ANALYTICS01">Analytics innovation talk</a>' in other.summary
    assert "Services: Amazon Aurora, Amazon Redshift" in other.summary


def test_atom_feed_level_metadata(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    files = build(records, ctx)
    for path in ("all", "services/amazon-s3", f"events/{EVENT_SLUG}"):
        feed = parse(files[path + ".atom"]).feed
        assert feed.author_detail.name == ctx.author
        self_links = [ln.href for ln in feed.links if ln.rel == "self"]
        assert self_links == [BASE_URL + path + ".atom"]
        assert [ln.type for ln in feed.links if ln.rel == "self"] == ["application/atom+xml"]
        assert any(ln.rel == "alternate" for ln in feed.links)
        assert feed.id == feedparser.parse(files[path + ".atom"]).feed.id  # present and stable
        assert path in feed.id
        assert feed.language == "en"
        assert feed.generator == "tracker"
        assert feed.subtitle
        rss_feed = parse(files[path + ".rss"]).feed
        assert [ln.href for ln in rss_feed.links if ln.rel == "self"] == [BASE_URL + path + ".rss"]
        assert rss_feed.language == "en"


def test_rss_dates_are_rfc822_and_round_trip(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    root = ET.fromstring(render_rss(ALL, records, ctx))
    known = {entry_id(r.key): r for r in records}
    dated = 0
    for item in root.iter("item"):
        record = known[item.findtext("guid") or ""]
        text = item.findtext("pubDate")
        expected = record.announced_at or record.updated_at
        if expected is None:
            assert text is None  # undated: no invented date
            continue
        assert text and RFC822.match(text), text
        parsed = parsedate_to_datetime(text)
        assert parsed.tzinfo is not None
        assert parsed == (expected if expected.tzinfo else expected.replace(tzinfo=UTC))
        dated += 1
    assert dated == 4
    last_build = root.findtext("./channel/lastBuildDate") or ""
    assert RFC822.match(last_build)


def test_atom_and_json_dates_are_rfc3339_with_timezone(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    root = ET.fromstring(render_atom(ALL, records, ctx))
    stamps = [el.text or "" for tag in ("updated", "published") for el in root.iter(ATOM_NS + tag)]
    assert stamps
    for stamp in stamps:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", stamp), stamp
    for item in json.loads(render_json(ALL, records, ctx))["items"]:
        for key in ("date_published", "date_modified"):
            if key in item:
                assert datetime.fromisoformat(item[key]).tzinfo is not None
    # the naive datetime was taken as UTC
    aurora = next(
        e for e in parse(render_atom(ALL, records, ctx)).entries if e.id == entry_id("aurora-redshift-zero-etl")
    )
    assert datetime.fromisoformat(aurora.published) == datetime(2031, 12, 1, 10, 0, tzinfo=UTC)
    undated = next(e for e in parse(render_atom(ALL, records, ctx)).entries if e.id == entry_id("lambda-undated"))
    assert datetime.fromisoformat(undated.updated) == EPOCH  # documented deterministic fallback
    assert "published" not in undated


def test_json_feed_structure(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    files = build(records, ctx)
    for path in [p for p in files if p.endswith(".json")]:
        feed = json.loads(files[path])
        assert feed["version"] == "https://jsonfeed.org/version/1.1"
        assert isinstance(feed["title"], str) and feed["title"]
        assert feed["feed_url"] == BASE_URL + path
        assert feed["home_page_url"] == BASE_URL
        assert feed["authors"] == [{"name": ctx.author}]
        assert isinstance(feed["items"], list) and feed["items"]
        for item in feed["items"]:
            assert isinstance(item["id"], str) and item["id"].startswith("tag:")
            assert item.get("content_html") or item.get("content_text")
            assert isinstance(item["tags"], list)
            assert item["url"].startswith("https://")
            ext = item["_tracker"]
            assert {"services", "event", "sessions"} <= ext.keys()
            names = [s["name"] for s in ext["services"]]
            assert names == sorted(names, key=str.lower)
    items = {i["id"]: i for i in json.loads(files["all.json"])["items"]}
    s3 = items[entry_id("s3-vector-tables")]["_tracker"]
    assert s3["event"] == {"name": "AWS re:Invent 2031", "slug": EVENT_SLUG}
    assert [s["url"] for s in s3["sessions"]] == ["https://www.youtube.com/watch?v=KEYNOTE0001", None]
    assert s3["sessions"][1]["code"] == "STG330"
    assert items[entry_id("s3-vector-tables")]["tags"] == ["Amazon S3", "AWS re:Invent 2031"]
    assert items[entry_id("lambda-tenant-isolation")]["_tracker"]["event"] is None


def test_opml_lists_every_feed_file(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    files = build(records, ctx)
    root = ET.fromstring(files["index.opml"])
    assert root.tag == "opml" and root.get("version") == "2.0"
    body = root.find("body")
    assert body is not None
    groups = body.findall("outline")
    # the fixture services have no category: they land in "Other services"
    assert [g.get("text") for g in groups] == ["All announcements", "Services: Other services", "Events"]
    urls = [o.get("xmlUrl") for g in groups for o in g.findall("outline")]
    produced = sorted(
        BASE_URL + p for p in files if p.endswith((".atom", ".rss", ".json")) and not p.startswith("archive/")
    )
    assert sorted(u or "" for u in urls) == produced
    assert len(urls) == len(set(urls))
    assert all(o.get("type") == "rss" and o.get("text") for g in groups for o in g.findall("outline"))
    services = [o.get("xmlUrl") for o in groups[1].findall("outline")]
    assert all("/services/" in (u or "") for u in services)
    events = [o.get("xmlUrl") for o in groups[2].findall("outline")]
    assert all(f"/events/{EVENT_SLUG}" in (u or "") for u in events)
    assert events[0] == f"{BASE_URL}events/{EVENT_SLUG}.atom"  # the event first, then its services


def test_unsafe_slugs_get_no_file(
    records: list[AnnouncementRecord], ctx: FeedContext, caplog: pytest.LogCaptureFixture
) -> None:
    evil = dataclasses.replace(
        records[0],
        key="evil",
        services=(Service("../../etc/passwd", "Evil"), Service("Bad Slug", "Bad")),
        event="Evil Event",
        event_slug="../events",
    )
    with caplog.at_level(logging.WARNING, logger="tracker.publish.feeds"):
        files = build([*records, evil], ctx)
    assert all(".." not in p and not p.startswith("/") for p in files)
    assert not any("passwd" in p or "Bad" in p for p in files)
    assert "not [a-z0-9-]+" in caplog.text
    assert entry_id("evil") in ids(files["all.atom"])  # still in the all feed


def test_characters_xml_cannot_carry_are_dropped(records: list[AnnouncementRecord], ctx: FeedContext) -> None:
    odd = dataclasses.replace(records[0], key="odd", title="Vertical\x0btab\x00 and \x1b escape", summary="a\x08b")
    for render in (render_atom, render_rss):
        entry = parse(render(ALL, [odd], ctx)).entries[0]
        assert entry.title == "Verticaltab and escape"
    assert json.loads(render_json(ALL, [odd], ctx))["items"][0]["summary"] == "ab"


def test_redating_the_opml_index_gives_the_bytes_a_render_gives(
    records: list[AnnouncementRecord], ctx: FeedContext
) -> None:
    specs = [spec for spec, _ in feed_specs(records, title="AWS")]
    before, after = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    old = render_opml(specs, ctx, title="AWS", updated=before)
    assert redate_opml(old, before, after) == render_opml(specs, ctx, title="AWS", updated=after)
    assert redate_opml(old, before, before) == old
    # Not the dateModified it is said to have (or not an index at all): nothing to splice into.
    assert redate_opml(old, after, before) is None
    assert redate_opml(b"<opml><head><dateModified>x</dateModified></head></opml>", before, after) is None


@pytest.mark.parametrize(
    "data",
    [
        {
            "text": "".join(chr(i) for i in range(128)) + '\u2028\u00e9\U0001f600\\"',
            "n": [0, -0.0, 0.83, 1e16, True, None],
        },
        {"small": [1e-05, 2.5e-7], "odd": [float("nan"), float("inf")]},  # floats orjson writes otherwise
        {"big": 2**70},  # beyond orjson's integers
        {"empty": [[], {}], "nested": {"a": {"b": []}}},
    ],
)
def test_json_documents_are_the_bytes_json_dumps_writes(data: object) -> None:
    assert _json_document(data) == (json.dumps(data, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
