"""The published state: what the last publish to a folder wrote, kept so the next one writes only what changed.

`publish_state` says up to which store revision (`tracker.store.changes`) and with which settings
the folder was published; `published_feeds` lists its feeds with their number of entries;
`published_entries` holds each feed's entries in the feed's own order (newest first: `order_ts`,
minus the published time in seconds, then the key), so that a publish can find the archive page an
entry is on by counting the entries older than it, and read one page's entries, without reading
the feed. Nothing here decides what a feed holds: `tracker.publish` does, from the records.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, delete, func, insert, select, text, tuple_, update
from sqlalchemy.orm import Session

from tracker.items import AnnouncementRecord, Service
from tracker.store.changes import store_revision
from tracker.store.models import (
    AnnouncementRow,
    AnnouncementServiceRow,
    EventRow,
    PublishedEntryRow,
    PublishedFeedRow,
    PublishStateRow,
    ServiceRow,
)
from tracker.store.queries import _RecordReader, _utc

log = logging.getLogger(__name__)

_CHUNK = 500  # ids per IN (...) list: well under SQLite's bound-parameter limit
_INSERT_CHUNK = 5_000  # rows per executemany


@dataclass(frozen=True, slots=True)
class PublishState:
    """The last publish to a folder: where, up to which store revision, with which settings."""

    target: str
    token: str
    revision: int
    settings: str


@dataclass(frozen=True, slots=True)
class PublishedFeed:
    """A feed as the last publish wrote it."""

    id: int
    path: str
    kind: str
    slug: str | None
    event_slug: str | None
    title: str
    description: str
    category: str | None
    entries: int
    updated: datetime


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry of a published feed at its place: (order_ts, key) ascending is the feed's order."""

    feed_id: int
    order_ts: int
    key: str
    announcement_id: int | None  # None: the announcement was deleted from the store since


_ENTRIES = cast(Table, PublishedEntryRow.__table__)
_FEEDS = cast(Table, PublishedFeedRow.__table__)


def _entry(row: Any) -> FeedEntry:
    return FeedEntry(int(row[0]), int(row[1]), str(row[2]), row[3])


# --------------------------------------------------------------------------- the state


def publish_state(session: Session) -> PublishState | None:
    """The state of the last publish, or None when there is none."""
    row = session.get(PublishStateRow, 1)
    if row is None:
        return None
    return PublishState(row.target, row.token, row.revision, row.settings)


def current_revision(session: Session) -> int:
    """The store's newest revision: a publish that reads now covers every change up to it."""
    return store_revision(session)


def save_publish_state(session: Session, state: PublishState, *, at: datetime) -> None:
    """Record the publish just made."""
    row = session.get(PublishStateRow, 1)
    if row is None:
        row = PublishStateRow(id=1)
        session.add(row)
    row.target = state.target
    row.token = state.token
    row.revision = state.revision
    row.settings = state.settings
    row.published_at = _utc(at) or at
    session.flush()


def clear_published_state(session: Session) -> None:
    """Forget the last publish entirely (a full publish records it again)."""
    session.execute(delete(PublishStateRow))
    session.execute(delete(PublishedEntryRow))
    session.execute(delete(PublishedFeedRow))


# --------------------------------------------------------------------------- feeds


def published_feeds(session: Session) -> list[PublishedFeed]:
    """Every feed of the last publish, by path."""
    return _feeds(session.execute(select(*_FEEDS.c).order_by(_FEEDS.c.path)))


def published_feeds_of(
    session: Session, *, paths: Iterable[str] = (), ids: Iterable[int] = (), kind: str | None = None
) -> list[PublishedFeed]:
    """The feeds of the last publish with these paths, ids or kind (by path; each once)."""
    found: dict[str, PublishedFeed] = {}
    for column, values in ((_FEEDS.c.path, sorted(set(paths))), (_FEEDS.c.id, sorted(set(ids)))):
        for start in range(0, len(values), _CHUNK):
            stmt = select(*_FEEDS.c).where(column.in_(values[start : start + _CHUNK]))
            found.update((f.path, f) for f in _feeds(session.execute(stmt)))
    if kind is not None:
        found.update((f.path, f) for f in _feeds(session.execute(select(*_FEEDS.c).where(_FEEDS.c.kind == kind))))
    return [found[path] for path in sorted(found)]


def newest_feed_update(session: Session) -> datetime | None:
    """The newest `updated` of the feeds of the last publish (None without feeds)."""
    return _utc(session.scalar(select(func.max(_FEEDS.c.updated))))


def _feeds(rows: Iterable[Any]) -> list[PublishedFeed]:
    return [
        PublishedFeed(
            id=r.id,
            path=r.path,
            kind=r.kind,
            slug=r.slug,
            event_slug=r.event_slug,
            title=r.title,
            description=r.description,
            category=r.category,
            entries=r.entries,
            updated=_utc(r.updated) or r.updated,
        )
        for r in rows
    ]


def add_feed(session: Session, feed: PublishedFeed) -> int:
    """Record a new feed (its id in `feed` is ignored); returns its id."""
    values = {
        "path": feed.path,
        "kind": feed.kind,
        "slug": feed.slug,
        "event_slug": feed.event_slug,
        "title": feed.title,
        "description": feed.description,
        "category": feed.category,
        "entries": feed.entries,
        "updated": _utc(feed.updated),
    }
    return int(session.execute(insert(_FEEDS).values(**values).returning(_FEEDS.c.id)).scalar_one())


def update_feed(session: Session, feed: PublishedFeed) -> None:
    """Store a feed's spec, number of entries and newest `updated` (by its id)."""
    session.execute(
        update(_FEEDS)
        .where(_FEEDS.c.id == feed.id)
        .values(
            title=feed.title,
            description=feed.description,
            category=feed.category,
            entries=feed.entries,
            updated=_utc(feed.updated),
        )
    )


def delete_feed(session: Session, feed_id: int) -> None:
    """Forget a feed that has no entry left."""
    session.execute(delete(_ENTRIES).where(_ENTRIES.c.feed_id == feed_id))
    session.execute(delete(_FEEDS).where(_FEEDS.c.id == feed_id))


# --------------------------------------------------------------------------- entries


def changed_since(session: Session, revision: int) -> list[int]:
    """Ids of the announcements changed after `revision` (read by its index: as many rows as changed)."""
    # Sorted here: with ORDER BY id, SQLite walks the whole table in id order instead of the index.
    return sorted(session.scalars(select(AnnouncementRow.id).where(AnnouncementRow.revision > revision)))


def entries_of(session: Session, announcement_ids: Sequence[int]) -> list[FeedEntry]:
    """The published entries of these announcements, in every feed."""
    ids = sorted(set(announcement_ids))
    out: list[FeedEntry] = []
    for start in range(0, len(ids), _CHUNK):
        out.extend(
            _entry(r)
            for r in session.execute(
                select(_ENTRIES.c.feed_id, _ENTRIES.c.order_ts, _ENTRIES.c.key, _ENTRIES.c.announcement_id).where(
                    _ENTRIES.c.announcement_id.in_(ids[start : start + _CHUNK])
                )
            )
        )
    return out


def orphaned_entries(session: Session) -> list[FeedEntry]:
    """Published entries whose announcement was deleted from the store since."""
    return [
        _entry(r)
        for r in session.execute(
            select(_ENTRIES.c.feed_id, _ENTRIES.c.order_ts, _ENTRIES.c.key, _ENTRIES.c.announcement_id).where(
                _ENTRIES.c.announcement_id.is_(None)
            )
        )
    ]


def remove_entries(session: Session, entries: Iterable[FeedEntry]) -> None:
    """Take these entries out of their feeds."""
    keys = [(e.feed_id, e.order_ts, e.key) for e in entries]
    for start in range(0, len(keys), _CHUNK // 3):
        chunk = keys[start : start + _CHUNK // 3]
        session.execute(
            delete(_ENTRIES).where(tuple_(_ENTRIES.c.feed_id, _ENTRIES.c.order_ts, _ENTRIES.c.key).in_(chunk))
        )


def refresh_entry_statistics(session: Session) -> None:
    """Have PostgreSQL's planner count the published entries anew, after placing them all."""
    # Where autovacuum is off or has not come round yet, the planner keeps the counts of the
    # last ANALYZE (say, before a full publish put a million entries into the feed of every
    # announcement): it then reads a page of that feed by sorting all of it (0.2-0.3 s a
    # statement at 1,000,000) instead of walking the primary key in order (2 ms).
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE published_entries, published_feeds"))


def add_entries(session: Session, entries: Iterable[FeedEntry]) -> int:
    """Put these entries into their feeds; returns how many."""
    count = 0
    batch: list[dict[str, object]] = []
    for entry in entries:
        batch.append(
            {
                "feed_id": entry.feed_id,
                "order_ts": entry.order_ts,
                "key": entry.key,
                "announcement_id": entry.announcement_id,
            }
        )
        if len(batch) >= _INSERT_CHUNK:
            session.execute(insert(_ENTRIES), batch)
            count += len(batch)
            batch = []
    if batch:
        session.execute(insert(_ENTRIES), batch)
        count += len(batch)
    return count


def count_newer(session: Session, feed_id: int, order_ts: int, key: str, *, cap: int) -> int:
    """How many entries of a feed come before (order_ts, key) in its order, counting at most `cap`."""
    place = tuple_(_ENTRIES.c.order_ts, _ENTRIES.c.key)
    inner = (
        select(_ENTRIES.c.order_ts)
        .where(_ENTRIES.c.feed_id == feed_id, place < tuple_(order_ts, key))
        # In the primary key's order from the place on: PostgreSQL walks the index from there.
        # Unordered, it may scan the table for the first `cap` rows that match, and in the feed
        # of every announcement (nearly every row) those can lie at its far end (0.2 s at 1,000,000).
        .order_by(_ENTRIES.c.order_ts.desc(), _ENTRIES.c.key.desc())
        .limit(cap)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def count_older(session: Session, feed_id: int, order_ts: int, key: str, *, cap: int) -> int:
    """How many entries of a feed come after (order_ts, key) in its order, counting at most `cap`."""
    place = tuple_(_ENTRIES.c.order_ts, _ENTRIES.c.key)
    inner = (
        select(_ENTRIES.c.order_ts)
        .where(_ENTRIES.c.feed_id == feed_id, place > tuple_(order_ts, key))
        .order_by(_ENTRIES.c.order_ts, _ENTRIES.c.key)  # as in count_newer
        .limit(cap)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def feed_slice(session: Session, feed_id: int, start: int, stop: int, *, total: int) -> list[FeedEntry]:
    """The entries at places [start, stop) of a feed of `total` entries, newest first.

    Read from whichever end is nearer (an OFFSET walks its rows): a page among the newest
    costs as much as one among the oldest.
    """
    stop = min(stop, total)
    if start >= stop:
        return []
    columns = (_ENTRIES.c.feed_id, _ENTRIES.c.order_ts, _ENTRIES.c.key, _ENTRIES.c.announcement_id)
    stmt = select(*columns).where(_ENTRIES.c.feed_id == feed_id)
    if start <= total - stop:
        rows = session.execute(
            stmt.order_by(_ENTRIES.c.order_ts, _ENTRIES.c.key).offset(start).limit(stop - start)
        ).all()
        return [_entry(r) for r in rows]
    rows = session.execute(
        stmt.order_by(_ENTRIES.c.order_ts.desc(), _ENTRIES.c.key.desc()).offset(total - stop).limit(stop - start)
    ).all()
    return [_entry(r) for r in reversed(rows)]


def feed_range(
    session: Session, feed_id: int, start: int, stop: int, *, total: int, chunk: int = 2_000
) -> Iterator[list[FeedEntry]]:
    """The entries at places [start, stop) of a feed of `total` entries, newest first, in chunks:
    the first found by an OFFSET from the nearer end, the rest by their place (no OFFSET)."""
    stop = min(stop, total)
    if start >= stop:
        return
    first = feed_slice(session, feed_id, start, min(stop, start + chunk), total=total)
    if not first:
        return
    yield first
    done = start + len(first)
    last = first[-1]
    columns = (_ENTRIES.c.feed_id, _ENTRIES.c.order_ts, _ENTRIES.c.key, _ENTRIES.c.announcement_id)
    place = tuple_(_ENTRIES.c.order_ts, _ENTRIES.c.key)
    while done < stop:
        rows = [
            _entry(r)
            for r in session.execute(
                select(*columns)
                .where(_ENTRIES.c.feed_id == feed_id, place > tuple_(last.order_ts, last.key))
                .order_by(_ENTRIES.c.order_ts, _ENTRIES.c.key)
                .limit(min(chunk, stop - done))
            )
        ]
        if not rows:
            return
        yield rows
        done += len(rows)
        last = rows[-1]


def feed_sizes(session: Session) -> dict[int, int]:
    """The number of entries of every feed, counted (a full publish, after placing every entry)."""
    return {
        int(feed_id): int(n)
        for feed_id, n in session.execute(select(_ENTRIES.c.feed_id, func.count()).group_by(_ENTRIES.c.feed_id))
    }


# --------------------------------------------------------------------------- records


def records_of(session: Session, announcement_ids: Sequence[int]) -> dict[int, AnnouncementRecord]:
    """The records of these announcements by id (ids no longer stored are left out)."""
    return {r.id: r for r in _RecordReader(session).read(sorted(set(announcement_ids)))}


def placement_records(session: Session, *, chunk: int = 5_000) -> Iterator[list[AnnouncementRecord]]:
    """Every announcement with only what decides its feeds and its place in them (key, date,
    event, services), in id order and in chunks: a full publish places a million without
    holding a million full records."""
    services = {
        sid: Service(slug=slug, name=name, category=category)
        for sid, slug, name, category in session.execute(
            select(ServiceRow.id, ServiceRow.slug, ServiceRow.name, ServiceRow.category)
        )
    }
    events = {
        eid: (name, slug) for eid, name, slug in session.execute(select(EventRow.id, EventRow.name, EventRow.slug))
    }
    after = 0
    while True:
        rows = session.execute(
            select(AnnouncementRow.id, AnnouncementRow.key, AnnouncementRow.announced_at, AnnouncementRow.event_id)
            .where(AnnouncementRow.id > after)
            .order_by(AnnouncementRow.id)
            .limit(chunk)
        ).all()
        if not rows:
            return
        first, last = rows[0][0], rows[-1][0]
        linked: dict[int, list[Service]] = {}
        for ann_id, sid in session.execute(
            select(AnnouncementServiceRow.announcement_id, AnnouncementServiceRow.service_id).where(
                AnnouncementServiceRow.announcement_id.between(first, last)
            )
        ):
            linked.setdefault(ann_id, []).append(services[sid])
        out = []
        for ann_id, key, announced_at, event_id in rows:
            event, event_slug = events.get(event_id, (None, None)) if event_id is not None else (None, None)
            out.append(
                AnnouncementRecord(
                    id=ann_id,
                    key=key,
                    title="",
                    announced_at=_utc(announced_at),
                    event=event,
                    event_slug=event_slug,
                    services=tuple(sorted(linked.get(ann_id, ()), key=lambda s: (s.name.lower(), s.slug))),
                )
            )
        yield out
        after = last
