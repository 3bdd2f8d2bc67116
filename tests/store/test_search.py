"""Full-text search and keyset paging on SQLite (FTS5) and PostgreSQL (tsvector): one behaviour."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from tracker.store.announcements import sync_services, upsert_announcement
from tracker.store.db import unit_of_work
from tracker.store.models import AnnouncementRow
from tracker.store.queries import query_announcements
from tracker.store.search import search_words

from .conftest import AURORA, LAMBDA, NOW, S3, TAXONOMY, announcement

LAUNCHES = [
    ("lambda-functions", "AWS Lambda functions scale faster", "Each function now scales 12 times faster.", LAMBDA, 0),
    ("s3-serverless", "Amazon S3 serverless inventory", "Inventory reports without servers.", S3, 1),
    ("aurora-limitless", "Amazon Aurora Limitless Database", "Scale writes beyond a single instance.", AURORA, 2),
    ("lambda-logging", "Advanced logging controls for Lambda", "JSON logs and log levels.", LAMBDA, 3),
    ("s3-express", "Amazon S3 Express One Zone", "A new storage class with single-digit latency.", S3, None),
]


@pytest.fixture
def store(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The launches above, stored (one undated)."""
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        for key, title, summary, service, days in LAUNCHES:
            at = None if days is None else NOW - timedelta(days=days)
            upsert_announcement(
                s, announcement(key, title, summary=summary, at=at, services=(service,)), now=NOW, event_id=None
            )
    return factory


def keys(session: Session, text: str, **filters: object) -> set[str]:
    return {r.key for r in query_announcements(session, search=text, **filters)}  # type: ignore[arg-type]


def test_words_are_stemmed_and_all_required(store: sessionmaker[Session]) -> None:
    with unit_of_work(store) as s:
        assert keys(s, "functions") == {"lambda-functions"}
        assert keys(s, "function") == {"lambda-functions"}  # "functions" in the title, stemmed
        assert keys(s, "scaling") == {"lambda-functions", "aurora-limitless"}  # title and summary
        assert keys(s, "scale lambda") == {"lambda-functions"}  # every word must match
        assert keys(s, "LAMBDA scale") == {"lambda-functions"}  # any case, any order
        assert keys(s, "lambda banana") == set()
        assert keys(s, "logs") == {"lambda-logging"}


def test_the_last_word_is_a_prefix(store: sessionmaker[Session]) -> None:
    with unit_of_work(store) as s:
        assert keys(s, "serverl") == {"s3-serverless"}
        assert keys(s, "limitl") == {"aurora-limitless"}
        assert keys(s, "express one") == {"s3-express"}  # undated rows are found too


def test_operators_and_quotes_are_plain_text(store: sessionmaker[Session]) -> None:
    with unit_of_work(store) as s:
        for hostile in (
            '"',
            "NEAR(a b)",
            "lambda OR s3",
            "-lambda",
            "title:lambda",
            "a & b | !c",
            "'; drop--",
            "lambda*",
            "(",
            "100%",
            "\\",
        ):
            query_announcements(s, search=hostile)  # must not raise
        assert keys(s, "lambda OR amazon") == set()  # OR is a word (dropped as a stop word), not an operator
        assert keys(s, "title:lambda") == keys(s, "title lambda")
        assert query_announcements(s, search="the of and") == []  # only stop words: nothing to look for
        assert query_announcements(s, search="?!") == []


def test_search_combines_with_filters(store: sessionmaker[Session]) -> None:
    with unit_of_work(store) as s:
        assert keys(s, "amazon", service="Amazon S3") == {"s3-serverless", "s3-express"}
        assert keys(s, "amazon", since=NOW - timedelta(days=1, hours=1)) == {"s3-serverless"}


def test_the_index_follows_edits_and_deletes(store: sessionmaker[Session]) -> None:
    with unit_of_work(store) as s:
        row = s.scalar(select(AnnouncementRow).where(AnnouncementRow.key == "aurora-limitless"))
        assert row is not None
        row.title = "Amazon Aurora sharding"
        row.summary = "Horizontal partitions."
    with unit_of_work(store) as s:
        assert keys(s, "sharding") == {"aurora-limitless"}
        assert keys(s, "limitless") == set()
        s.execute(delete(AnnouncementRow).where(AnnouncementRow.key == "lambda-logging"))
    with unit_of_work(store) as s:
        assert keys(s, "logging") == set()
        # a new row is indexed as soon as it is inserted
        upsert_announcement(s, announcement("new-one", "Quantum widgets", at=NOW), now=NOW, event_id=None)
        assert keys(s, "quantum") == {"new-one"}


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_keyset_pages_cover_everything_once(store: sessionmaker[Session], order: str) -> None:
    with unit_of_work(store) as s:
        # a tie on announced_at, to check the id breaks it
        upsert_announcement(s, announcement("tie", "Tie", at=NOW - timedelta(days=1)), now=NOW, event_id=None)
        upsert_announcement(s, announcement("undated-2", "Undated too", at=None), now=NOW, event_id=None)
        everything = [r.key for r in query_announcements(s, order=order)]
        seen: list[str] = []
        cursor = None
        for _ in range(10):
            page = query_announcements(s, order=order, limit=2, after=cursor)
            if not page:
                break
            seen += [r.key for r in page]
            cursor = (page[-1].announced_at, page[-1].id)
    assert seen == everything and len(everything) == 7


def test_search_words() -> None:
    assert search_words("The Functions of AWS-Lambda!") == ["functions", "aws", "lambda"]
    assert search_words("") == [] and search_words("and or the") == []
    assert len(search_words("w " * 100)) == 16


def test_cli_search_uses_the_full_text_index(
    store: sessionmaker[Session], database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from tracker.cli import main

    assert main(["--database", database_url, "announcements", "--search", "serverl", "--format", "json"]) == 0
    assert [r["title"] for r in json.loads(capsys.readouterr().out)] == ["Amazon S3 serverless inventory"]
    assert (
        main(
            [
                "--database",
                database_url,
                "announcements",
                "--search",
                "scaling",
                "--service",
                "lambda",
                "--format",
                "json",
            ]
        )
        == 0
    )
    assert [r["title"] for r in json.loads(capsys.readouterr().out)] == ["AWS Lambda functions scale faster"]
