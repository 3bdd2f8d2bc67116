"""Sources: the only network code of `tracker` (HTTP(S), local paths and file:// URLs).

    from tracker.sources import Fetcher
    with Fetcher(settings.http, allowed_hosts=hosts_of(urls)) as fetcher:
        raw = fetcher.fetch(url, source=name, etag=etag, last_modified=last_modified)
"""

from __future__ import annotations

import logging

from tracker.sources.fetch import FETCH_ERROR_KINDS, MAX_REDIRECTS, Fetcher, hosts_of, is_remote

log = logging.getLogger(__name__)

__all__ = ["FETCH_ERROR_KINDS", "MAX_REDIRECTS", "Fetcher", "hosts_of", "is_remote"]
