"""Dedupe candidates read in bulk: the same announcements, in the same order, as one request at a time."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from tests.store.conftest import AURORA, NOW, S3, TAXONOMY, announcement
from tracker.store.announcements import (
    AnnouncementWriter,
    CandidateRequest,
    dedupe_candidates,
    sync_services,
    upsert_announcement,
)
from tracker.store.db import unit_of_work

DAYS = 45
EDGE = timedelta(days=DAYS)
TICK = timedelta(microseconds=1)


def _store(factory: sessionmaker[Session]) -> None:
    dated = {
        "first-day": NOW - EDGE,
        "day-before": NOW - EDGE - TICK,
        "middle": NOW - timedelta(days=3),
        "last-day": NOW + EDGE,
        "day-after": NOW + EDGE + TICK,
    }
    with unit_of_work(factory) as s:
        sync_services(s, TAXONOMY)
        for key, at in dated.items():
            upsert_announcement(s, announcement(key, f"S3 {key}", at=at, services=(S3,)), now=NOW, event_id=None)
        upsert_announcement(s, announcement("undated", "S3 undated", services=(S3,)), now=NOW, event_id=None)
        upsert_announcement(s, announcement("aurora", "Aurora", at=NOW, services=(AURORA,)), now=NOW, event_id=None)


def _undated_first(factory: sessionmaker[Session]) -> bool:
    bind = factory.kw["bind"]
    assert isinstance(bind, Engine)
    # ORDER BY announced_at DESC puts NULL first on PostgreSQL and last on SQLite.
    return bind.dialect.name == "postgresql"


def test_the_window_holds_both_its_ends_and_undated_launches(factory: sessionmaker[Session]) -> None:
    _store(factory)
    dated = ["last-day", "middle", "first-day"]
    expected = ["undated", *dated] if _undated_first(factory) else [*dated, "undated"]
    with unit_of_work(factory) as s:
        found = dedupe_candidates(s, ["s3"], around=NOW, days=DAYS)
        assert [k.key for k in found] == expected
        assert {k.key: k.service_slugs for k in found}["middle"] == frozenset({"s3"})
        # No date: every launch of the service.
        assert len(dedupe_candidates(s, ["s3"], around=None, days=DAYS)) == 6
        assert dedupe_candidates(s, ["s3"], around=NOW, days=DAYS, limit=2) == found[:2]


def test_many_requests_read_in_one_statement_as_one_by_one(factory: sessionmaker[Session]) -> None:
    _store(factory)
    requests = [
        CandidateRequest(frozenset({"s3"}), NOW, DAYS),
        CandidateRequest(frozenset({"s3", "aurora"}), NOW + timedelta(days=40), DAYS),
        CandidateRequest(frozenset({"aurora"}), None, DAYS, limit=1),
        CandidateRequest(frozenset({"s3"}), NOW - timedelta(days=400), DAYS),
    ]
    with unit_of_work(factory) as s:
        one_by_one = [
            dedupe_candidates(s, r.service_slugs, around=r.around, days=r.days, limit=r.limit) for r in requests
        ]
        bind = factory.kw["bind"]
        sent: list[str] = []
        listener = lambda *a: sent.append(a[2])  # noqa: E731
        event.listen(bind, "before_cursor_execute", listener)
        try:
            writer = AnnouncementWriter(s, now=NOW)
            writer.load_candidates(requests)
            together = [writer.candidates(r) for r in requests]
        finally:
            event.remove(bind, "before_cursor_execute", listener)
    assert together == one_by_one
    assert one_by_one[3] == [k for k in one_by_one[0] if k.announced_at is None]
    assert len(sent) == 1


def test_a_writer_counts_what_it_upserted_among_the_candidates(factory: sessionmaker[Session]) -> None:
    _store(factory)
    request = CandidateRequest(frozenset({"s3"}), NOW, DAYS)
    with unit_of_work(factory) as s:
        writer = AnnouncementWriter(s, now=NOW)
        writer.load_candidates([request])
        # Made after the look-up, dated like "middle": newer id, so before it.
        writer.upsert(
            announcement("same-day", "S3 same day", at=NOW - timedelta(days=3), services=(S3,)), event_id=None
        )
        # Moved out of the window by an earlier date from this document.
        writer.upsert(announcement("first-day", "S3 first-day", at=NOW - EDGE - TICK, services=(S3,)), event_id=None)
        keys = [k.key for k in writer.candidates(request)]
        writer.flush()
        assert keys == [k.key for k in dedupe_candidates(s, ["s3"], around=NOW, days=DAYS)]
    dated = ["last-day", "same-day", "middle"]
    assert keys == (["undated", *dated] if _undated_first(factory) else [*dated, "undated"])
