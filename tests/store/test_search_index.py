"""The full-text index of migration 0010 read in date order: the same pages as the plain query,
in the exact (announced_at, id) order, on SQLite (keys by minute) and PostgreSQL (months)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import Service
from tracker.store.announcements import get_or_create_event, sync_services, upsert_announcement
from tracker.store.db import unit_of_work
from tracker.store.models import AnnouncementRow, AnnouncementServiceRow, ServiceRow
from tracker.store.queries import announcements_per_month, query_announcements

from .conftest import LAMBDA, NOW, S3, TAXONOMY, announcement

GOVCLOUD = Service("aws-govcloud-us", "AWS GovCloud (US)", ("GovCloud",), "Regions", region=True)


def keys(session: Session, **filters: object) -> list[str]:
    return [r.key for r in query_announcements(session, **filters)]  # type: ignore[arg-type]


def pages(session: Session, size: int, **filters: object) -> list[str]:
    """Every record, a page of `size` at a time through the keyset cursor."""
    seen: list[str] = []
    cursor = None
    for _ in range(1000):
        page = query_announcements(session, limit=size, after=cursor, **filters)  # type: ignore[arg-type]
        if not page:
            return seen
        seen += [r.key for r in page]
        cursor = (page[-1].announced_at, page[-1].id)
    raise AssertionError("the pages never ended")


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_one_minute_of_many_launches_comes_out_in_exact_order(factory: sessionmaker[Session], order: str) -> None:
    # 130 launches within one minute, stored so that the id order is the reverse of the second
    # order: the index reads them by minute then id, the answer must be by second then id; more
    # of them than the first read of a page fetches (the page and ten more).
    minute = NOW.replace(second=0, microsecond=0)
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        for n in range(130):
            at = minute + timedelta(seconds=59 - n % 60, microseconds=n)
            upsert_announcement(
                s, announcement(f"m{n:03d}", f"Launch {n} of the minute", at=at, services=(S3,)), now=NOW, event_id=None
            )
        for n, days in enumerate((1, 2, -1)):  # around that minute, and one undated
            at = minute + timedelta(days=days)
            upsert_announcement(s, announcement(f"o{n}", "Launch around", at=at), now=NOW, event_id=None)
        upsert_announcement(s, announcement("undated", "Launch undated", at=None), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        plain = keys(s, order=order)
        assert len(plain) == 134 and plain[-1] == "undated"
        assert keys(s, search="launch", order=order) == plain
        assert keys(s, search="launch", order=order, limit=7) == plain[:7]
        for size in (5, 60):
            assert pages(s, size, search="launch", order=order) == plain
        in_s3 = keys(s, service="s3", order=order)
        assert keys(s, search="launch", service="s3", order=order, limit=40) == in_s3[:40]


def test_months_apart_and_undated_the_pages_match_the_plain_query(factory: sessionmaker[Session]) -> None:
    # One launch a month for four years: fewer a month than a page, so PostgreSQL asks its
    # months and then all time; SQLite reads the keys across the whole range.
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        for n in range(48):
            at = NOW - timedelta(days=30 * n + n % 3)
            upsert_announcement(
                s,
                announcement(f"z{n:02d}", f"Zebra tables, part {n}", at=at, services=(LAMBDA,)),
                now=NOW,
                event_id=None,
            )
        upsert_announcement(s, announcement("zu", "Zebra undated", at=None), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        everything = keys(s)
        assert keys(s, search="zebr", limit=30) == everything[:30]
        assert pages(s, 7, search="zebra") == everything
        assert pages(s, 7, search="zebra", order="asc") == keys(s, order="asc")
        since, until = NOW - timedelta(days=400), NOW - timedelta(days=100)
        assert keys(s, search="zebra", since=since, until=until) == keys(s, since=since, until=until)
        lambda_only = keys(s, service="lambda")
        assert keys(s, search="tables", service="lambda", limit=20) == lambda_only[:20]
        assert "zu" not in lambda_only


def test_filters_are_terms_of_the_index_and_follow_the_links(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        event_id = get_or_create_event(s, "reinvent-2030", "AWS re:Invent 2030", 2030)
        ann = announcement("gov", "Durable queues", at=NOW, services=(S3,))
        upsert_announcement(s, ann, now=NOW, event_id=event_id)
        upsert_announcement(s, announcement("other", "Durable queues elsewhere", at=NOW), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        assert keys(s, search="durable", service="s3") == ["gov"]
        assert keys(s, search="durable", event="reinvent-2030") == ["gov"]
        assert keys(s, search="durable", service="lambda") == []
        # A service linked later is found at once; a link removed is forgotten.
        upsert_announcement(
            s, announcement("gov", "Durable queues", at=NOW, services=(LAMBDA,)), now=NOW, event_id=None
        )
        assert keys(s, search="durable", service="lambda") == ["gov"]
        lambda_id = s.scalar(select(ServiceRow.id).where(ServiceRow.slug == "lambda"))
        s.execute(delete(AnnouncementServiceRow).where(AnnouncementServiceRow.service_id == lambda_id))
        assert keys(s, search="durable", service="lambda") == []
        assert keys(s, search="durable", service="s3") == ["gov"]
        # Regions are terms too.
        regional = replace(announcement("gov", "Durable queues", at=NOW), regions=(GOVCLOUD,))
        upsert_announcement(s, regional, now=NOW, event_id=None)
        assert keys(s, search="durable", region="GovCloud") == ["gov"]
        # Per-month counts see the same matches as the pages.
        counts = announcements_per_month(s, search="durable", service="s3")
        assert counts.total == 1
        # A date moved moves the entry: the newest first again.
        row = s.scalar(select(AnnouncementRow).where(AnnouncementRow.key == "other"))
        assert row is not None
        row.announced_at = NOW + timedelta(days=40)
    with unit_of_work(factory) as s:
        assert keys(s, search="durable") == ["other", "gov"]
        assert keys(s, search="durable", until=NOW + timedelta(days=1)) == ["gov"]


def test_a_month_boundary_in_utc(factory: sessionmaker[Session]) -> None:
    # The last second of a month and the first of the next, seen from UTC.
    end = datetime(2030, 1, 31, 23, 59, 59, tzinfo=NOW.tzinfo)
    with unit_of_work(factory) as s:
        for n, at in enumerate((end, end + timedelta(seconds=1), end - timedelta(days=31))):
            upsert_announcement(s, announcement(f"b{n}", "Boundary launch", at=at), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        assert keys(s, search="boundary") == ["b1", "b0", "b2"]
        assert keys(s, search="boundary", limit=1, after=(end + timedelta(seconds=1), 0)) == ["b0"]
        assert keys(s, search="boundary", until=end + timedelta(seconds=1)) == ["b0", "b2"]
        assert keys(s, search="boundary", since=end + timedelta(seconds=1)) == ["b1"]


def test_many_undated_after_the_dated(factory: sessionmaker[Session]) -> None:
    # More undated matches than a page's first read (the page and ten more), the page's last
    # one among them: they follow the dated ones, by id.
    with unit_of_work(factory) as s:
        for n in range(10):
            upsert_announcement(
                s, announcement(f"d{n}", "Quokka dated", at=NOW - timedelta(days=n)), now=NOW, event_id=None
            )
        for n in range(140):
            upsert_announcement(s, announcement(f"u{n:03d}", "Quokka undated", at=None), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        for order in ("desc", "asc"):
            everything = keys(s, order=order)
            assert len(everything) == 150
            assert keys(s, search="quokka", order=order, limit=40) == everything[:40]
            assert pages(s, 33, search="quokka", order=order) == everything


def test_a_page_sees_announcements_newer_and_older_than_any_before(factory: sessionmaker[Session]) -> None:
    # PostgreSQL places its windows from the oldest and newest dates it last saw, checked in the
    # same round trip as the first window: a write past either end places them again.
    with unit_of_work(factory) as s:
        for n in range(20):
            at = NOW - timedelta(days=n)
            upsert_announcement(s, announcement(f"w{n:02d}", f"Walrus launch {n}", at=at), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        assert keys(s, search="walrus", limit=3) == ["w00", "w01", "w02"]
        assert keys(s, search="walrus", limit=2, order="asc") == ["w19", "w18"]
    with unit_of_work(factory) as s:
        upsert_announcement(
            s, announcement("newer", "Walrus later", at=NOW + timedelta(days=60)), now=NOW, event_id=None
        )
        upsert_announcement(
            s, announcement("older", "Walrus early", at=NOW - timedelta(days=3000)), now=NOW, event_id=None
        )
    with unit_of_work(factory) as s:
        assert keys(s, search="walrus", limit=3) == ["newer", "w00", "w01"]
        assert keys(s, search="walrus", limit=2, order="asc") == ["older", "w19"]
        assert keys(s, search="walru", limit=22)[-1] == "older"
