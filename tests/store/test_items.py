"""The API's items built straight from a by-service page's rows are the records' as_dict(), on both databases.

`announcement_items` builds one service's newest page without the records (issue 17): these
tests hold it to `AnnouncementRecord.as_dict()` of the records the generic path reads, with
what makes an item differ from another (several services in another case, regions, session
links, public and local sources, undated launches, an event, datetimes with microseconds),
through a Core connection (the driver-level statements of tracker.store.prepared) and an
ORM session (SQLAlchemy's execution).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import ConferenceSession, Link, Service
from tracker.store.announcements import add_mention, get_or_create_event, sync_services, upsert_announcement
from tracker.store.db import reading, unit_of_work
from tracker.store.documents import upsert_document
from tracker.store.queries import _iso_utc, announcement_items, query_announcements, utc
from tracker.store.sessions import link_session, upsert_session

from .conftest import AURORA, LAMBDA, NOW, REDSHIFT, S3, announcement

LOWER = Service(
    "amazon-ec2", "amazon EC2", ("EC2",), "Compute"
)  # sorts between Aurora and Redshift only when case is ignored
GOVCLOUD = Service("aws-govcloud-us", "AWS GovCloud (US)", ("GovCloud",), None, region=True)
CHINA = Service("aws-china", "AWS China Regions", (), None, region=True)
SCORES = (1.0, 0.6, 0.0, 1e-05)  # 1e-05: a float orjson and json.dumps write differently


def _populate(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as s:
        sync_services(s, (LAMBDA, S3, AURORA, REDSHIFT, LOWER))
        event_id = get_or_create_event(s, "reinvent-2030", "AWS re:Invent 2030", 2030)
        docs = []
        for n, url in enumerate(
            ("https://aws.amazon.com/new/a/", "/home/someone/saved/recap.md", "https://blog.example.org/p?utm_source=x")
        ):
            docs.append(
                upsert_document(
                    s,
                    url=url,
                    title=f"document {n}",
                    author=None,
                    published_at=NOW,
                    content_hash=f"h{n}",
                    extractor_version="1",
                    archive_sha=None,
                    source_name=None,
                    kind="recap",
                    fetched_at=NOW,
                ).id
            )
        sessions = [
            upsert_session(
                s,
                ConferenceSession(
                    key=f"S{n}",
                    title=f"Session {n} \u2014 \u201cquoted\u201d",
                    kind="breakout",
                    url=f"https://www.youtube.com/watch?v=Abc{n:08d}" if n % 2 else None,
                    code=f"SVS{300 + n}",
                ),
                event_id=event_id,
                event_slug="reinvent-2030",
            )
            for n in range(3)
        ]
        extra = (LAMBDA, AURORA, REDSHIFT, LOWER)
        for i in range(40):
            at = None if i % 9 == 4 else NOW - timedelta(days=i // 2, hours=i % 3, microseconds=(i % 4) * 1001)
            services = (S3, *extra[: i % 5])
            na = announcement(
                f"key-{i}",
                f'S3 launch {i}: \u00e9t\u00e9 \U0001f680 "quoted" \\ back',
                summary=f"Summary {i}" if i % 6 else "",
                url=f"https://aws.amazon.com/new/{i}/" if i % 7 else None,
                at=at,
                services=services,
            )
            if i % 5 == 1:
                na = replace(na, regions=(GOVCLOUD, CHINA))
            ann_id = upsert_announcement(s, na, now=NOW, event_id=event_id if i % 3 == 0 else None).id
            for d in range(i % 4):
                add_mention(s, ann_id, docs[d], excerpt="x", position=d, rule="test")
            if i % 4 == 2:
                add_mention(s, ann_id, docs[0], excerpt="again", position=9, rule="test")  # the same document twice
            for n, session_id in enumerate(sessions[: i % 3]):
                link_session(s, ann_id, session_id, Link("title", SCORES[(i + n) % len(SCORES)], f"reason {n}"))


def _both(factory: sessionmaker[Session]) -> Iterator[tuple[str, Any]]:
    """A Core connection (driver-level statements) and an ORM session (SQLAlchemy's execution)."""
    engine = factory.kw["bind"]
    assert isinstance(engine, Engine)
    with reading(engine) as connection:
        yield "connection", connection
    with unit_of_work(factory) as session:
        yield "session", session


def _expected(everything: list[Any], limit: int, **bounds: Any) -> list[dict[str, Any]]:
    since, until, after = bounds.get("since"), bounds.get("until"), bounds.get("after")
    out = []
    for record in everything:
        if S3.slug not in {x.slug for x in record.services}:
            continue
        at = record.announced_at
        if since is not None and (at is None or at < since):
            continue
        if until is not None and (at is None or at >= until):
            continue
        if after is not None:
            after_at, after_id = after
            if after_at is not None and at is not None and (at, record.id) >= (after_at, after_id):
                continue
            if after_at is None and (at is not None or record.id >= after_id):
                continue
        out.append(record.as_dict())
    return out[:limit]


def test_a_by_service_page_as_items_is_as_dict_of_its_records(factory: sessionmaker[Session]) -> None:
    _populate(factory)
    with unit_of_work(factory) as s:
        everything = query_announcements(s)  # no filter: the generic path, newest first
    shapes: list[dict[str, Any]] = [
        {},
        {"since": NOW - timedelta(days=6)},
        {"until": NOW - timedelta(days=3, minutes=1)},
        {"since": NOW - timedelta(days=15), "until": NOW - timedelta(days=2)},
    ]
    seen_sessions = seen_regions = seen_many = 0
    for name, reader in _both(factory):
        for shape in shapes:
            for limit in (1, 7, 100):
                expected = _expected(everything, limit, **shape)
                items = announcement_items(reader, service="Amazon S3", limit=limit, **shape)
                assert items == expected, (name, shape, limit)
                records = query_announcements(reader, service="s3", limit=limit, **shape)
                assert [r.as_dict() for r in records] == expected, (name, shape, limit)
                # Page on with the last item's cursor, as the API does, through the undated ones.
                after = (utc(records[-1].announced_at) if records else None, records[-1].id) if records else None
                while after is not None and limit == 7:
                    expected = _expected(everything, limit, after=after, **shape)
                    items = announcement_items(reader, service=S3.name, limit=limit, after=after, **shape)
                    assert items == expected, (name, shape, after)
                    last = items[-1] if items else None
                    after = (
                        (datetime.fromisoformat(last["announced_at"]) if last["announced_at"] else None, last["id"])
                        if last and len(items) == limit
                        else None
                    )
                seen_sessions += sum(1 for i in items if i["sessions"])
                seen_regions += sum(1 for i in items if i["regions"])
                seen_many += sum(1 for i in items if len(i["services"]) > 2)
    assert seen_sessions and seen_regions and seen_many  # the pages held what can differ


def test_other_filters_give_the_same_items_as_the_records(factory: sessionmaker[Session]) -> None:
    _populate(factory)
    for name, reader in _both(factory):
        for filters in (
            {},
            {"event": "reinvent-2030", "limit": 5},
            {"service": "Lambda", "order": "asc", "limit": 9},
            {"service": "s3", "region": "GovCloud"},
            {"search": "launch", "service": "s3", "limit": 4},
            {"session_code": "SVS301"},
        ):
            items = announcement_items(reader, **filters)
            assert items == [r.as_dict() for r in query_announcements(reader, **filters)], (name, filters)
            assert items


@pytest.mark.parametrize(
    "stored",
    [
        "2030-12-05 12:00:00.000000",
        "2030-12-05 12:00:00.000100",
        "0999-01-02 03:04:05.678901",
        "2030-12-05 12:00:00",  # not SQLAlchemy's storage format: read as a datetime
        "2030-12-05T12:00:00+02:00",
    ],
)
def test_stored_text_becomes_the_iso_form_of_its_utc_datetime(stored: str) -> None:
    expected = utc(datetime.fromisoformat(stored))
    assert expected is not None
    assert _iso_utc(stored) == expected.isoformat()
    assert _iso_utc(expected) == expected.isoformat() and _iso_utc(None) is None
