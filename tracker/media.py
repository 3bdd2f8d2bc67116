"""The media types of published files: one table for the files `tracker serve` answers with and
the objects published to a bucket, so a reader gets the same Content-Type from either."""

from __future__ import annotations

from pathlib import PurePosixPath

CONTENT_TYPES = {
    ".atom": "application/atom+xml; charset=utf-8",
    ".rss": "application/rss+xml; charset=utf-8",
    ".json": "application/feed+json; charset=utf-8",
    ".opml": "text/x-opml; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".md": "text/plain; charset=utf-8",
}
DEFAULT_TYPE = "application/octet-stream"


def content_type(rel: str) -> str:
    """The Content-Type of a published file, by its suffix."""
    return CONTENT_TYPES.get(PurePosixPath(rel).suffix, DEFAULT_TYPE)
