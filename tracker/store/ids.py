"""The ids of names (services, events, regions, sources) by their natural keys, kept in process between transactions.

Storing a document names a few services, an event, maybe a region and its source; looking
each up with a query per document was a large share of a backfill's statements. `IdCache`
answers them from memory and asks the database only for a name it has not seen.

Only what a committed transaction wrote or read is kept across transactions: what a
transaction learns stays pending in its session (`session.info`) until that transaction
commits, and any rollback, a savepoint's included, drops the session's pending names. So an
id whose row was rolled back is never handed out (SQLite may give that id to another row).
Services, events, regions and sources are never deleted, so a committed id stays right.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from tracker.items import Service
from tracker.store._common import table_of
from tracker.store.changes import mark_changed
from tracker.store.models import EventRow, RegionRow, ServiceAliasRow, ServiceRow, SourceRow
from tracker.store.queries import unique

log = logging.getLogger(__name__)

_PENDING = "tracker.ids.pending"  # session.info key: {IdCache: {(kind, key): value}}

EVENTS = table_of(EventRow)
SERVICES = table_of(ServiceRow)
SERVICE_ALIASES = table_of(ServiceAliasRow)
REGIONS = table_of(RegionRow)
SOURCES = table_of(SourceRow)
_EVENT_BY_SLUG = select(EVENTS.c.id, EVENTS.c.name, EVENTS.c.year).where(EVENTS.c.slug == bindparam("slug"))
_SOURCE_BY_NAME = select(SOURCES.c.id).where(SOURCES.c.name == bindparam("name"))


@dataclass(frozen=True, slots=True)
class EventIds:
    """A stored event as the cache keeps it: its id and the name and year it was stored with."""

    id: int
    name: str
    year: int | None


def upsert_insert(dialect: str, table: Any) -> Any:
    """An INSERT of a dialect ("sqlite", "postgresql") that can take ON CONFLICT."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    return insert(table)  # pragma: no cover - only SQLite and PostgreSQL are supported


class IdCache:
    """Ids of services, events, regions and sources by slug or name, for one process (a run's `Context`)."""

    def __init__(self) -> None:
        self._committed: dict[tuple[str, str], Any] = {}

    def _pending(self, session: Session) -> dict[tuple[str, str], Any]:
        pending: dict[IdCache, dict[tuple[str, str], Any]] = session.info.setdefault(_PENDING, {})
        return pending.setdefault(self, {})

    def get(self, session: Session, kind: str, key: str) -> Any:
        """What the cache knows of a name in this session's transaction, or None."""
        pending = session.info.get(_PENDING, {}).get(self)
        if pending and (kind, key) in pending:
            return pending[(kind, key)]
        return self._committed.get((kind, key))

    def put(self, session: Session, kind: str, key: str, value: Any) -> None:
        """Remember a name's value; kept beyond this transaction only once it commits."""
        self._pending(session)[(kind, key)] = value

    def _commit(self, pending: dict[tuple[str, str], Any]) -> None:
        self._committed.update(pending)


@event.listens_for(Session, "after_commit")
def _promote_pending(session: Session) -> None:
    # Also called when a savepoint is released: only the outermost commit makes names durable.
    if session.in_nested_transaction():
        return
    for cache, pending in session.info.pop(_PENDING, {}).items():
        cache._commit(pending)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction: SessionTransaction) -> None:
    # Any rollback, a savepoint's too: what it learned may name rows that are gone. Forgetting
    # the whole transaction's names costs at most a few look-ups again.
    session.info.pop(_PENDING, None)


def _cache(ids: IdCache | None) -> IdCache:
    return ids if ids is not None else IdCache()


def service_ids(session: Session, services: Sequence[Service], ids: IdCache | None = None) -> dict[str, int]:
    """The ids of these services by slug; a slug not stored yet is created from its Service (with its aliases)."""
    ids = _cache(ids)
    out: dict[str, int] = {}
    missing: list[Service] = []
    for svc in services:
        known = ids.get(session, "service", svc.slug)
        if known is not None:
            out[svc.slug] = known
        elif svc.slug not in out and all(m.slug != svc.slug for m in missing):
            missing.append(svc)
    if not missing:
        return out
    found = dict(
        session.execute(
            select(SERVICES.c.slug, SERVICES.c.id).where(SERVICES.c.slug.in_([s.slug for s in missing]))
        ).all()
    )
    new = [s for s in missing if s.slug not in found]
    if new:
        # Services the taxonomy sync did not store (not in the run's taxonomy): made as
        # sync_services makes them, with their aliases.
        rows = session.execute(
            insert(SERVICES).returning(SERVICES.c.slug, SERVICES.c.id),
            [{"slug": s.slug, "name": s.name, "category": s.category} for s in new],
        ).all()
        made: dict[str, int] = dict(rows)
        aliases = [{"service_id": made[s.slug], "alias": a} for s in new for a in unique(a for a in s.aliases if a)]
        if aliases:
            session.execute(insert(SERVICE_ALIASES), aliases)
        found.update(made)
    for slug, sid in found.items():
        ids.put(session, "service", slug, sid)
        out[slug] = sid
    return out


def remember_services(session: Session, ids: IdCache) -> None:
    """Read every stored service's id into the cache (after the taxonomy sync: one query per run)."""
    for slug, sid in session.execute(select(SERVICES.c.slug, SERVICES.c.id)):
        ids.put(session, "service", slug, sid)


def region_ids(session: Session, regions: Iterable[Service], ids: IdCache | None = None) -> dict[str, int]:
    """The ids of these partitions and Regions by slug, created when new (get-or-create by slug)."""
    ids = _cache(ids)
    out: dict[str, int] = {}
    missing: dict[str, str] = {}
    for region in regions:
        known = ids.get(session, "region", region.slug)
        if known is not None:
            out[region.slug] = known
        else:
            missing.setdefault(region.slug, region.name)
    if not missing:
        return out
    session.execute(
        upsert_insert(session.get_bind().dialect.name, REGIONS).on_conflict_do_nothing(index_elements=["slug"]),
        [{"slug": slug, "name": name} for slug, name in missing.items()],
    )
    for slug, rid in session.execute(select(REGIONS.c.slug, REGIONS.c.id).where(REGIONS.c.slug.in_(list(missing)))):
        ids.put(session, "region", slug, rid)
        out[slug] = rid
    return out


def event_id(session: Session, slug: str, name: str, year: int | None = None, ids: IdCache | None = None) -> int:
    """The id of the event with this slug, created when new; a differing name or year given is stored."""
    ids = _cache(ids)
    known: EventIds | None = ids.get(session, "event", slug)
    if known is not None and (not name or name == known.name) and (year is None or year == known.year):
        return known.id
    row = session.connection().execute(_EVENT_BY_SLUG, {"slug": slug}).first()
    if row is None:
        new_id = session.execute(
            insert(EVENTS).values(slug=slug, name=name, year=year).returning(EVENTS.c.id)
        ).scalar_one()
        ids.put(session, "event", slug, EventIds(new_id, name, year))
        ids.put(session, "event-name", str(new_id), name)
        return int(new_id)
    stored = EventIds(row[0], row[1], row[2])
    wanted = EventIds(stored.id, name or stored.name, stored.year if year is None else year)
    if wanted != stored:
        session.execute(update(EVENTS).where(EVENTS.c.id == stored.id).values(name=wanted.name, year=wanted.year))
        if wanted.name != stored.name:
            # Its announcements' entries (and its sessions') show the event's name.
            mark_changed(session, events=[stored.id])
    ids.put(session, "event", slug, wanted)
    ids.put(session, "event-name", str(stored.id), wanted.name)
    return int(stored.id)


def event_names(session: Session, event_ids: Iterable[int], ids: IdCache | None = None) -> dict[int, str]:
    """The display names of these events by id."""
    ids = _cache(ids)
    out: dict[int, str] = {}
    missing: list[int] = []
    for eid in set(event_ids):
        name = ids.get(session, "event-name", str(eid))
        if name is None:
            missing.append(eid)
        else:
            out[eid] = name
    if missing:
        for eid, name in session.execute(select(EVENTS.c.id, EVENTS.c.name).where(EVENTS.c.id.in_(missing))):
            ids.put(session, "event-name", str(eid), name)
            out[eid] = name
    return out


def source_id(session: Session, name: str, ids: IdCache | None = None) -> int:
    """The id of the named source; an unregistered name is recorded with an unknown kind."""
    ids = _cache(ids)
    known = ids.get(session, "source", name)
    if known is not None:
        return int(known)
    found = session.connection().execute(_SOURCE_BY_NAME, {"name": name}).scalar()
    if found is None:
        # Callers register sources first; a placeholder keeps a stray call from failing a run.
        log.warning("source %r was not registered; recording it with an unknown kind", name)
        found = session.execute(
            insert(SOURCES).values(name=name, kind="unknown", url="", consecutive_failures=0).returning(SOURCES.c.id)
        ).scalar_one()
    ids.put(session, "source", name, found)
    return int(found)
