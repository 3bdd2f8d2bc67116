"""Sources: the only network code of `tracker` (HTTP(S), local paths and file:// URLs).

    from tracker.sources import Fetcher
    with Fetcher(settings.http, allowed_hosts=hosts_of(urls)) as fetcher:
        raw = fetcher.fetch(url, source=name, etag=etag, last_modified=last_modified)

Importing this package also keeps secrets out of the HTTP libraries' own log lines: httpx's
"HTTP Request: POST <url>" lines are masked (`tracker.redact.mask_url`) and httpcore's
connection traces are silenced (WARNING and up only), so `-v` shows no token or password.
"""

from __future__ import annotations

import logging
import re

import httpx

from tracker.redact import mask_url
from tracker.sources.fetch import FETCH_ERROR_KINDS, MAX_REDIRECTS, Fetcher, hosts_of, is_remote

log = logging.getLogger(__name__)

__all__ = ["FETCH_ERROR_KINDS", "MAX_REDIRECTS", "Fetcher", "MaskUrls", "hosts_of", "is_remote", "mask_urls_in"]


class MaskUrls(logging.Filter):
    """Masks URLs (user, password, secret query values) in the arguments of a log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's URL arguments; never drops a record."""
        if isinstance(record.args, tuple):
            record.args = tuple(_masked(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _masked(value) for key, value in record.args.items()}
        if isinstance(record.msg, str):
            record.msg = mask_urls_in(record.msg)
        return True


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")


def mask_urls_in(text: str) -> str:
    """The text with every URL in it masked."""
    return _URL.sub(lambda match: mask_url(match.group()), text) if "://" in text else text


def _masked(value: object) -> object:
    if isinstance(value, httpx.URL):
        return mask_url(str(value))
    return mask_urls_in(value) if isinstance(value, str) else value


def _quiet_http_libraries() -> None:
    """Install the masking filter on httpx's logger once; httpcore's traces only from WARNING up."""
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, MaskUrls) for f in httpx_log.filters):
        httpx_log.addFilter(MaskUrls())
    logging.getLogger("httpcore").setLevel(logging.WARNING)


_quiet_http_libraries()
