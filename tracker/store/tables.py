"""The tables the read path uses, as lightweight Core `table()`s: no ORM, no declarative classes.

`tracker.store.models` is the schema (Alembic migrates to it, the writes use it); these name
the columns the reads need, typed as there where the type converts a value (datetimes, JSON).
tests/store/test_queries.py checks every column here against the models' metadata.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeAlias

from sqlalchemy import JSON, Float, Integer, String, column, table

from tracker.store.types import UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.orm import Session

# What the read functions take: a Core connection (the CLI's queries) or an ORM session (the rest).
Reader: TypeAlias = "Connection | Session"

# The columns the reads use, typed as in tracker.store.models (only the types whose values are
# converted matter: datetimes, JSON); tests/store/test_queries.py checks them against the models.
ANNOUNCEMENTS = table(
    "announcements",
    column("id", Integer),
    column("key", String),
    column("title", String),
    column("summary", String),
    column("url", String),
    column("announced_at", UTCDateTime),
    column("announced_at_source", String),
    column("status", String),
    column("event_id", Integer),
    column("created_at", UTCDateTime),
    column("updated_at", UTCDateTime),
)
SERVICES = table(
    "services", column("id", Integer), column("slug", String), column("name", String), column("category", String)
)
SERVICE_ALIASES = table(
    "service_aliases", column("id", Integer), column("service_id", Integer), column("alias", String)
)
EVENTS = table("events", column("id", Integer), column("slug", String), column("name", String))
ANNOUNCEMENT_SERVICES = table(
    "announcement_services",
    column("announcement_id", Integer),
    column("service_id", Integer),
    column("sort_at", UTCDateTime),
)
REGIONS = table("regions", column("id", Integer), column("slug", String), column("name", String))
ANNOUNCEMENT_REGIONS = table("announcement_regions", column("announcement_id", Integer), column("region_id", Integer))
MENTIONS = table("mentions", column("id", Integer), column("announcement_id", Integer), column("document_id", Integer))
DOCUMENTS = table("documents", column("id", Integer), column("url", String))
SESSIONS = table(
    "sessions",
    column("id", Integer),
    column("event_id", Integer),
    column("code", String),
    column("title", String),
    column("kind", String),
    column("speakers", JSON),
    column("level", String),
    column("video_url", String),
)
ANNOUNCEMENT_SESSIONS = table(
    "announcement_sessions",
    column("announcement_id", Integer),
    column("session_id", Integer),
    column("method", String),
    column("score", Float),
    column("reason", String),
)
SOURCES = table(
    "sources",
    column("id", Integer),
    column("name", String),
    column("kind", String),
    column("url", String),
    column("etag", String),
    column("last_modified", String),
    column("last_status", String),
    column("last_error", String),
    column("last_error_kind", String),
    column("last_success_at", UTCDateTime),
    column("last_attempt_at", UTCDateTime),
    column("consecutive_failures", Integer),
)
RUNS = table(
    "runs",
    column("id", Integer),
    column("started_at", UTCDateTime),
    column("finished_at", UTCDateTime),
    column("status", String),
    column("counts", JSON),
    column("outcomes", JSON),
    column("error", String),
    column("slot", UTCDateTime),
)
TABLES = (
    ANNOUNCEMENTS,
    SERVICES,
    SERVICE_ALIASES,
    EVENTS,
    ANNOUNCEMENT_SERVICES,
    REGIONS,
    ANNOUNCEMENT_REGIONS,
    MENTIONS,
    DOCUMENTS,
    SESSIONS,
    ANNOUNCEMENT_SESSIONS,
    SOURCES,
    RUNS,
)


def dialect_name(reader: Reader) -> str:
    """The database dialect ("sqlite", "postgresql") of a Core connection or an ORM session."""
    bind = reader.get_bind() if hasattr(reader, "get_bind") else reader
    return str(bind.dialect.name)
