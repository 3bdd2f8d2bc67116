"""Publishing: Atom, RSS, JSON Feed and OPML from announcement records, written only when changed."""

from __future__ import annotations

from tracker.publish.feeds import (
    FeedContext,
    FeedSpec,
    Paging,
    archive_pages,
    build_feed_files,
    entry_id,
    render_atom,
    render_index_html,
    render_json,
    render_opml,
    render_rss,
    sanitize_html,
)
from tracker.publish.writer import PublishReport, write_files

__all__ = [
    "FeedContext",
    "FeedSpec",
    "Paging",
    "PublishReport",
    "archive_pages",
    "build_feed_files",
    "entry_id",
    "render_atom",
    "render_index_html",
    "render_json",
    "render_opml",
    "render_rss",
    "sanitize_html",
    "write_files",
]
