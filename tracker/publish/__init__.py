"""Publishing: Atom, RSS, JSON Feed and OPML from announcement records, written only when changed."""

from __future__ import annotations

from tracker.publish.feeds import (
    FeedContext,
    FeedSpec,
    build_feed_files,
    entry_id,
    render_atom,
    render_json,
    render_opml,
    render_rss,
)
from tracker.publish.writer import PublishReport, write_files

__all__ = [
    "FeedContext",
    "FeedSpec",
    "PublishReport",
    "build_feed_files",
    "entry_id",
    "render_atom",
    "render_json",
    "render_opml",
    "render_rss",
    "write_files",
]
