"""Sources: their rows, the validators of conditional GETs, fetch outcomes, and each origin's robots.txt.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from tracker.items import CachedRobots, CacheValidators, SourceStatus
from tracker.redact import mask_text, strip_controls
from tracker.store._common import _set, table_of
from tracker.store.ids import IdCache, source_id
from tracker.store.models import RobotsRow, SourceRow
from tracker.store.queries import _utc

SOURCES = table_of(SourceRow)
_BY_NAME = select(SOURCES.c.id, SOURCES.c.kind, SOURCES.c.url, SOURCES.c.etag, SOURCES.c.last_modified).where(
    SOURCES.c.name == bindparam("name")
)
_INSERT = insert(SOURCES).returning(SOURCES.c.id)
_VALIDATORS = select(SOURCES.c.etag, SOURCES.c.last_modified).where(SOURCES.c.name == bindparam("name"))
_BY_NAMES = select(
    SOURCES.c.id, SOURCES.c.name, SOURCES.c.kind, SOURCES.c.url, SOURCES.c.etag, SOURCES.c.last_modified
).where(SOURCES.c.name.in_(bindparam("names", expanding=True)))
_INSERT_NAMED = insert(SOURCES).returning(SOURCES.c.name, SOURCES.c.id)
_UPDATE_KIND_URL = (
    update(SOURCES)
    .where(SOURCES.c.id == bindparam("source_id"))
    .values(kind=bindparam("new_kind"), url=bindparam("new_url"))
)
_NAMES_PER_STATEMENT = 500  # bound parameters of one IN list, well under every database's limit


def get_or_create_source(session: Session, name: str, *, kind: str, url: str, ids: IdCache | None = None) -> int:
    """The id of the named source, created or updated to the given kind and URL."""
    return _register(session, name, kind=kind, url=url, ids=ids)[0]


def register_source(session: Session, name: str, *, kind: str, url: str, ids: IdCache | None = None) -> CacheValidators:
    """Get-or-create the named source (its kind and URL as given) and read its saved validators, in one look-up."""
    return _register(session, name, kind=kind, url=url, ids=ids)[1]


def _register(session: Session, name: str, *, kind: str, url: str, ids: IdCache | None) -> tuple[int, CacheValidators]:
    conn = session.connection()
    row = conn.execute(_BY_NAME, {"name": name}).first()
    if row is None:
        found = int(
            conn.execute(_INSERT, {"name": name, "kind": kind, "url": url, "consecutive_failures": 0}).scalar_one()
        )
        validators = CacheValidators()
    else:
        found = int(row.id)
        validators = CacheValidators(row.etag, row.last_modified)
        if (row.kind, row.url) != (kind, url):
            conn.execute(update(SOURCES).where(SOURCES.c.id == row.id).values(kind=kind, url=url))
    if ids is not None:
        ids.put(session, "source", name, found)
    return found, validators


def register_sources(
    session: Session, sources: Iterable[tuple[str, str, str]], *, ids: IdCache | None = None
) -> dict[str, CacheValidators]:
    """Get-or-create many sources, each (name, kind, url), and read their saved validators, by name.

    What `register_source` does for each, in three statements at most whatever their number
    (a look-up, an INSERT of the new ones, an UPDATE of those whose kind or URL changed): a
    backfill of a thousand files is a thousand sources. A name given twice keeps its last kind and URL.
    """
    wanted = {name: (kind, url) for name, kind, url in sources}
    if not wanted:
        return {}
    conn = session.connection()
    names = list(wanted)
    found: dict[str, Any] = {}
    for start in range(0, len(names), _NAMES_PER_STATEMENT):
        chunk = names[start : start + _NAMES_PER_STATEMENT]
        for row in conn.execute(_BY_NAMES, {"names": chunk}):
            found[row.name] = row
    out: dict[str, CacheValidators] = {}
    ids_by_name: dict[str, int] = {}
    new = [n for n in names if n not in found]
    if new:
        made = conn.execute(
            _INSERT_NAMED,
            [{"name": n, "kind": wanted[n][0], "url": wanted[n][1], "consecutive_failures": 0} for n in new],
        ).all()
        ids_by_name.update((name, int(sid)) for name, sid in made)
        out.update((n, CacheValidators()) for n in new)
    changed = [
        {"source_id": row.id, "new_kind": wanted[name][0], "new_url": wanted[name][1]}
        for name, row in found.items()
        if (row.kind, row.url) != wanted[name]
    ]
    if changed:
        conn.execute(_UPDATE_KIND_URL, changed)
    for name, row in found.items():
        ids_by_name[name] = int(row.id)
        out[name] = CacheValidators(row.etag, row.last_modified)
    if ids is not None:
        for name, sid in ids_by_name.items():
            ids.put(session, "source", name, sid)
    return out


def source_cache(session: Session, name: str) -> CacheValidators:
    """The ETag and Last-Modified saved for a source's conditional GET."""
    row = session.connection().execute(_VALIDATORS, {"name": name}).first()
    return CacheValidators(row[0], row[1]) if row else CacheValidators()


# A fetch's outcome, one per imported file in a backfill: built once, only its values bound.
_SUCCESS_COLUMNS = (
    "etag",
    "last_modified",
    "last_status",
    "last_error",
    "last_error_kind",
    "last_success_at",
    "last_attempt_at",
    "consecutive_failures",
)
_RECORD_SUCCESS = (
    update(SOURCES)
    .where(SOURCES.c.name == bindparam("source_name"))
    .values({c: bindparam(c, type_=SOURCES.c[c].type) for c in _SUCCESS_COLUMNS})
)


def _update_by_name(session: Session, name: str, values: dict[str, object], *, prebuilt: bool = False) -> None:
    """Update the named source; a name never registered gets its placeholder row first.
    `prebuilt`: the values are plain values of `_SUCCESS_COLUMNS`, bound to `_RECORD_SUCCESS`."""
    conn = session.connection()
    statement: Any
    params: dict[str, object] | None
    if prebuilt:
        statement, params = _RECORD_SUCCESS, {"source_name": name, **values}
    else:
        statement, params = update(SOURCES).where(SOURCES.c.name == name).values(values), None
    if conn.execute(statement, params).rowcount == 0:
        source_id(session, name)
        conn.execute(statement, params)


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
    values: dict[str, object] = {
        "etag": etag,
        "last_modified": last_modified,
        "last_status": status,
        "last_error": None,
        "last_error_kind": None,
        "last_success_at": _utc(at),
        "last_attempt_at": _utc(at),
        "consecutive_failures": 0,
    }
    if status == SourceStatus.NOT_MODIFIED:
        # A 304 need not repeat the validators: keep the ones that produced it.
        values["etag"] = etag or SOURCES.c.etag
        values["last_modified"] = last_modified or SOURCES.c.last_modified
        _update_by_name(session, name, values)
    else:
        _update_by_name(session, name, values, prebuilt=True)


def record_fetch_failure(session: Session, name: str, *, at: datetime, kind: str, message: str) -> None:
    """Record a failed fetch and count it."""
    _update_by_name(
        session,
        name,
        {
            "last_status": SourceStatus.FAILED,
            # Shown by `tracker status` and the logs: no credentials, no terminal controls.
            "last_error": mask_text(strip_controls(message)),
            "last_error_kind": kind,
            "last_attempt_at": _utc(at),
            "consecutive_failures": func.coalesce(SOURCES.c.consecutive_failures, 0) + 1,
        },
    )


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
