"""News items kept as JSON: a JSON Feed, a saved API answer holding JSON in a string, a nested dump."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tracker.errors import ExtractError
from tracker.extract import extract
from tracker.items import DocumentKind

WHATS_NEW = "https://aws.amazon.com/about-aws/whats-new/2031/03/"


def _item(slug: str, title: str, body: str, **extra: object) -> dict[str, object]:
    return {"title": title, "content": f"<p>{body}</p>", "link": WHATS_NEW + slug, **extra}


def test_saved_api_answer_holding_json_in_a_string() -> None:
    # An API gateway's answer: the items are a JSON text inside "body"; dates are epoch milliseconds.
    stamp = int(datetime(2031, 3, 4, 17, 0, tzinfo=UTC).timestamp() * 1000)
    inner = {
        "items": [
            _item("zeta-widgets", "Amazon Zeta Widgets is now generally available", "Widgets, now GA.", date=stamp),
            _item("quux-regions", "Amazon Quux is now available in two more Regions", "More Regions.", date=str(stamp)),
        ],
        "meta": {"itemCount": 2},
    }
    text = json.dumps({"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(inner)})
    docs = extract(text, url="/home/me/saved/response.json")
    assert [d.kind for d in docs] == [DocumentKind.WHATS_NEW, DocumentKind.WHATS_NEW]
    titles = [d.announcements[0].title for d in docs]
    assert titles == [
        "Amazon Zeta Widgets is now generally available",
        "Amazon Quux is now available in two more Regions",
    ]
    for doc in docs:
        ann = doc.announcements[0]
        assert ann.published_at == datetime(2031, 3, 4, 17, 0, tzinfo=UTC)
        assert ann.url.startswith(WHATS_NEW)


def test_json_feed_of_blog_posts_reads_each_posts_launches() -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Someone's AWS notes",
        "items": [
            {
                "id": "1",
                "url": "https://blog.example.org/2031/reinvent-picks",
                "title": "My re:Invent 2031 picks",
                "date_published": "2031-12-03T10:00:00Z",
                "content_html": "<ul><li>Announcing <b>Amazon Zeta Lakes</b>, a lake for widgets</li>"
                "<li>Announcing <b>AWS Quux Studio</b></li></ul><p>See you next year.</p>",
                "tags": ["aws", "reinvent"],
            }
        ],
    }
    docs = extract(json.dumps(feed), url="https://blog.example.org/feed.json", content_type="application/feed+json")
    assert len(docs) == 1
    doc = docs[0]
    assert doc.kind != DocumentKind.SESSION_LISTING
    titles = {a.title for a in doc.announcements}
    assert {"Amazon Zeta Lakes", "AWS Quux Studio"} <= titles
    assert "See you next year." not in titles
    assert doc.published_at == datetime(2031, 12, 3, 10, 0, tzinfo=UTC)


def test_nested_whats_new_directory_dump() -> None:
    # Each item's fields sit in nested objects ({"item": {"additionalFields": {...}}}).
    dump = {
        "metadata": {"count": 1},
        "items": [
            {
                "item": {
                    "id": "whats-new#zeta",
                    "additionalFields": {
                        "headline": "Amazon Zeta adds widget replication",
                        "headlineUrl": "/about-aws/whats-new/2031/05/amazon-zeta-widget-replication/",
                        "postBody": "<p>Replicate widgets.</p>",
                        "postDateTime": "2031-05-06T18:00:00Z",
                    },
                },
                "tags": [{"name": "amazon-zeta"}],
            }
        ],
    }
    docs = extract(json.dumps(dump), url="https://aws.amazon.com/api/dirs/items/search")
    assert len(docs) == 1 and docs[0].kind == DocumentKind.WHATS_NEW
    ann = docs[0].announcements[0]
    assert ann.title == "Amazon Zeta adds widget replication"
    # A relative link is resolved against the document's own address.
    assert ann.url == "https://aws.amazon.com/about-aws/whats-new/2031/05/amazon-zeta-widget-replication/"
    assert ann.published_at == datetime(2031, 5, 6, 18, 0, tzinfo=UTC)


def test_session_catalogue_stays_a_session_listing() -> None:
    rows = [
        {"code": "DAT401", "title": "Deep dive on Amazon Zeta", "description": "How it works.", "date": "2031-12-01"},
        {"title": "Zeta in practice", "url": "https://www.youtube.com/watch?v=abcdefghijk", "description": "Demo."},
    ]
    docs = extract(json.dumps(rows), url="catalogue.json")
    assert [d.kind for d in docs] == [DocumentKind.SESSION_LISTING]
    assert {s.title for s in docs[0].sessions} == {"Deep dive on Amazon Zeta", "Zeta in practice"}


@pytest.mark.parametrize(
    "text", ['{"statusCode": 500, "body": "{\\"message\\": \\"oops\\"}"}', "[]", '{"items": [1, 2]}']
)
def test_json_without_news_is_not_read_as_news(text: str) -> None:
    # Nothing that looks like an item: no announcement is invented (the session reader decides).
    try:
        docs = extract(text, url="x.json")
    except ExtractError:
        return
    assert all(not d.announcements for d in docs)
