"""Fixtures for the store tests: a migrated store on each database and input builders."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import Announcement, ConferenceSession, NormalizedAnnouncement, Service
from tracker.store.db import close_stores, open_store

NOW = datetime(2030, 12, 5, 12, 0, tzinfo=UTC)

LAMBDA = Service("lambda", "AWS Lambda", ("Lambda", "AWS Lambda", "aws-lambda"), "Compute")
S3 = Service("s3", "Amazon S3", ("S3", "Amazon Simple Storage Service", "amazon-s3"), "Storage")
AURORA = Service("aurora", "Amazon Aurora", ("Aurora", "amazon-aurora"), "Database")
REDSHIFT = Service("redshift", "Amazon Redshift", ("Redshift",), "Analytics")
TAXONOMY = (LAMBDA, S3, AURORA, REDSHIFT)


@pytest.fixture(autouse=True)
def _forget_stores() -> Iterator[None]:
    """Each test starts without cached factories and leaves none behind."""
    close_stores()
    yield
    close_stores()


@pytest.fixture
def factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on a freshly migrated database (SQLite, then PostgreSQL)."""
    made = open_store(database_url)
    assert isinstance(made.kw["bind"], Engine)
    try:
        yield made
    finally:
        close_stores()


def announcement(
    key: str,
    title: str,
    *,
    summary: str = "",
    url: str | None = None,
    at: datetime | None = None,
    services: tuple[Service, ...] = (),
    status: str | None = None,
) -> NormalizedAnnouncement:
    """A normalised announcement as the normaliser would hand it over."""
    ann = Announcement(title=title, summary=summary, url=url, published_at=at, status=status, rule="test")
    return NormalizedAnnouncement(key=key, announcement=ann, services=services, url=url, announced_at=at)


def conf_session(
    title: str,
    *,
    code: str | None = None,
    url: str | None = None,
    kind: str = "breakout",
    speakers: tuple[str, ...] = (),
) -> ConferenceSession:
    """A conference session as an extractor would hand it over."""
    return ConferenceSession(key=code or url or title, title=title, kind=kind, url=url, code=code, speakers=speakers)
