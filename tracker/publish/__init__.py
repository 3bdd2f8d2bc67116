"""Publishing: Atom, RSS, JSON Feed and OPML from announcement records, written only when changed."""

from __future__ import annotations

from tracker.publish.feeds import (
    FeedBuild,
    FeedContext,
    FeedSpec,
    Paging,
    archive_pages,
    build_feed_files,
    build_feeds,
    entry_id,
    render_atom,
    render_index_html,
    render_json,
    render_opml,
    render_rss,
    sanitize_html,
)
from tracker.publish.writer import (
    FeedWriter,
    PublishReport,
    forget_fingerprints,
    load_fingerprints,
    save_fingerprints,
    write_files,
)

__all__ = [
    "FeedBuild",
    "FeedContext",
    "FeedWriter",
    "FeedSpec",
    "Paging",
    "PublishReport",
    "archive_pages",
    "build_feed_files",
    "build_feeds",
    "entry_id",
    "forget_fingerprints",
    "load_fingerprints",
    "render_atom",
    "render_index_html",
    "render_json",
    "render_opml",
    "render_rss",
    "sanitize_html",
    "save_fingerprints",
    "write_files",
]
