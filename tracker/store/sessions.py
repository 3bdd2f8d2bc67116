"""Conference sessions and their links to announcements: natural keys, get-or-create, link and unlink, linking reads.

Functions take a session first and never commit: the caller owns the transaction.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from tracker.items import ConferenceSession, Link, LinkMethod, SessionKind
from tracker.normalize.text import public_url
from tracker.redact import strip_controls
from tracker.store._common import _link_wins, _set, table_of
from tracker.store.changes import SESSION_FIELDS, mark_changed, transaction_revision
from tracker.store.models import (
    AnnouncementRow,
    AnnouncementServiceRow,
    AnnouncementSessionRow,
    EventRow,
    LinkStateRow,
    ServiceRow,
    SessionRow,
)
from tracker.store.queries import _utc, unique
from tracker.textutil import slugify

SESSIONS_T = table_of(SessionRow)
NATURAL_KEY_MAX = 600  # the width of sessions.natural_key
GENERIC_SESSION_KIND = SessionKind.SESSION


@dataclass(frozen=True, slots=True)
class LinkableAnnouncement:
    """A stored announcement as linking across documents reads it."""

    id: int
    title: str
    service_slugs: tuple[str, ...]  # sorted
    event_slug: str | None


@dataclass(frozen=True, slots=True)
class LinkableSession:
    """A stored session as linking across documents reads it."""

    id: int
    title: str
    code: str | None
    event_slug: str | None
    kind: str  # a SessionKind


def youtube_id(url: str) -> str | None:
    """The video id of a YouTube URL (watch, youtu.be, embed, shorts, live), else None."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return None
    host = (parts.hostname or "").lower().removeprefix("www.").removeprefix("m.")
    candidate: str | None = None
    if host == "youtu.be":
        candidate = parts.path.strip("/").split("/")[0]
    elif host.endswith("youtube.com") or host == "youtube-nocookie.com":
        if parts.path == "/watch":
            values = parse_qs(parts.query).get("v")
            candidate = values[0] if values else None
        else:
            segments = [s for s in parts.path.split("/") if s]
            if len(segments) >= 2 and segments[0] in {"embed", "shorts", "live", "v"}:
                candidate = segments[1]
    if candidate and re.fullmatch(r"[A-Za-z0-9_-]{6,20}", candidate):
        return candidate
    return None


def _bounded(key: str) -> str:
    if len(key) <= NATURAL_KEY_MAX:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()
    return f"{key[: NATURAL_KEY_MAX - len(digest) - 1]}#{digest}"


def session_natural_key(s: ConferenceSession, event_slug: str | None) -> str:
    """The get-or-create key of a session: code, else video, else title (within its event)."""
    event = event_slug or "-"
    if s.code and s.code.strip():
        return _bounded(f"code:{event}:{s.code.strip().upper()}")
    if s.url and s.url.strip():
        return _bounded(f"video:{youtube_id(s.url) or s.url.strip()}")
    title_slug = slugify(s.title) or hashlib.sha256(s.title.encode()).hexdigest()[:16]
    return _bounded(f"title:{event}:{title_slug}")


def _legacy_session_key(s: ConferenceSession, event_slug: str | None) -> str | None:
    """The title key this session had before slugs joined a word's inner apostrophe or colon, if different.

    Keys written then ("title:e:what-s-new-in-re-invent") are still in existing databases: an
    upsert finds the row under its old key and moves it to the new one, so nothing is stored twice.
    """
    if (s.code and s.code.strip()) or (s.url and s.url.strip()):
        return None
    old_slug = slugify(re.sub(r"['’:]", " ", s.title))
    if not old_slug or old_slug == slugify(s.title):
        return None
    return _bounded(f"title:{event_slug or '-'}:{old_slug}")


# Sort position of a row made by a writer: after every stored id, in the order made.
_NEW_ORDER = 1 << 62
_PER_STATEMENT = 500  # sessions whose rows one look-up reads: four values each, well under any parameter limit


@dataclass(slots=True)
class _SessionRow:
    """A session row as a writer sees it: loaded, or made by the writer (id None until flushed)."""

    id: int | None
    natural_key: str
    event_id: int | None
    code: str | None
    title: str
    kind: str
    speakers: list[str]
    level: str | None
    track: str | None
    video_url: str | None
    abstract: str | None
    published_at: datetime | None
    order: int
    new: bool = False
    dirty: bool = False
    revision: int = 0  # the store's revision it was stored or last changed at (`tracker.store.changes`)
    linked: tuple[Any, ...] | None = None  # what linking reads of it (LINKED_FIELDS) as loaded; None: new

    def linked_changed(self) -> bool:
        """Whether what linking and the feeds read of it changed since it was loaded."""
        return self.linked is not None and self.linked != tuple(getattr(self, f) for f in LINKED_FIELDS)

    def fill(self, attr: str, value: Any) -> bool:
        """Set a field that is still empty (later sources only fill gaps); True when it was."""
        if getattr(self, attr) is None and value is not None:
            setattr(self, attr, value)
            self.dirty = True
            return True
        return False


# What linking and the feeds read of a session: a change raises its revision and marks the
# announcements linked to it (as `tracker.store.changes` does for an ORM flush).
LINKED_FIELDS = SESSION_FIELDS

_SESSION_COLUMNS = (
    "natural_key",
    "event_id",
    "code",
    "title",
    "kind",
    "speakers",
    "level",
    "track",
    "video_url",
    "abstract",
    "published_at",
)


# The rows a document's sessions may be: by natural key (or legacy key), by code, by video.
_FIND = select(SESSIONS_T).where(
    or_(
        SESSIONS_T.c.natural_key.in_(bindparam("keys", expanding=True)),
        SESSIONS_T.c.code.in_(bindparam("codes", expanding=True)),
        SESSIONS_T.c.video_url.in_(bindparam("videos", expanding=True)),
    )
)
_INSERT = insert(SESSIONS_T).returning(SESSIONS_T.c.natural_key, SESSIONS_T.c.id)
_UPDATE = (
    update(SESSIONS_T)
    .where(SESSIONS_T.c.id == bindparam("row_id"))
    .values({c: bindparam(c) for c in (*_SESSION_COLUMNS, "revision")})
)


class PendingSession:
    """A session `SessionWriter.upsert` found or made; its id is known once the writer is flushed."""

    __slots__ = ("_row",)

    def __init__(self, row: _SessionRow) -> None:
        self._row = row

    @property
    def id(self) -> int:
        """The session's id (after `flush` for one the writer creates)."""
        if self._row.id is None:
            raise RuntimeError("the session is not written yet: flush the writer first")
        return self._row.id


def _clean(s: ConferenceSession) -> ConferenceSession:
    # Text without controls.
    return replace(
        s,
        title=strip_controls(s.title),
        speakers=tuple(strip_controls(x) for x in s.speakers),
        level=strip_controls(s.level) if s.level else s.level,
        track=strip_controls(s.track) if s.track else s.track,
        abstract=strip_controls(s.abstract) if s.abstract else s.abstract,
    )


def _code(s: ConferenceSession) -> str | None:
    return s.code.strip().upper() if s.code and s.code.strip() else None


class SessionWriter:
    """Get-or-create of one document's sessions by natural key (later sources only fill empty fields), in bulk.

    `load` reads every stored row the sessions may be (by key, code, video or legacy key) in one
    statement; `upsert` finds or makes each in memory, in order, as the one-by-one rules say;
    `flush` writes one INSERT of the new rows and one executemany UPDATE of the changed ones.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._rows: list[_SessionRow] = []
        self._by_id: dict[int, _SessionRow] = {}
        self._loaded: set[tuple[str, str | None, str | None, str | None]] = set()
        self._by_key: dict[str, _SessionRow] = {}
        self._by_code: dict[str, list[_SessionRow]] = {}
        self._by_video: dict[str, list[_SessionRow]] = {}
        self._made = 0

    def load(self, sessions: Iterable[tuple[ConferenceSession, str | None]]) -> None:
        """Read the stored rows these (session, event slug) pairs may be, for `upsert`."""
        wanted: list[tuple[str, str | None, str | None, str | None]] = []
        for s, event_slug in sessions:
            probe = (
                session_natural_key(s, event_slug),
                _legacy_session_key(s, event_slug),
                _code(s),
                public_url(s.url),
            )
            if probe not in self._loaded:
                self._loaded.add(probe)
                wanted.append(probe)
        for start in range(0, len(wanted), _PER_STATEMENT):
            chunk = wanted[start : start + _PER_STATEMENT]
            keys = unique(k for key, legacy, _, _ in chunk for k in (key, legacy) if k is not None)
            codes = unique(code for _, _, code, _ in chunk if code is not None)
            videos = unique(video for _, _, _, video in chunk if video is not None)
            for r in self.session.connection().execute(_FIND, {"keys": keys, "codes": codes, "videos": videos}):
                if r.id in self._by_id:
                    continue
                row = _SessionRow(
                    id=r.id,
                    natural_key=r.natural_key,
                    event_id=r.event_id,
                    code=r.code,
                    title=r.title,
                    kind=r.kind,
                    speakers=list(r.speakers or []),
                    level=r.level,
                    track=r.track,
                    video_url=r.video_url,
                    abstract=r.abstract,
                    published_at=_utc(r.published_at),
                    order=r.id,
                    revision=r.revision,
                )
                row.linked = tuple(getattr(row, f) for f in LINKED_FIELDS)
                self._by_id[r.id] = row
                self._rows.append(row)
                self._index(row)

    def _index(self, row: _SessionRow) -> None:
        self._by_key[row.natural_key] = row
        if row.code is not None:
            self._by_code.setdefault(row.code, []).append(row)
        if row.video_url is not None:
            self._by_video.setdefault(row.video_url, []).append(row)

    def _find(self, key: str, code: str | None, video: str | None, event_id: int | None) -> _SessionRow | None:
        # The one-by-one look-ups, in their order, each taking the lowest id: by key, by code
        # within the event, by video.
        row = self._by_key.get(key)
        if row is not None:
            return row
        if code:
            # A row first stored under its video or title and given its code later.
            same = [r for r in self._by_code.get(code, ()) if r.code == code and r.event_id == event_id]
            if same:
                return min(same, key=lambda r: r.order)
        if video:
            # The same video under another code is another session (e.g. a different event).
            for r in sorted(self._by_video.get(video, ()), key=lambda r: r.order):
                if r.video_url == video and (code is None or r.code in (None, code)):
                    return r
        return None

    def upsert(self, s: ConferenceSession, *, event_id: int | None, event_slug: str | None) -> PendingSession:
        """Get-or-create a session by its natural key, in memory until `flush`; later sources only fill empty fields."""
        self.load([(s, event_slug)])
        key = session_natural_key(s, event_slug)
        code = _code(s)
        # Only a public http(s) link is stored (never javascript: or data:); text without controls.
        video = public_url(s.url)
        s = _clean(s)
        row = self._find(key, code, video, event_id)
        legacy = _legacy_session_key(s, event_slug) if row is None else None
        if legacy is not None:
            row = self._by_key.get(legacy)
            if row is not None:
                del self._by_key[legacy]
                row.natural_key = key  # moved to today's key: found by it from now on
                self._by_key[key] = row
                row.dirty = True
        if row is None:
            row = _SessionRow(
                id=None,
                natural_key=key,
                event_id=event_id,
                code=code,
                title=s.title,
                kind=s.kind or GENERIC_SESSION_KIND,
                speakers=list(s.speakers),
                level=s.level,
                track=s.track,
                video_url=video,
                abstract=s.abstract,
                published_at=_utc(s.published_at),
                order=_NEW_ORDER + self._made,
                new=True,
            )
            self._made += 1
            self._rows.append(row)
            self._index(row)
            return PendingSession(row)
        if not row.title and s.title:
            row.title = s.title
            row.dirty = True
        if row.kind == GENERIC_SESSION_KIND and s.kind and s.kind != GENERIC_SESSION_KIND:
            row.kind = s.kind
            row.dirty = True
        if not row.speakers and s.speakers:
            row.speakers = list(s.speakers)
            row.dirty = True
        row.fill("event_id", event_id)
        if row.fill("code", code):
            self._by_code.setdefault(row.code or "", []).append(row)
        row.fill("level", s.level)
        row.fill("track", s.track)
        if row.fill("video_url", video):
            self._by_video.setdefault(row.video_url or "", []).append(row)
        row.fill("abstract", s.abstract)
        row.fill("published_at", _utc(s.published_at))
        return PendingSession(row)

    def flush(self) -> None:
        """Write the sessions made (one INSERT) and changed (one executemany UPDATE).

        Keeps the store's revision as the ORM's flush events do (`tracker.store.changes`): a new
        session, or one whose linked fields changed, is written at this transaction's revision,
        and the announcements linked to the latter are marked changed.
        """
        new = [r for r in self._rows if r.new]
        changed = [r for r in self._rows if r.dirty and not r.new]
        relinked = [r for r in changed if r.linked_changed()]
        if new or relinked:
            revision = transaction_revision(self.session)
            for r in (*new, *relinked):
                r.revision = revision
        if new:
            made: dict[str, int] = dict(
                self.session.connection()
                .execute(
                    _INSERT,
                    [{c: getattr(r, c) for c in (*_SESSION_COLUMNS, "revision")} for r in new],
                )
                .all()
            )
            for r in new:
                r.id = made[r.natural_key]
                self._by_id[r.id] = r
                r.new = r.dirty = False
                r.linked = tuple(getattr(r, f) for f in LINKED_FIELDS)
        if changed:
            self.session.connection().execute(
                _UPDATE,
                [{"row_id": r.id, **{c: getattr(r, c) for c in (*_SESSION_COLUMNS, "revision")}} for r in changed],
            )
            for r in changed:
                r.dirty = False
                r.linked = tuple(getattr(r, f) for f in LINKED_FIELDS)
        if relinked:
            mark_changed(self.session, sessions=[r.id for r in relinked if r.id is not None])


def upsert_session(session: Session, s: ConferenceSession, *, event_id: int | None, event_slug: str | None) -> int:
    """Get-or-create a session by its natural key; later sources only fill empty fields (one through `SessionWriter`)."""
    writer = SessionWriter(session)
    pending = writer.upsert(s, event_id=event_id, event_slug=event_slug)
    writer.flush()
    return pending.id


def link_session(session: Session, announcement_id: int, session_id: int, link: Link) -> bool:
    """Insert or update an announcement ↔ session link; True when something changed.

    An existing link is replaced by the same method's new verdict or by a higher score,
    never by a weaker link of another method (a title match does not undo a structural link).
    """
    row = session.get(AnnouncementSessionRow, (announcement_id, session_id))
    if row is None:
        session.add(
            AnnouncementSessionRow(
                announcement_id=announcement_id,
                session_id=session_id,
                method=link.method,
                score=float(link.score),
                reason=link.reason,
            )
        )
        session.flush()
        return True
    if not _link_wins(link.method, float(link.score), row.method, row.score):
        return False
    changed = _set(row, "method", link.method)
    changed |= _set(row, "score", float(link.score))
    changed |= _set(row, "reason", link.reason)
    return changed


def announcements_for_linking(
    session: Session, event_slug: str | None = None, *, changed_since: int | None = None
) -> list[LinkableAnnouncement]:
    """Every announcement, or one event's, as linking across documents reads it; with
    `changed_since`, only those whose revision (`tracker.store.changes`) is above it (found by
    that index: as many rows as changed, whatever the store's size)."""
    stmt = (
        select(AnnouncementRow.id, AnnouncementRow.title, EventRow.slug)
        .outerjoin(EventRow, EventRow.id == AnnouncementRow.event_id)
        .order_by(AnnouncementRow.id)
    )
    if event_slug is not None:
        stmt = stmt.where(EventRow.slug == event_slug)
    if changed_since is not None:
        # The changed ids first, by the revision index: joined to the events, SQLite would read
        # every announcement of the event instead.
        ids = sorted(session.scalars(select(AnnouncementRow.id).where(AnnouncementRow.revision > changed_since)))
        rows: list[Any] = []
        for start in range(0, len(ids), 500):
            rows.extend(session.execute(stmt.where(AnnouncementRow.id.in_(ids[start : start + 500]))).all())
    else:
        rows = list(session.execute(stmt).all())
    slugs: dict[int, list[str]] = {}
    pairs = select(AnnouncementServiceRow.announcement_id, ServiceRow.slug).join(
        ServiceRow, ServiceRow.id == AnnouncementServiceRow.service_id
    )
    if changed_since is not None:
        found = [r[0] for r in rows]
        for start in range(0, len(found), 500):
            for ann_id, slug in session.execute(
                pairs.where(AnnouncementServiceRow.announcement_id.in_(found[start : start + 500]))
            ):
                slugs.setdefault(ann_id, []).append(slug)
    else:
        if event_slug is not None:
            pairs = pairs.where(
                AnnouncementServiceRow.announcement_id.in_(
                    select(AnnouncementRow.id)
                    .join(EventRow, EventRow.id == AnnouncementRow.event_id)
                    .where(EventRow.slug == event_slug)
                )
            )
        for ann_id, slug in session.execute(pairs):
            slugs.setdefault(ann_id, []).append(slug)
    return [LinkableAnnouncement(r[0], r[1], tuple(sorted(slugs.get(r[0], ()))), r[2]) for r in rows]


def title_links_of_event(
    session: Session, event_slug: str, method: str = LinkMethod.TITLE, *, announcement_ids: Sequence[int] | None = None
) -> dict[int, set[int]]:
    """The stored links of one method from the announcements of an event (or only of those
    given): announcement id -> session ids."""
    stmt = (
        select(AnnouncementSessionRow.announcement_id, AnnouncementSessionRow.session_id)
        .join(AnnouncementRow, AnnouncementRow.id == AnnouncementSessionRow.announcement_id)
        .join(EventRow, EventRow.id == AnnouncementRow.event_id)
        .where(EventRow.slug == event_slug, AnnouncementSessionRow.method == method)
    )
    out: dict[int, set[int]] = {}
    if announcement_ids is None:
        batches: list[Any] = [stmt]
    else:
        ids = sorted(set(announcement_ids))
        batches = [
            stmt.where(AnnouncementSessionRow.announcement_id.in_(ids[start : start + 500]))
            for start in range(0, len(ids), 500)
        ]
    for batch in batches:
        for ann_id, sid in session.execute(batch).all():
            out.setdefault(ann_id, set()).add(sid)
    return out


def events_with_sessions_changed_since(session: Session, revision: int) -> set[str]:
    """The slugs of the events with a session stored or changed after `revision`."""
    return set(
        session.scalars(
            select(EventRow.slug)
            .join(SessionRow, SessionRow.event_id == EventRow.id)
            .where(SessionRow.revision > revision)
            .distinct()
        )
    )


@dataclass(frozen=True, slots=True)
class LinkState:
    """Up to which store revision, and with which settings, links across documents were made."""

    revision: int
    settings: str


def link_state(session: Session) -> LinkState | None:
    """The state of the last linking across documents, or None (never, or before it was kept)."""
    row = session.get(LinkStateRow, 1)
    return None if row is None else LinkState(row.revision, row.settings)


def save_link_state(session: Session, state: LinkState) -> None:
    """Record the linking across documents just made."""
    row = session.get(LinkStateRow, 1)
    if row is None:
        session.add(LinkStateRow(id=1, revision=state.revision, settings=state.settings))
    else:
        row.revision = state.revision
        row.settings = state.settings
    session.flush()


def unlink_session(session: Session, announcement_id: int, session_id: int) -> bool:
    """Remove an announcement ↔ session link; True when there was one."""
    row = session.get(AnnouncementSessionRow, (announcement_id, session_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def sessions_for_linking(session: Session) -> list[LinkableSession]:
    """Every session, as linking across documents reads it."""
    rows = session.execute(
        select(SessionRow.id, SessionRow.title, SessionRow.code, EventRow.slug, SessionRow.kind)
        .outerjoin(EventRow, EventRow.id == SessionRow.event_id)
        .order_by(SessionRow.id)
    ).all()
    return [LinkableSession(r[0], r[1], r[2], r[3], r[4]) for r in rows]
