"""The OpenAPI 3.1 description of the JSON API, served at /api/openapi.json."""

from __future__ import annotations

from typing import Any

from tracker import __version__
from tracker.textutil import DATE_RANGE
from tracker.web.api import (
    DEFAULT_LIMIT,
    MAX_ID,
    MAX_LIMIT,
    MAX_MONTHS,
    MAX_SESSIONS_LIMIT,
    MAX_TEXT,
)


def _param(name: str, description: str, schema: dict[str, Any], where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "description": description, "schema": schema}


def _text(name: str, description: str) -> dict[str, Any]:
    return _param(name, description, {"type": "string", "minLength": 1, "maxLength": MAX_TEXT})


def _ok(schema_ref: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "ETag": {"schema": {"type": "string"}, "description": "send back as If-None-Match for a 304"},
            "Cache-Control": {"schema": {"type": "string"}},
        },
        "content": {"application/json": {"schema": {"$ref": schema_ref}}},
    }


ERRORS = {
    "304": {"description": "Not modified: the If-None-Match ETag is current; no body"},
    "400": {
        "description": "A parameter is unknown, repeated, empty, too long, out of range, has control "
        "characters or is malformed, or a service or event name is unknown; the error names "
        "it (and, for a name, the closest known names in `suggestions`)",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    },
}


def _list_of(properties: dict[str, Any]) -> dict[str, Any]:
    """The schema of a list answer: {"items": [objects with these properties]}."""
    return {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "object", "properties": properties}}},
    }


def spec() -> dict[str, Any]:
    """The OpenAPI document."""
    announcement_params = [
        _text(
            "service",
            "service slug, name or alias, e.g. amazon-s3, Amazon S3, AWS S3 or S3 "
            "(an unknown name is a 400 with suggestions)",
        ),
        _text("event", "event slug or name, e.g. aws-reinvent-2023, AWS re:Invent 2023 or reinvent 2023"),
        _text("region", "an AWS partition or Region the launch is about, e.g. GovCloud or AWS China (Beijing) Region"),
        _text("session", "session code, e.g. DAT342: announcements covered by that session"),
        _param(
            "since",
            f"announced on or after: YYYY-MM-DD or an ISO 8601 date-time (UTC when no zone), {DATE_RANGE}",
            {"type": "string", "examples": ["2023-11-26", "2023-11-26T08:00:00Z"]},
        ),
        _param(
            "until",
            f"announced before: a date-time, or a date (that whole day included), {DATE_RANGE}",
            {"type": "string", "examples": ["2023-12-01"]},
        ),
        _text("q", "full-text search in title and summary: every word, stemmed, the last one as a prefix"),
        _param(
            "limit",
            f"page size (default {DEFAULT_LIMIT})",
            {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        ),
        _param("cursor", "next_cursor of the previous page (with the same filters)", {"type": "string"}),
    ]
    string_or_null = {"type": ["string", "null"]}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tracker: AWS announcements",
            "version": __version__,
            "description": "Read-only API over the tracked AWS announcements. Responses carry ETags and "
            "Cache-Control; unknown parameters, bad dates and oversized limits are 400 errors.",
        },
        "paths": {
            "/api/announcements": {
                "get": {
                    "summary": "Announcements, newest first, filtered and paginated by cursor",
                    "operationId": "listAnnouncements",
                    "parameters": announcement_params,
                    "responses": {
                        "200": _ok("#/components/schemas/AnnouncementPage", "a page of announcements"),
                        **ERRORS,
                    },
                }
            },
            "/api/announcements/{id}": {
                "get": {
                    "summary": "One announcement by numeric id or stable key",
                    "operationId": "getAnnouncement",
                    "parameters": [
                        _param(
                            "id",
                            f"numeric id (1 to {MAX_ID}) or stable key",
                            {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                            where="path",
                        )
                    ],
                    "responses": {
                        "200": _ok("#/components/schemas/Announcement", "the announcement"),
                        **ERRORS,
                        "404": {
                            "description": "no such announcement",
                            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                        },
                    },
                }
            },
            "/api/services": {
                "get": {
                    "summary": "Services with announcements, most announced first",
                    "operationId": "listServices",
                    "parameters": [
                        _param(
                            "all",
                            "true: include services without announcements",
                            {"type": "string", "enum": ["true", "false"]},
                        )
                    ],
                    "responses": {"200": _ok("#/components/schemas/ServiceList", "services"), **ERRORS},
                }
            },
            "/api/events": {
                "get": {
                    "summary": "Events with their announcement counts",
                    "operationId": "listEvents",
                    "parameters": [],
                    "responses": {"200": _ok("#/components/schemas/EventList", "events"), **ERRORS},
                }
            },
            "/api/months": {
                "get": {
                    "summary": "Launches per calendar month (UTC) for the filters of /api/announcements",
                    "description": "Every month from the first to the last with a launch, oldest first, months "
                    f"without one at 0 (a span over {MAX_MONTHS} months lists only the months with launches).",
                    "operationId": "countAnnouncementsPerMonth",
                    "parameters": [p for p in announcement_params if p["name"] not in {"limit", "cursor"}],
                    "responses": {"200": _ok("#/components/schemas/MonthCounts", "counts per month"), **ERRORS},
                }
            },
            "/api/sessions": {
                "get": {
                    "summary": "Conference sessions with their video links",
                    "operationId": "listSessions",
                    "parameters": [
                        _text("event", "event slug or name"),
                        _param(
                            "limit",
                            "at most this many",
                            {"type": "integer", "minimum": 1, "maximum": MAX_SESSIONS_LIMIT},
                        ),
                    ],
                    "responses": {"200": _ok("#/components/schemas/SessionList", "sessions"), **ERRORS},
                }
            },
        },
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["status", "message"],
                            "properties": {
                                "status": {"type": "integer"},
                                "message": {"type": "string"},
                                "parameter": {"type": "string"},
                                "allowed": {"type": "array"},
                                "suggestions": {"type": "array", "items": {"type": "string"}},
                            },
                        }
                    },
                },
                "Feed": {
                    "type": ["object", "null"],
                    "description": "root-relative URLs of a published feed",
                    "properties": {"atom": {"type": "string"}, "rss": {"type": "string"}, "json": {"type": "string"}},
                },
                "SessionLink": {
                    "type": "object",
                    "properties": {
                        "code": string_or_null,
                        "title": {"type": "string"},
                        "url": string_or_null,
                        "kind": {"type": "string"},
                        "method": {"type": "string"},
                        "score": {"type": "number"},
                    },
                },
                "Announcement": {
                    "type": "object",
                    "required": ["id", "key", "title", "services", "sessions"],
                    "properties": {
                        "id": {"type": "integer"},
                        "key": {"type": "string"},
                        "title": {"type": "string"},
                        "summary": {"type": "string"},
                        "url": string_or_null,
                        "announced_at": {"type": ["string", "null"], "format": "date-time"},
                        "updated_at": {"type": ["string", "null"], "format": "date-time"},
                        "status": string_or_null,
                        "event": string_or_null,
                        "event_slug": string_or_null,
                        "services": {"type": "array", "items": {"type": "string"}},
                        "service_slugs": {"type": "array", "items": {"type": "string"}},
                        "sessions": {"type": "array", "items": {"$ref": "#/components/schemas/SessionLink"}},
                        "sources": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "AnnouncementPage": {
                    "type": "object",
                    "required": ["items", "count", "limit", "next_cursor"],
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Announcement"}},
                        "count": {"type": "integer"},
                        "limit": {"type": "integer"},
                        "next_cursor": string_or_null,
                        "next": string_or_null,
                        "feed": {"$ref": "#/components/schemas/Feed"},
                    },
                },
                "ServiceList": _list_of(
                    {
                        "slug": {"type": "string"},
                        "name": {"type": "string"},
                        "category": string_or_null,
                        "announcements": {"type": "integer"},
                        "feed": {"$ref": "#/components/schemas/Feed"},
                    }
                ),
                "EventList": _list_of(
                    {
                        "slug": {"type": "string"},
                        "name": {"type": "string"},
                        "announcements": {"type": "integer"},
                        "feed": {"$ref": "#/components/schemas/Feed"},
                    }
                ),
                "MonthCounts": {
                    "type": "object",
                    "required": ["months", "undated", "total"],
                    "properties": {
                        "months": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["month", "announcements"],
                                "properties": {
                                    "month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                    "announcements": {"type": "integer"},
                                },
                            },
                        },
                        "undated": {"type": "integer", "description": "announcements without a date (no month)"},
                        "total": {"type": "integer"},
                    },
                },
                "SessionList": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"type": "object"}},
                        "count": {"type": "integer"},
                        "total": {"type": "integer"},
                    },
                },
            }
        },
    }
