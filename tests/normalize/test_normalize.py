"""normalize(): a document's announcements with keys, services, URLs, dates and events."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracker.items import Announcement, Document
from tracker.normalize import Taxonomy, announcement_key, normalize

CONFIG = Path(__file__).resolve().parents[2] / "config"


@pytest.fixture(scope="module")
def tx() -> Taxonomy:
    return Taxonomy.load(CONFIG)


def test_normalize_a_recap(tx: Taxonomy) -> None:
    doc = Document(
        url="https://blog.example.org/2031/12/reinvent-2031-recap/?utm_source=rss",
        title="AWS re:Invent 2031",
        published_at=datetime(2031, 12, 8, 9, 30),
        kind="recap",
        announcements=(
            Announcement(
                title="Announcing **Amazon ElastiCache  Serverless**",
                summary="Scales &amp;nbsp;instantly",
                context=("AWS ElastiCache",),
            ),
            Announcement(
                title="Next-generation pretend scaling",
                context=("AWS Redshift Serverless", "Peter's keynote"),
                url="https://youtu.be/AbCdEfGhIjK?t=30",
                published_at=datetime(2031, 12, 1, tzinfo=UTC),
            ),
            Announcement(title="DGX cloud on AWS"),
            Announcement(title="Amazon ElastiCache Serverless is now generally available"),  # same launch
            Announcement(title="   "),
        ),
    )
    out = normalize(doc, tx, now=datetime(2031, 12, 10, tzinfo=UTC))
    assert [na.announcement.title for na in out] == [
        "Announcing Amazon ElastiCache Serverless",
        "Next-generation pretend scaling",
        "DGX cloud on AWS",
    ]
    first, second, third = out
    assert first.key == announcement_key("Amazon ElastiCache Serverless")
    assert [s.name for s in first.services] == ["Amazon ElastiCache"]
    assert first.announcement.summary == "Scales instantly"
    assert first.url == "https://blog.example.org/2031/12/reinvent-2031-recap/"
    assert first.announced_at == datetime(2031, 12, 8, 9, 30, tzinfo=UTC)
    assert first.event == "AWS re:Invent 2031"
    assert [s.name for s in second.services] == ["Amazon Redshift"]
    assert second.url == "https://www.youtube.com/watch?v=AbCdEfGhIjK"
    assert second.announced_at == datetime(2031, 12, 1, tzinfo=UTC)
    assert third.services == ()
    assert len({na.key for na in out}) == 3


def test_event_precedence(tx: Taxonomy) -> None:
    def event_of(ann_event: str | None, doc_event: str | None, title: str) -> str | None:
        doc = Document(
            url="https://example.org/p",
            title=title,
            event=doc_event,
            announcements=(Announcement(title="Amazon Zebra", event=ann_event),),
        )
        return normalize(doc, tx)[0].event

    assert event_of("re:Inforce 2031", "AWS re:Invent 2030", "AWS Summit Paris 2029") == "AWS re:Inforce 2031"
    assert event_of(None, "reInvent 2030", "AWS Summit Paris 2029") == "AWS re:Invent 2030"
    assert event_of(None, None, "Live from AWS Summit Paris 2029") == "AWS Summit Paris 2029"
    assert event_of(None, "Zebra Conference 2031", "") == "Zebra Conference 2031"  # declared, kept as written
    assert event_of(None, None, "A pretend post") is None


def test_implausible_dates_are_dropped(tx: Taxonomy) -> None:
    doc = Document(
        url="https://example.org/p",
        published_at=datetime(2099, 1, 1, tzinfo=UTC),
        announcements=(Announcement(title="Amazon Zebra"),),
    )
    assert normalize(doc, tx, now=datetime(2031, 1, 1, tzinfo=UTC))[0].announced_at is None
    assert normalize(doc, tx)[0].announced_at == datetime(2099, 1, 1, tzinfo=UTC)


def test_whats_new_item_uses_its_tags(tx: Taxonomy) -> None:
    doc = Document(
        url="https://aws.amazon.com/about-aws/whats-new/2031/02/pretend/",
        title="Pretend stripes now support pretend columns",
        kind="whats-new",
        announcements=(
            Announcement(
                title="Pretend stripes now support pretend columns",
                service_tags=("general:products/amazon-s3", "marketing:marchitecture/storage"),
            ),
        ),
    )
    (na,) = normalize(doc, tx)
    assert [s.name for s in na.services] == ["Amazon S3"]
    assert na.url == "https://aws.amazon.com/about-aws/whats-new/2031/02/pretend/"
    assert na.event is None


def test_key_is_stable_across_documents(tx: Taxonomy) -> None:
    a = Document(url="https://example.org/a", announcements=(Announcement(title="Announcing Amazon Zebra Stripes"),))
    b = Document(
        url="https://example.org/b",
        announcements=(Announcement(title="Amazon Zebra Stripes is now generally available"),),
    )
    assert normalize(a, tx)[0].key == normalize(b, tx)[0].key
