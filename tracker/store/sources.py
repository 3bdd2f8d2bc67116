"""Sources: their rows, the validators of conditional GETs, fetch outcomes, and each origin's robots.txt.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from tracker.items import CachedRobots, CacheValidators, SourceStatus
from tracker.redact import mask_text, strip_controls
from tracker.store._common import _set, _source, _source_or_placeholder
from tracker.store.models import RobotsRow, SourceRow
from tracker.store.queries import _utc


def get_or_create_source(session: Session, name: str, *, kind: str, url: str) -> int:
    """The id of the named source, created or updated to the given kind and URL."""
    row = _source(session, name)
    if row is None:
        row = SourceRow(name=name, kind=kind, url=url, consecutive_failures=0)
        session.add(row)
        session.flush()
        return row.id
    _set(row, "kind", kind)
    _set(row, "url", url)
    return row.id


def source_cache(session: Session, name: str) -> CacheValidators:
    """The ETag and Last-Modified saved for a source's conditional GET."""
    row = session.execute(select(SourceRow.etag, SourceRow.last_modified).where(SourceRow.name == name)).first()
    return CacheValidators(row[0], row[1]) if row else CacheValidators()


def record_fetch_success(
    session: Session,
    name: str,
    *,
    at: datetime,
    etag: str | None,
    last_modified: str | None,
    status: str = SourceStatus.OK,
) -> None:
    """Record a successful fetch (or a 304) and reset the failure count."""
    row = _source_or_placeholder(session, name)
    if status == SourceStatus.NOT_MODIFIED:
        # A 304 need not repeat the validators: keep the ones that produced it.
        etag = etag or row.etag
        last_modified = last_modified or row.last_modified
    _set(row, "etag", etag)
    _set(row, "last_modified", last_modified)
    _set(row, "last_status", status)
    _set(row, "last_error", None)
    _set(row, "last_error_kind", None)
    _set(row, "last_success_at", _utc(at))
    _set(row, "last_attempt_at", _utc(at))
    _set(row, "consecutive_failures", 0)


def record_fetch_failure(session: Session, name: str, *, at: datetime, kind: str, message: str) -> None:
    """Record a failed fetch and count it."""
    row = _source_or_placeholder(session, name)
    row.last_status = SourceStatus.FAILED
    # Shown by `tracker status` and the logs: no credentials, no terminal controls.
    row.last_error = mask_text(strip_controls(message))
    row.last_error_kind = kind
    row.last_attempt_at = _utc(at)
    row.consecutive_failures = (row.consecutive_failures or 0) + 1


def load_robots(session: Session, origin: str) -> CachedRobots | None:
    """The stored robots.txt of an origin with its validators, or None."""
    row = session.get(RobotsRow, origin)
    return None if row is None else CachedRobots(row.body, row.etag, row.last_modified)


def save_robots(
    session: Session, origin: str, body: bytes, *, etag: str | None, last_modified: str | None, at: datetime
) -> None:
    """Keep an origin's robots.txt with its validators (one row per origin)."""
    row = session.get(RobotsRow, origin)
    if row is None:
        session.add(RobotsRow(origin=origin, body=body, etag=etag, last_modified=last_modified, fetched_at=_utc(at)))
        return
    _set(row, "body", body)
    _set(row, "etag", etag)
    _set(row, "last_modified", last_modified)
    _set(row, "fetched_at", _utc(at))
