"""Launches per calendar month (`queries.announcements_per_month`, the browse page's chart) on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy.orm import Session, sessionmaker

from tracker.items import MonthCount, MonthlyCounts
from tracker.store.announcements import sync_services, upsert_announcement
from tracker.store.db import unit_of_work
from tracker.store.queries import announcements_per_month, query_announcements

from .conftest import LAMBDA, NOW, S3, TAXONOMY, announcement

EASTERN = timezone(timedelta(hours=-5))


def _store(factory: sessionmaker[Session]) -> None:
    launches = [
        announcement("a", "Lambda adds durable timers", at=datetime(2030, 1, 10, tzinfo=UTC), services=(LAMBDA,)),
        announcement("b", "S3 adds vector buckets", at=datetime(2030, 1, 20, tzinfo=UTC), services=(S3,)),
        # 23:30 on 31 January in New York is 04:30 on 1 February UTC: a February launch.
        announcement("c", "S3 adds tape mode", at=datetime(2030, 1, 31, 23, 30, tzinfo=EASTERN), services=(S3,)),
        announcement("d", "Lambda adds vector runtimes", at=datetime(2030, 4, 2, tzinfo=UTC), services=(LAMBDA,)),
        announcement("e", "S3 adds quantum storage", services=(S3,)),  # no date
    ]
    with unit_of_work(factory) as session:
        sync_services(session, TAXONOMY)
        for item in launches:
            upsert_announcement(session, item, now=NOW, event_id=None)


def test_months_are_utc_calendar_months_oldest_first_with_the_undated_apart(factory: sessionmaker[Session]) -> None:
    _store(factory)
    with unit_of_work(factory) as session:
        assert announcements_per_month(session) == MonthlyCounts(
            (MonthCount("2030-01", 2), MonthCount("2030-02", 1), MonthCount("2030-04", 1)), 1
        )
        assert announcements_per_month(session, service="S3") == MonthlyCounts(
            (MonthCount("2030-01", 1), MonthCount("2030-02", 1)), 1
        )


def test_months_take_the_filters_of_the_query(factory: sessionmaker[Session]) -> None:
    _store(factory)
    with unit_of_work(factory) as session:
        for filters in (
            {"search": "vector"},
            {"service": "Lambda", "search": "vector"},
            {"since": datetime(2030, 1, 15, tzinfo=UTC), "until": datetime(2030, 4, 1, tzinfo=UTC)},
            {"search": "the"},  # stop words only
        ):
            listed = query_announcements(session, **filters)  # type: ignore[arg-type]
            expected: dict[str, int] = {}
            for record in listed:
                if record.announced_at is not None:
                    month = record.announced_at.astimezone(UTC).strftime("%Y-%m")
                    expected[month] = expected.get(month, 0) + 1
            per_month = announcements_per_month(session, **filters)  # type: ignore[arg-type]
            assert {m.month: m.announcements for m in per_month.months} == expected, filters
            assert per_month.undated == sum(r.announced_at is None for r in listed), filters
