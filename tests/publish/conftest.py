"""Announcement records for the publishing tests: several services, an event, sessions, odd text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tracker.items import AnnouncementRecord, Link, Service, SessionLinkRecord, SessionRecord
from tracker.publish import FeedContext

BASE_URL = "https://feeds.example.test/aws/"

S3 = Service("amazon-s3", "Amazon S3")
AURORA = Service("amazon-aurora", "Amazon Aurora")
REDSHIFT = Service("amazon-redshift", "Amazon Redshift")
LAMBDA = Service("aws-lambda", "AWS Lambda")
EVENT, EVENT_SLUG = "AWS re:Invent 2031", "aws-reinvent-2031"


def session(
    id_: int, title: str, kind: str = "breakout", *, code: str | None = None, url: str | None = None, score: float = 1.0
) -> SessionLinkRecord:
    """A stored session link."""
    return SessionLinkRecord(
        session=SessionRecord(id=id_, title=title, kind=kind, code=code, url=url, event=EVENT, event_slug=EVENT_SLUG),
        link=Link("structural", score, "listed under the session"),
    )


def make_records() -> list[AnnouncementRecord]:
    """Five invented launches; deliberately given out of date order."""
    return [
        AnnouncementRecord(
            id=3,
            key="lambda-tenant-isolation",
            title="AWS Lambda adds per-tenant isolation",
            summary="Functions can now isolate each tenant.",
            url="https://aws.example.test/new/2031/11/lambda-tenant-isolation/",
            announced_at=datetime(2031, 11, 26, 17, 0, tzinfo=UTC),
            services=(LAMBDA,),
        ),
        AnnouncementRecord(
            id=1,
            key="s3-vector-tables",
            title="Amazon S3 <script>alert('t')</script> Vector Tables & more",
            summary="Store vectors in S3 <script>steal()</script> & query them.\n\nSecond paragraph.",
            url="https://aws.example.test/new/2031/12/s3-vector-tables/",
            announced_at=datetime(2031, 12, 2, 16, 30, tzinfo=UTC),
            updated_at=datetime(2031, 12, 3, 9, 0, tzinfo=UTC),
            status="preview",
            event=EVENT,
            event_slug=EVENT_SLUG,
            services=(S3,),
            sessions=(
                session(10, "Keynote with the CEO", "keynote", url="https://www.youtube.com/watch?v=KEYNOTE0001"),
                session(11, "Deep dive into S3 vectors", code="STG330", score=0.8),
            ),
            sources=("https://aws.example.test/new/2031/12/s3-vector-tables/", "https://blog.example.test/recap-2031"),
        ),
        AnnouncementRecord(
            id=2,
            key="aurora-redshift-zero-etl",
            title="Amazon Aurora zero-ETL integration with Amazon Redshift",
            summary="Replicate Aurora data to Redshift without pipelines.",
            url=None,  # only known through a recap: the link must fall back to the sources
            # naive, as SQLite may hand it back: taken as UTC
            announced_at=datetime(2031, 12, 1, 10, 0),
            event=EVENT,
            event_slug=EVENT_SLUG,
            services=(REDSHIFT, AURORA),
            sessions=(
                session(
                    12, "Analytics innovation talk", "innovation", url="https://www.youtube.com/watch?v=ANALYTICS01"
                ),
            ),
            sources=("https://blog.example.test/recap-2031", "https://other.example.test/post"),
        ),
        AnnouncementRecord(
            id=4,
            key="lambda-undated",
            title="AWS Lambda supports a new runtime",
            summary="No date was found for this one.",
            url="https://aws.example.test/new/lambda-runtime/",
            services=(LAMBDA,),
        ),
        AnnouncementRecord(
            id=5,
            key="s3-bucket-quotas",
            title="Amazon S3 raises bucket quotas",
            summary="",
            url="https://aws.example.test/new/2031/10/s3-quotas/",
            announced_at=datetime(2031, 10, 15, 12, 0, tzinfo=UTC),
            updated_at=datetime(2031, 10, 16, 12, 0, tzinfo=UTC),
            services=(S3,),
        ),
    ]


@pytest.fixture
def records() -> list[AnnouncementRecord]:
    """Fresh records for one test."""
    return make_records()


@pytest.fixture
def ctx() -> FeedContext:
    """The publishing context of the tests."""
    return FeedContext(base_url=BASE_URL, author="Tracker Bot")
