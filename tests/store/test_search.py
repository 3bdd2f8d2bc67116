"""Full-text search and keyset paging on SQLite (FTS5) and PostgreSQL (tsvector): one behaviour."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import ConferenceSession, Link
from tracker.store import search
from tracker.store.announcements import sync_services, upsert_announcement
from tracker.store.db import unit_of_work
from tracker.store.models import AnnouncementRow
from tracker.store.queries import query_announcements
from tracker.store.search import MAX_EXPANSION, MIN_PREFIX, TOKENIZE, search_words
from tracker.store.sessions import link_session, upsert_session

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
        assert keys(s, "serv") == {"s3-serverless"}  # "serverless" and "servers" (the summary)
        assert keys(s, "lam") == {"lambda-functions", "lambda-logging"}


def test_a_last_word_shorter_than_three_characters_is_a_whole_word(store: sessionmaker[Session]) -> None:
    # A prefix of one or two letters would be nearly every announcement (and the slowest query).
    assert MIN_PREFIX == 3
    with unit_of_work(store) as s:
        assert keys(s, "la") == set()  # not "lambda", "latency"
        assert keys(s, "lambda la") == set()
        assert keys(s, "s3") == {"s3-serverless", "s3-express"}  # the word "S3", not "s3xyz"
        assert keys(s, "lam") == {"lambda-functions", "lambda-logging"}
        upsert_announcement(s, announcement("la", "LA Local Zone", at=NOW), now=NOW, event_id=None)
        assert keys(s, "la") == {"la"}
        assert keys(s, "zone la") == {"la"}


def test_a_prefix_finds_every_longer_term_in_date_order(factory: sessionmaker[Session]) -> None:
    # SQLite spells a prefix out as the index's own terms (at most MAX_EXPANSION of them) and
    # falls back to FTS5's prefix query beyond that, or for a term the tokenizer would change
    # ("agreed" is indexed as "agre", which the stemmer makes "agr"): the same answers each way.
    words = ["zorb", "zorbing", "zorbed", "zorbs", "zorbonaut", "zorbless", "agreed", "agrarian"]
    many = [f"zorbx{n}" for n in range(MAX_EXPANSION + 5)]
    with unit_of_work(factory) as s:
        for n, word in enumerate(words + many):
            # Some in the last days, some years back (PostgreSQL: past its windows of months, in
            # the query of all time by plain lexemes, where the prefix is spelled out), some undated.
            at = NOW - timedelta(hours=n, days=0 if n % 3 else 2000) if n % 7 else None
            upsert_announcement(s, announcement(f"w{n:03d}", f"Launch {word}", at=at), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        everything = [r.key for r in query_announcements(s, search="launch")]
        everything_asc = [r.key for r in query_announcements(s, search="launch", order="asc")]
        assert len(everything) == len(words) + len(many)
        for typed, expected in (
            ("zorb", words[:6] + many),  # more longer terms than are spelled out
            ("zorbo", ["zorbonaut"]),
            ("zorbl", ["zorbless"]),
            ("zorbx1", ["zorbx1", *(w for w in many if w.startswith("zorbx1"))]),
            ("zorbin", []),  # "zorbing" is indexed as its stem, "zorb"
            ("agr", ["agreed", "agrarian"]),
            ("agree", ["agreed"]),
        ):
            found = [r.key for r in query_announcements(s, search=f"launch {typed}")]
            wanted = {f"w{(words + many).index(w):03d}" for w in expected}
            assert found == [k for k in everything if k in wanted], typed
            oldest = [r.key for r in query_announcements(s, search=typed, order="asc", limit=5)]
            assert oldest == [k for k in everything_asc if k in wanted][:5], typed
        if s.get_bind().dialect.name == "postgresql":  # each way was taken
            assert search._pg_longer_terms(s, [("zorb", True)]) is None  # too many
            assert search._pg_longer_terms(s, [("zorbo", True)]) == ("zorbonaut",)
            assert search._pg_longer_terms(s, [("zorb", False)]) is None  # no prefix
        if s.get_bind().dialect.name == "sqlite":  # each way was taken
            assert search._longer_terms(s, "zorb") is None  # too many
            assert search._longer_terms(s, "agr") is None  # "agre" is not a term as typed
            assert search._longer_terms(s, "zorbo") == ("zorbonaut",)
            assert search._longer_terms(s, "zorbx1") == tuple(sorted(w for w in many if w.startswith("zorbx1")))[1:]


def test_a_new_term_is_found_by_a_prefix_asked_before(store: sessionmaker[Session]) -> None:
    # The longer terms of a prefix are kept per database while its index is unchanged: a write
    # that adds a term (or removes the last announcement with it) is seen at once.
    with unit_of_work(store) as s:
        assert keys(s, "scal") == {"lambda-functions", "aurora-limitless"}
        assert keys(s, "scalab") == set()
    with unit_of_work(store) as s:
        upsert_announcement(s, announcement("scalable", "Scalability insights", at=NOW), now=NOW, event_id=None)
    with unit_of_work(store) as s:
        assert keys(s, "scal") == {"lambda-functions", "aurora-limitless", "scalable"}
        assert keys(s, "scalab") == {"scalable"}
        s.execute(delete(AnnouncementRow).where(AnnouncementRow.key == "scalable"))
    with unit_of_work(store) as s:
        assert keys(s, "scalab") == set()
        assert keys(s, "scal") == {"lambda-functions", "aurora-limitless"}


def test_an_old_match_is_found_by_a_prefix_after_new_terms_and_edits(
    factory: sessionmaker[Session], database_url: str
) -> None:
    # Matches only years back: PostgreSQL finds them in all time by the plain lexemes, the
    # prefix spelled out from `search_terms`, which its triggers keep (inserted rows, a changed
    # title); SQLite by its vocabulary. Both must see a term as soon as it is stored.
    old = NOW - timedelta(days=3000)
    with unit_of_work(factory) as s:
        upsert_announcement(s, announcement("recent", "Recent launch", at=NOW), now=NOW, event_id=None)
        upsert_announcement(s, announcement("q1", "Quuxes arrive", at=old), now=NOW, event_id=None)
        upsert_announcement(s, announcement("q2", "Quuxometer", at=old - timedelta(days=1)), now=NOW, event_id=None)
    with unit_of_work(factory) as s:
        assert keys(s, "quux") == {"q1", "q2"}
        assert keys(s, "quuxo") == {"q2"}
        assert keys(s, "quuxt") == set()
        upsert_announcement(s, announcement("q3", "Quuxtastic", at=old - timedelta(days=2)), now=NOW, event_id=None)
        row = s.scalar(select(AnnouncementRow).where(AnnouncementRow.key == "q1"))
        assert row is not None
        row.summary = "Now quuxtronic as well."
    with unit_of_work(factory) as s:
        assert keys(s, "quuxt") == {"q1", "q3"}
        assert [r.key for r in query_announcements(s, search="quux")] == ["q1", "q2", "q3"]
        assert [r.key for r in query_announcements(s, search="quux", order="asc", limit=2)] == ["q3", "q2"]
        if database_url.startswith("postgresql"):
            stored = set(s.execute(text("SELECT term FROM search_terms WHERE term LIKE 'quux%'")).scalars())
            assert {"quuxtast", "quuxtron"} <= stored or {"quuxtastic", "quuxtronic"} <= stored, stored


def test_the_tokenizer_of_the_prefixes_is_the_index_s(factory: sessionmaker[Session], database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's FTS5 table")
    with unit_of_work(factory) as s:
        sql = s.execute(text("SELECT sql FROM sqlite_master WHERE name = 'announcements_search'")).scalar_one()
    assert f"tokenize='{TOKENIZE}'" in sql


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


def test_search_combines_with_a_session_code_and_a_cursor(store: sessionmaker[Session]) -> None:
    with unit_of_work(store) as s:
        session_id = upsert_session(
            s,
            ConferenceSession(key="SVS301", title="Serverless", kind="breakout", code="SVS301"),
            event_id=None,
            event_slug=None,
        )
        by_key = {r.key: r for r in query_announcements(s)}
        for key in ("lambda-functions", "aurora-limitless", "s3-express"):
            link_session(s, by_key[key].id, session_id, Link("title", 0.5, "why"))
    with unit_of_work(store) as s:
        assert keys(s, "scale", session_code=" svs301 ") == {"lambda-functions", "aurora-limitless"}
        assert keys(s, "amazon", session_code="SVS301") == {"aurora-limitless", "s3-express"}
        assert keys(s, "amazon", session_code="XYZ999") == set()
        assert keys(s, "amazon", session_code="  ") == set()  # a code nothing has, as without a search
        first = query_announcements(s, search="amazon", session_code="svs301", limit=1)
        assert [r.key for r in first] == ["aurora-limitless"]
        rest = query_announcements(
            s, search="amazon", session_code="svs301", after=(first[0].announced_at, first[0].id)
        )
        assert [r.key for r in rest] == ["s3-express"]  # undated, last


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
