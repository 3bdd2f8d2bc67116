"""`tracker serve`: feeds with ETag/Last-Modified/304 and gzip, a read-only JSON API, a browse page."""

from __future__ import annotations

from tracker.web.server import TrackerServer, make_server, serve_forever

__all__ = ["TrackerServer", "make_server", "serve_forever"]
