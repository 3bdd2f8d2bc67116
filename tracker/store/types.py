"""Column types shared by the ORM models and the Core read path (no `sqlalchemy.orm` here).

`tracker.store.queries` reads with these types without importing the models, whose
declarative classes cost a query's start more than the query itself.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect
from sqlalchemy.types import TypeDecorator

# The sort key of an undated announcement in `AnnouncementServiceRow.sort_at`: earlier than any
# launch, so undated announcements come last in the newest-first order, as they do elsewhere.
UNDATED = datetime(1900, 1, 1, tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime stored as UTC and always read back as aware UTC.

    PostgreSQL's ``timestamptz`` returns values in the session's time zone and SQLite
    has no time zone at all, so both are normalised here: one behaviour on both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite gets a naive UTC value so stored strings sort correctly."""
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        # A naive value is taken as UTC: the normaliser hands out aware UTC anyway.
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return aware.replace(tzinfo=None) if dialect.name == "sqlite" else aware

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Attach or convert to UTC."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
