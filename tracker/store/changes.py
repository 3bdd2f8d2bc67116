"""The store's revision: which announcements changed what the feeds show of them, and since when.

Publishing reads only the announcements whose `revision` is above the revision it last published
(`tracker.store.published`), so every change to what a feed entry shows must raise it:

* an ORM flush does it by itself (`_after_flush`, registered on every `Session` when this module
  is imported, which every write module does through `_common`): a new or changed announcement
  row; a service, session or mention link added, changed or removed; a session, service or
  event whose rendered fields (title, name, code, video...) changed, for every announcement
  linked to it. Changes nothing renders (a mention's excerpt, an alias, a region) do not count;
* a write that bypasses the ORM (a Core INSERT or UPDATE) must do it itself: write
  `transaction_revision` into the rows it inserts or updates and tell `written_at_revision`
  which they are, and call `mark_changed` for the announcements whose links or mentions it
  changed (`tracker.store.announcements.AnnouncementWriter`, `tracker.store.sessions.SessionWriter`).

Deleted announcements need nothing: their published entries keep their place with
`announcement_id` set NULL by the foreign key (`PublishedEntryRow`). Sessions carry a revision
too, raised when stored or when what linking reads of them changes: linking across documents
(`tracker.pipeline.links`) scores again only what changed since it last ran.

The revision is one counter row (`store_revision`) bumped once per writing transaction and cached
on the session until the transaction ends. Runs and publishes hold the run lock
(`tracker.lock`), so no transaction commits a revision lower than one a publish has already read.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, cast

from sqlalchemy import Table, event, inspect, or_, select, update
from sqlalchemy.orm import Session, SessionTransaction, UOWTransaction

from tracker.store.models import (
    AnnouncementRow,
    AnnouncementServiceRow,
    AnnouncementSessionRow,
    EventRow,
    MentionRow,
    ServiceRow,
    SessionRow,
    StoreRevisionRow,
)

log = logging.getLogger(__name__)

_REVISION = "tracker.revision"  # session.info: this transaction's revision, once allocated
_MARKED = "tracker.marked"  # session.info: announcement ids already at it
_CHUNK = 500  # ids per IN (...) list

# The columns of linked rows a feed entry shows (tracker.publish.feeds): a change to any other
# (a session's abstract, a mention's excerpt) leaves every feed as it is.
SESSION_FIELDS = ("title", "kind", "code", "video_url", "event_id")
_SERVICE_FIELDS = ("slug", "name", "category")
_EVENT_FIELDS = ("slug", "name")
_LINK_FIELDS = ("method", "score", "reason")


_BUMP = (
    update(StoreRevisionRow)
    .where(StoreRevisionRow.id == 1)
    .values(value=StoreRevisionRow.value + 1)
    .returning(StoreRevisionRow.value)
)


def store_revision(session: Session) -> int:
    """The newest revision any committed (or this session's) change carries."""
    return int(session.scalar(select(StoreRevisionRow.value).where(StoreRevisionRow.id == 1)) or 0)


def transaction_revision(session: Session) -> int:
    """This transaction's revision: the counter bumped on first use, the same value until it ends."""
    cached = session.info.get(_REVISION)
    if cached is not None:
        return int(cached)
    connection = session.connection()
    # One round trip (UPDATE ... RETURNING: SQLite 3.35+, PostgreSQL).
    bumped = connection.execute(_BUMP).scalar()
    if bumped is None:
        # A schema made without the migration's first row (metadata.create_all in a tool).
        connection.execute(cast(Table, StoreRevisionRow.__table__).insert().values(id=1, value=1))
        bumped = 1
    value = int(bumped)
    session.info[_REVISION] = value
    session.info[_MARKED] = set()
    return value


def written_at_revision(session: Session, announcement_ids: Iterable[int | None]) -> None:
    """Record that these announcements were just inserted or updated by a Core statement that
    set their revision to `transaction_revision`: `mark_changed` leaves them alone from now on."""
    transaction_revision(session)
    marked: set[int] = session.info[_MARKED]
    marked.update(i for i in announcement_ids if i is not None)


def mark_changed(
    session: Session,
    announcement_ids: Iterable[int] = (),
    *,
    services: Iterable[int] = (),
    events: Iterable[int] = (),
    sessions: Iterable[int] = (),
) -> None:
    """Raise to this transaction's revision the given announcements and those of the given
    services, events (theirs and their sessions') and sessions: the next publish renders them."""
    ids = {i for i in announcement_ids if i is not None}
    service_ids, event_ids, session_ids = set(services), set(events), set(sessions)
    if not (ids or service_ids or event_ids or session_ids):
        return
    revision = transaction_revision(session)
    marked: set[int] = session.info[_MARKED]
    connection = session.connection()
    table = cast(Table, AnnouncementRow.__table__)
    fresh = sorted(ids - marked)
    for start in range(0, len(fresh), _CHUNK):
        chunk = fresh[start : start + _CHUNK]
        connection.execute(update(table).where(table.c.id.in_(chunk)).values(revision=revision))
    marked.update(fresh)
    # Whole groups (a renamed service: every launch of it) are rare and may be large: one statement each.
    related = []
    if service_ids:
        related.append(
            table.c.id.in_(
                select(AnnouncementServiceRow.announcement_id).where(
                    AnnouncementServiceRow.service_id.in_(sorted(service_ids))
                )
            )
        )
    if event_ids:
        related.append(table.c.event_id.in_(sorted(event_ids)))
        sessions_table = cast(Table, SessionRow.__table__)
        session_ids |= set(
            connection.execute(
                select(sessions_table.c.id).where(sessions_table.c.event_id.in_(sorted(event_ids)))
            ).scalars()
        )
    if session_ids:
        related.append(
            table.c.id.in_(
                select(AnnouncementSessionRow.announcement_id).where(
                    AnnouncementSessionRow.session_id.in_(sorted(session_ids))
                )
            )
        )
    if related:
        done = connection.execute(
            update(table).where(or_(*related), table.c.revision != revision).values(revision=revision)
        )
        log.info("%d announcements marked changed with their services, events or sessions", done.rowcount)


def _changed(row: object, fields: Iterable[str]) -> bool:
    state = inspect(row)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _before_flush(session: Session, _context: UOWTransaction, _instances: Any) -> None:
    """New announcements get this transaction's revision in their INSERT (no UPDATE after);
    new sessions and sessions whose linked fields change get it too (linking reads them again)."""
    rows: list[AnnouncementRow | SessionRow] = [
        obj for obj in session.new if isinstance(obj, AnnouncementRow | SessionRow)
    ]
    rows.extend(obj for obj in session.dirty if isinstance(obj, SessionRow) and _changed(obj, SESSION_FIELDS))
    if rows:
        revision = transaction_revision(session)
        for row in rows:
            row.revision = revision


def _after_flush(session: Session, _context: UOWTransaction) -> None:
    """Mark the announcements whose feed entries this flush changed (see the module docstring)."""
    ids: set[int] = set()
    services: set[int] = set()
    events: set[int] = set()
    sessions: set[int] = set()
    inserted: set[int] = set()
    for obj in session.new:
        if isinstance(obj, AnnouncementRow):
            inserted.add(obj.id)  # already at this revision (_before_flush)
        elif isinstance(obj, AnnouncementServiceRow | AnnouncementSessionRow | MentionRow):
            ids.add(obj.announcement_id)
    for obj in session.deleted:
        if isinstance(obj, AnnouncementServiceRow | AnnouncementSessionRow | MentionRow):
            ids.add(obj.announcement_id)
    for obj in session.dirty:
        if isinstance(obj, AnnouncementRow):
            if session.is_modified(obj, include_collections=False):
                ids.add(obj.id)
        elif isinstance(obj, AnnouncementSessionRow):
            if _changed(obj, _LINK_FIELDS):
                ids.add(obj.announcement_id)
        elif isinstance(obj, SessionRow):
            if _changed(obj, SESSION_FIELDS):
                sessions.add(obj.id)
        elif isinstance(obj, ServiceRow):
            if _changed(obj, _SERVICE_FIELDS):
                services.add(obj.id)
        elif isinstance(obj, EventRow) and _changed(obj, _EVENT_FIELDS):
            events.add(obj.id)
    if inserted:
        session.info.setdefault(_MARKED, set()).update(inserted)
    ids -= inserted
    if ids or services or events or sessions:
        mark_changed(session, ids, services=services, events=events, sessions=sessions)


def _forget(session: Session) -> None:
    session.info.pop(_REVISION, None)
    session.info.pop(_MARKED, None)


def _after_transaction_end(session: Session, transaction: SessionTransaction) -> None:
    """The next transaction allocates its own revision."""
    if transaction.parent is None:
        _forget(session)


def _after_soft_rollback(session: Session, _previous: SessionTransaction) -> None:
    """A savepoint rolled back undid its marks (and maybe the counter's bump): mark again from here on."""
    _forget(session)


event.listen(Session, "before_flush", _before_flush)
event.listen(Session, "after_flush", _after_flush)
event.listen(Session, "after_transaction_end", _after_transaction_end)
event.listen(Session, "after_soft_rollback", _after_soft_rollback)
