"""The read-only JSON API: /api/announcements, /api/announcements/{id}, /api/services, /api/events, /api/sessions.

Every parameter is checked before the store is asked: an unknown or repeated parameter, a
bad date, an oversized limit or a foreign cursor is a 400 with a JSON error that says what
to send instead. Requests only read (GET/HEAD, the read functions of `tracker.store.queries`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlencode

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from tracker.items import AnnouncementRecord, MonthCount
from tracker.store.db import reading
from tracker.store.names import Resolved, UnknownNameError, resolve_event, resolve_region, resolve_service
from tracker.store.queries import (
    announcement_items,
    announcements_per_month,
    get_announcement,
    list_events,
    list_services,
    list_sessions,
)
from tracker.store.tables import Reader
from tracker.textutil import DateError, check_range, parse_bound  # DATE_RANGE: for openapi.py
from tracker.web.responses import Response, json_error, json_response, plain_float

log = logging.getLogger(__name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_SESSIONS_LIMIT = 1000
MAX_TEXT = 200  # longest accepted value of any text parameter
MAX_MONTHS = 1200  # /api/months fills the months between the first and the last over a century at most
MONTH_FILTERS = ("service", "event", "region", "session", "since", "until", "q")
FEED_EXTS = (".atom", ".rss", ".json")
# Ids are INTEGER columns: 32-bit on PostgreSQL (a larger number is a database error there) and
# assigned one by one, so no store reaches this; a larger number cannot be an id.
MAX_ID = 2**31 - 1
# C0 controls, DEL and C1 controls: PostgreSQL refuses NUL in text, and none belongs in a filter.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class BadRequest(Exception):
    """A parameter problem: becomes a 400 naming the parameter."""

    def __init__(self, message: str, *, parameter: str | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = {"parameter": parameter, **details} if parameter else details


def _single(query: Mapping[str, list[str]], allowed: tuple[str, ...]) -> dict[str, str]:
    """One value per known parameter; unknown or repeated ones are refused."""
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise BadRequest(
            f"unknown parameter {unknown[0]!r}; this endpoint accepts: {', '.join(allowed) or 'no parameters'}",
            parameter=unknown[0],
            allowed=list(allowed),
        )
    out: dict[str, str] = {}
    for name, values in query.items():
        if len(values) != 1:
            raise BadRequest(f"parameter {name!r} given {len(values)} times; give it once", parameter=name)
        value = values[0].strip()
        if not value:
            raise BadRequest(f"parameter {name!r} is empty; leave it out or give a value", parameter=name)
        if len(value) > MAX_TEXT:
            raise BadRequest(f"parameter {name!r} is longer than {MAX_TEXT} characters", parameter=name)
        _no_controls(name, value)
        out[name] = value
    return out


def _no_controls(name: str, value: str) -> None:
    """Refuse control characters (NUL would be a database error on PostgreSQL)."""
    found = _CONTROL.search(value)
    if found:
        raise BadRequest(
            f"parameter {name!r} contains a control character (U+{ord(found.group()):04X}); send printable text",
            parameter=name,
        )


def parse_date(name: str, value: str, *, end: bool = False) -> datetime:
    """YYYY-MM-DD or an ISO 8601 date-time (naive = UTC), as aware UTC; a bare `until` date includes that day.

    The meaning is the CLI's (tracker.textutil.parse_bound): the range is [since, until).
    """
    try:
        return parse_bound(value, end=end)
    except DateError as exc:
        raise BadRequest(f"parameter {name!r}: {exc}", parameter=name) from None


def _resolve(session: Reader, kind: str, value: str | None) -> Resolved | None:
    """A service, event or region name resolved by the store's one resolver; an unknown one is a 400 with suggestions."""
    if value is None:
        return None
    try:
        resolver = {"service": resolve_service, "event": resolve_event, "region": resolve_region}[kind]
        return resolver(session, value)
    except UnknownNameError as exc:
        raise BadRequest(exc.message, parameter=kind, suggestions=list(exc.suggestions)) from None


def _as_utc(moment: datetime) -> datetime | None:
    """The moment in UTC (naive = UTC), or None when UTC would be outside datetime's years 1..9999."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def parse_limit(value: str | None, *, default: int, maximum: int) -> int:
    """A positive integer no larger than `maximum`."""
    if value is None:
        return default
    # isdigit() alone admits other scripts' digits and superscripts, which int() takes or refuses.
    if not (value.isascii() and value.isdigit()):
        raise BadRequest(
            f"parameter 'limit': {value!r} is not a whole number between 1 and {maximum}",
            parameter="limit",
            maximum=maximum,
        )
    limit = int(value)
    if not 1 <= limit <= maximum:
        raise BadRequest(
            f"parameter 'limit' must be between 1 and {maximum}, got {limit}; use the cursor of the response for more",
            parameter="limit",
            maximum=maximum,
        )
    return limit


def parse_ident(raw: str) -> int | str:
    """The {id} of /api/announcements/{id}: a numeric id (ASCII digits, at most MAX_ID) or a key."""
    try:
        ident = unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise BadRequest("the id is not UTF-8 once percent-decoded", parameter="id") from None
    if len(ident) > MAX_TEXT:
        raise BadRequest(f"the id is longer than {MAX_TEXT} characters; give a numeric id or a key", parameter="id")
    _no_controls("id", ident)
    if not ident.isdigit():
        return ident
    if not ident.isascii():
        raise BadRequest("a numeric id is written in ASCII digits 0-9", parameter="id")
    number = int(ident)
    if number > MAX_ID:
        raise BadRequest(f"a numeric id is at most {MAX_ID}, got {ident}", parameter="id", maximum=MAX_ID)
    return number


def _filters_digest(params: Mapping[str, str]) -> str:
    scope = {k: v for k, v in sorted(params.items()) if k not in {"cursor", "limit"}}
    return hashlib.sha256(json.dumps(scope, sort_keys=True).encode()).hexdigest()[:12]


def encode_cursor(last: Mapping[str, Any], params: Mapping[str, str]) -> str:
    """An opaque cursor: the last item's (announced_at, id) and a digest of the filters."""
    payload = json.dumps([last["announced_at"], last["id"], _filters_digest(params)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(value: str, params: Mapping[str, str]) -> tuple[datetime | None, int]:
    """The (announced_at, id) in a cursor made by `encode_cursor` for the same filters."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        at, last_id, digest = json.loads(raw)
        moment = None
        if at is not None:
            # A cursor can be forged (its format is plain): its contents are checked like parameters.
            if not isinstance(at, str) or not at.isascii() or _CONTROL.search(at):
                raise ValueError(value)
            moment = _as_utc(datetime.fromisoformat(at))
            if moment is None:
                raise ValueError(value)
        if not isinstance(last_id, int) or isinstance(last_id, bool) or not isinstance(digest, str):
            raise ValueError(value)
        if not 1 <= last_id <= MAX_ID:
            raise ValueError(value)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadRequest(
            "parameter 'cursor' is not a cursor this API made; use the next_cursor of a response", parameter="cursor"
        ) from None
    if digest != _filters_digest(params):
        raise BadRequest(
            "parameter 'cursor' belongs to a query with other filters; repeat the same filters "
            "with it, or start again without a cursor",
            parameter="cursor",
        )
    return moment, last_id


def _every_month(counts: Sequence[MonthCount]) -> list[MonthCount]:
    """The months from the first to the last with a count, those without one at 0 (a chart's
    axis without holes); a span over MAX_MONTHS (a stray date centuries away) is left sparse."""
    if not counts:
        return []

    def number(month: str) -> int:
        year, mon = month.split("-")
        return int(year) * 12 + int(mon) - 1

    first, last = number(counts[0].month), number(counts[-1].month)
    if last - first >= MAX_MONTHS:
        return list(counts)
    known = {c.month: c.announcements for c in counts}
    names = (f"{n // 12:04d}-{n % 12 + 1:02d}" for n in range(first, last + 1))
    return [MonthCount(name, known.get(name, 0)) for name in names]


@dataclass
class Api:
    """The API over one store; `feed_root` is the served output folder (to link existing feeds)."""

    factory: sessionmaker[Session]
    feed_root: Path

    def reading(self) -> AbstractContextManager[Connection]:
        """One Core connection in one transaction: requests only read, and a Core read costs
        a fraction of an ORM session's (no identity map, no unit of work to flush)."""
        bind = self.factory.kw["bind"]
        assert isinstance(bind, Engine)
        return reading(bind)

    def handle(self, path: str, query: Mapping[str, list[str]]) -> Response:
        """Dispatch one API request (path starts with /api)."""
        routes: dict[str, Callable[[Mapping[str, list[str]]], Response]] = {
            "/api/announcements": self.announcements,
            "/api/services": self.services,
            "/api/events": self.events,
            "/api/sessions": self.sessions,
            "/api/months": self.months,
        }
        try:
            if path in routes:
                return routes[path](query)
            prefix = "/api/announcements/"
            if path.startswith(prefix) and len(path) > len(prefix):
                return self.announcement(path[len(prefix) :], query)
            return json_error(
                404,
                f"no such API endpoint: {path}; see /api/openapi.json",
                endpoints=sorted([*routes, "/api/announcements/{id}", "/api/openapi.json"]),
            )
        except BadRequest as exc:
            return json_error(400, exc.message, **exc.details)

    # ------------------------------------------------------------------ helpers

    def _feed(self, path: str) -> dict[str, str] | None:
        """Root-relative URLs of a feed's three formats, when that feed is published."""
        # os.path on a string: a Path per format cost more than the three stat() calls.
        stem = os.path.join(self.feed_root, path)
        if not all(os.path.isfile(stem + ext) for ext in FEED_EXTS):
            return None
        return {ext[1:]: f"/{path}{ext}" for ext in FEED_EXTS}

    def _record(self, record: AnnouncementRecord) -> dict[str, Any]:
        return record.as_dict()

    def _feed_for_filter(self, service: Resolved | None, event: Resolved | None) -> dict[str, str] | None:
        """The published feed of exactly this filter: names resolved once, by the store's resolver."""
        service_slug = event_slug = None
        if service is not None:
            service_slug = service.slug
            if service_slug is None:
                return None  # a name that means several services has no one feed
        if event is not None:
            event_slug = event.slug
            if event_slug is None:
                return None
        if service_slug and event_slug:
            return self._feed(f"events/{event_slug}/services/{service_slug}")
        if service_slug:
            return self._feed(f"services/{service_slug}")
        if event_slug:
            return self._feed(f"events/{event_slug}")
        return self._feed("all")

    # ------------------------------------------------------------------ endpoints

    def announcements(self, query: Mapping[str, list[str]]) -> Response:
        """GET /api/announcements: filtered, newest first, keyset-paginated."""
        params = _single(query, ("service", "event", "region", "session", "since", "until", "q", "limit", "cursor"))
        limit = parse_limit(params.get("limit"), default=DEFAULT_LIMIT, maximum=MAX_LIMIT)
        since = parse_date("since", params["since"]) if "since" in params else None
        until = parse_date("until", params["until"], end=True) if "until" in params else None
        try:
            check_range(since, until)
        except DateError as exc:
            raise BadRequest(str(exc), parameter="since") from None
        after = decode_cursor(params["cursor"], params) if "cursor" in params else None
        with self.reading() as session:
            service = _resolve(session, "service", params.get("service"))
            event = _resolve(session, "event", params.get("event"))
            region = _resolve(session, "region", params.get("region"))
            # One more than asked: tells whether there is a next page without a COUNT.
            items = announcement_items(
                session,
                service=service,
                event=event,
                since=since,
                until=until,
                search=params.get("q"),
                session_code=params.get("session"),
                limit=limit + 1,
                after=after,
                region=region,
            )
            feed = self._feed_for_filter(service, event)
        page, more = items[:limit], len(items) > limit
        next_cursor = encode_cursor(page[-1], params) if more and page else None
        next_url = None
        if next_cursor:
            next_url = "/api/announcements?" + urlencode(
                {**{k: v for k, v in params.items() if k != "cursor"}, "cursor": next_cursor}
            )
        response = json_response(
            {
                "items": page,
                "count": len(page),
                "limit": limit,
                "next_cursor": next_cursor,
                "next": next_url,
                "feed": feed,
            },
            # Items hold text, ids, lists of them and the links' scores (the only floats).
            plain=all(plain_float(s["score"]) for item in page for s in item["sessions"]),
        )
        if next_url:
            response.headers["Link"] = f'<{next_url}>; rel="next"'
        return response

    def months(self, query: Mapping[str, list[str]]) -> Response:
        """GET /api/months: launches per calendar month (UTC) of what /api/announcements gives for the same filters."""
        params = _single(query, MONTH_FILTERS)
        since = parse_date("since", params["since"]) if "since" in params else None
        until = parse_date("until", params["until"], end=True) if "until" in params else None
        try:
            check_range(since, until)
        except DateError as exc:
            raise BadRequest(str(exc), parameter="since") from None
        with self.reading() as session:
            per_month = announcements_per_month(
                session,
                service=_resolve(session, "service", params.get("service")),
                event=_resolve(session, "event", params.get("event")),
                region=_resolve(session, "region", params.get("region")),
                since=since,
                until=until,
                search=params.get("q"),
                session_code=params.get("session"),
            )
        months = [{"month": m.month, "announcements": m.announcements} for m in _every_month(per_month.months)]
        return json_response(
            {"months": months, "undated": per_month.undated, "total": per_month.total},
        )

    def announcement(self, raw: str, query: Mapping[str, list[str]]) -> Response:
        """GET /api/announcements/{id or key}."""
        _single(query, ())
        ident = parse_ident(raw)
        with self.reading() as session:
            record = get_announcement(session, ident)
        if record is None:
            return json_error(404, f"no announcement with id or key {str(ident)!r}")
        return json_response(self._record(record))

    def services(self, query: Mapping[str, list[str]]) -> Response:
        """GET /api/services: services with announcements (all=true: every known service)."""
        params = _single(query, ("all",))
        if params.get("all", "false") not in {"true", "false"}:
            raise BadRequest("parameter 'all' must be true or false", parameter="all")
        with self.reading() as session:
            services = list_services(session, with_counts=True)
        everything = params.get("all") == "true"
        return json_response(
            {
                "items": [
                    {
                        "slug": c.service.slug,
                        "name": c.service.name,
                        "category": c.service.category,
                        "announcements": c.announcements,
                        "feed": self._feed(f"services/{c.service.slug}"),
                    }
                    for c in services
                    if c.announcements or everything
                ]
            }
        )

    def events(self, query: Mapping[str, list[str]]) -> Response:
        """GET /api/events: events with their announcement counts and feeds."""
        _single(query, ())
        with self.reading() as session:
            events = list_events(session)
        return json_response(
            {
                "items": [
                    {
                        "slug": e.slug,
                        "name": e.name,
                        "announcements": e.announcements,
                        "feed": self._feed(f"events/{e.slug}"),
                    }
                    for e in events
                ]
            }
        )

    def sessions(self, query: Mapping[str, list[str]]) -> Response:
        """GET /api/sessions: conference sessions, optionally of one event."""
        params = _single(query, ("event", "limit"))
        limit = parse_limit(params.get("limit"), default=MAX_SESSIONS_LIMIT, maximum=MAX_SESSIONS_LIMIT)
        with self.reading() as session:
            sessions = list_sessions(session, event=_resolve(session, "event", params.get("event")))

        return json_response(
            {
                "items": [s.as_dict() for s in sessions[:limit]],
                "count": min(limit, len(sessions)),
                "total": len(sessions),
            }
        )
