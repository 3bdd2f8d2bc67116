"""Regions: stored apart from services, filterable by any spelling, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from tracker.cli import main
from tracker.items import Announcement, Document
from tracker.normalize import Taxonomy, normalize
from tracker.store.announcements import sync_services, upsert_announcement
from tracker.store.db import close_stores, open_store, unit_of_work
from tracker.store.names import UnknownNameError
from tracker.store.queries import query_announcements

NOW = datetime(2031, 3, 2, tzinfo=UTC)


def _store(database_url: str) -> None:
    taxonomy = Taxonomy.load()
    doc = Document(
        url="https://aws.amazon.com/about-aws/whats-new/recent/feed/",
        kind="whats-new",
        title="What's New",
        announcements=(
            Announcement(
                title="Amazon Kelp DB is now available in AWS GovCloud (US-West)",
                url="https://aws.amazon.com/about-aws/whats-new/2031/03/kelp-govcloud/",
                published_at="2031-03-01T10:00:00Z",
                service_tags=("general:products/aws-govcloud-us",),
            ),
            Announcement(
                title="Amazon EC2 Q9 instances now available in the AWS China (Ningxia) Region",
                url="https://aws.amazon.com/about-aws/whats-new/2031/03/ec2-q9-ningxia/",
                published_at="2031-03-01T11:00:00Z",
                service_tags=("general:products/amazon-ec2",),
            ),
            Announcement(
                title="Amazon S3 adds a storage class",
                url="https://aws.amazon.com/about-aws/whats-new/2031/03/s3-class/",
                published_at="2031-03-01T12:00:00Z",
                service_tags=("general:products/amazon-s3",),
            ),
        ),
    )
    factory = open_store(database_url)
    with unit_of_work(factory) as session:
        sync_services(session, taxonomy.services)
        for na in normalize(doc, taxonomy, now=NOW):
            upsert_announcement(session, na, now=NOW, event_id=None)


def test_regions_are_stored_apart_and_filter_by_any_spelling(database_url: str) -> None:
    _store(database_url)
    factory = open_store(database_url)
    with unit_of_work(factory) as session:
        everything = query_announcements(session)
        assert not any(s.region for r in everything for s in r.services)
        assert all("GovCloud" not in s.name for r in everything for s in r.services)
        by_title = {r.title: r for r in everything}
        assert by_title["Amazon Kelp DB is now available in AWS GovCloud (US-West)"].regions == ("AWS GovCloud (US)",)
        assert by_title["Amazon S3 adds a storage class"].regions == ()
        for spelling in ("GovCloud", "aws govcloud (us)", "AWS GovCloud (US-West)"):
            found = query_announcements(session, region=spelling)
            assert [r.title for r in found] == ["Amazon Kelp DB is now available in AWS GovCloud (US-West)"], spelling
        ningxia = query_announcements(session, region="China (Ningxia)")
        assert [r.title for r in ningxia] == ["Amazon EC2 Q9 instances now available in the AWS China (Ningxia) Region"]
        # A known region nothing is stored for: an empty answer. An unknown one: an error.
        assert query_announcements(session, region="China (Beijing)") == []
        # The taxonomy's matching forgives a typo; a name it does not know is an error.
        assert [r.title for r in query_announcements(session, region="China (Ningxa)")] == [r.title for r in ningxia]
        with pytest.raises(UnknownNameError) as caught:
            query_announcements(session, region="Marsbase One")
        assert caught.value.kind == "region" and "Marsbase One" in caught.value.message
    close_stores()


def test_the_cli_filters_by_region(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    _store(database_url)
    close_stores()
    assert main(["--database", database_url, "-q", "announcements", "--region", "GovCloud", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["regions"] for r in rows] == [["AWS GovCloud (US)"]]
    assert main(["--database", database_url, "-q", "announcements", "--region", "Marsbase"]) == 2
    close_stores()
