"""The only network code of `tracker`: a source's bytes over HTTP(S) or from a local file.

`Fetcher.fetch` returns a `RawDocument` and never parses content. Over HTTP it sends a
conditional GET when given the previous ETag/Last-Modified, follows at most
`MAX_REDIRECTS` redirects (checking every hop against `allowed_hosts`), and retries transient
failures (connect errors, timeouts, 429 and 5xx) with exponential backoff and jitter, honouring
`Retry-After` up to `http.max_retry_wait` (a server asking for a longer pause is not retried
this run: the source fails and the next run tries again).

Bounded by construction, whatever the server does:

* hosts: only `allowed_hosts`, the hosts of the configured sources, are fetched (an empty set
  or None allows no remote host, never "any host"), so an item link of a local feed cannot make
  the fetcher call 127.0.0.1 or a cloud metadata service; after DNS, link-local and metadata
  addresses are refused unless the source names that address itself (`tracker.sources.net`);
* time: every socket read, write and TLS handshake gets at most the time left before
  `http.max_seconds`, so a server dripping headers or body one byte at a time is cut off at
  the deadline (not retried: it would hold the run that much longer);
* memory: the body is read raw and decoded step by step under the `http.max_bytes` cap
  (`tracker.sources.decode`): a compression bomb is refused after at most the cap; stacked
  (``gzip, gzip``) or unknown content codings are refused outright.

Politeness: robots.txt is read once per host and fetcher (one run) with protego and honoured
for the configured user agent (with a `RobotsCache`, the last copy is asked for conditionally), including its Crawl-delay; requests to one host are spaced by
at least `http.min_interval` seconds. As RFC 9309 says, its first 500 KiB are parsed (a longer
file is cut, not ignored) and up to five redirects are followed, to other hosts too (address
checked: a public site cannot redirect it into the local network); one answering 4xx means
"no rules", one answering 5xx or not at all means "everything disallowed" (§2.3.1.4), so the
source fails with kind `robots` (or `connect`/`timeout`) until the server recovers.

URLs in errors and log lines are masked (`tracker.redact.mask_url`: no user, password or
secret query value), and httpx's own request log lines are masked too (see
`tracker.sources.__init__`).

`RawDocument.url` is always the URL (or path) the caller asked for, not the final URL after
redirects: it is the source's identity, so a source that moves behind a redirect keeps its
documents, cache validators and archive entries. The final URL is logged.

Local paths and file:// URLs are not subject to `allowed_hosts`; their ETag is a hash of
(size, mtime_ns) and their Last-Modified the mtime, so passing back the previous values
gives `not_modified=True` for an untouched file, as a 304 would.

Every failure is a `FetchError` whose `kind` is one of `FETCH_ERROR_KINDS`:

    connect        no connection, or it broke before the response was complete
    timeout        connecting or reading took longer than http.connect_timeout / http.timeout, or the
                   whole response longer than http.max_seconds
    http           an HTTP error status (after retries for 429 and 5xx), an undecodable body or a
                   refused Content-Encoding (stacked or unknown)
    too-large      the body is larger than http.max_bytes
    redirect       too many redirects, a redirect loop or an unusable Location
    not-found      HTTP 404/410, a missing or unreadable local file, an unsupported URL scheme
    forbidden-host the URL or a redirect target is on a host outside `allowed_hosts`, or its host
                   resolves to a link-local or cloud metadata address
    robots         robots.txt disallows the URL for our user agent (or is failing with 5xx)
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import mimetypes
import random
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Protocol

import httpx
from protego import Protego

from tracker.config import USER_AGENT, HttpSettings
from tracker.errors import FailureKind, FetchError
from tracker.items import CachedRobots, RawDocument
from tracker.redact import mask_url
from tracker.sources import net
from tracker.sources.decode import ACCEPT_ENCODING, BodyDecoder, DecodeError, coding_of

log = logging.getLogger(__name__)

FETCH_ERROR_KINDS = (
    "connect",
    "timeout",
    "http",
    "too-large",
    "redirect",
    "not-found",
    "forbidden-host",
    "robots",
)
MAX_REDIRECTS = 5
ROBOTS_MAX_BYTES = 500 * 1024  # RFC 9309: parse at least 500 KiB; more than that is not a robots.txt
MAX_CRAWL_DELAY = 60.0  # a Crawl-delay above this is capped, so one host cannot stall a run for hours
REMOTE_SCHEMES = ("http", "https")
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, "
    "application/feed+json;q=0.9, text/html;q=0.8, application/xhtml+xml;q=0.8, "
    "text/markdown;q=0.7, application/json;q=0.6, text/plain;q=0.5, */*;q=0.1"
)
# Suffixes `mimetypes` does not know (or knows under a non-standard name) on every platform.
_CONTENT_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".atom": "application/atom+xml",
    ".rss": "application/rss+xml",
    ".xml": "application/xml",
    ".html": "text/html",
    ".htm": "text/html",
    ".json": "application/json",
}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_RETRY_STATUSES = frozenset({429}) | frozenset(range(500, 600))


def is_remote(url: str) -> bool:
    """True for an http:// or https:// URL, False for a local path or a file:// URL."""
    match = _SCHEME.match(url.strip())
    return match is not None and match.group(1).lower() in REMOTE_SCHEMES


def hosts_of(urls: Iterable[str]) -> set[str]:
    """The lower-cased host names (no port) of the remote URLs among `urls`."""
    hosts: set[str] = set()
    for url in urls:
        if is_remote(url):
            host = urllib.parse.urlsplit(url.strip()).hostname
            if host:
                hosts.add(host.lower())
    return hosts


def _fail(message: str, *, source: str | None, url: str | None, status: int | None = None, kind: str) -> FetchError:
    """A FetchError naming the source and its URL without credentials or secret parameters."""
    return FetchError(message, source=source, url=mask_url(url) if url else url, status=status, kind=kind)


class _Retry(Exception):
    """An attempt failed in a way that may succeed later."""

    def __init__(self, error: FetchError, hint: str, retry_after: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error  # its message says what happened; `hint` says what to check
        self.hint = hint
        self.retry_after = retry_after


class RobotsCache(Protocol):
    """Where a fetcher keeps robots.txt between runs, so that it is asked for conditionally."""

    def load(self, origin: str) -> CachedRobots | None:
        """The kept robots.txt of an origin with its validators, if any."""

    def save(self, origin: str, body: bytes, etag: str | None, last_modified: str | None) -> None:
        """Keep a freshly fetched robots.txt."""


class Fetcher:
    """Fetches sources: one pooled HTTP/1.1 client, reused for every remote URL."""

    def __init__(
        self,
        http: HttpSettings,
        *,
        allowed_hosts: Collection[str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        robots_cache: RobotsCache | None = None,
    ) -> None:
        self.settings = http
        self._robots_cache = robots_cache
        # Only the hosts named here (the configured sources' hosts) are fetched; None or an
        # empty collection allows no remote host at all, never "any host".
        self.allowed_hosts = frozenset(h.lower().strip("[]") for h in allowed_hosts or ())
        self._sleep = sleep
        self._clock = time.monotonic
        self._last_request: dict[str, float] = {}  # host -> monotonic time of its last request
        self._robots: dict[str, Protego | None] = {}  # scheme://host:port -> rules (None: no rules)
        self._crawl_delay: dict[str, float] = {}  # host -> Crawl-delay from its robots.txt
        # Safe to share between threads (tracker.sources.prefetch): requests to one host are
        # paced under that host's lock, and each origin's robots.txt is read once under its own.
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._user_agent = http.user_agent.strip() or USER_AGENT
        self._scope = net.Scope(self._clock)
        # Made at the first remote request: its TLS context (the CA bundle read) costs more than
        # a run over local files does.
        self._http: httpx.Client | None = None
        self._http_guard = threading.Lock()

    @property
    def _client(self) -> httpx.Client:
        """The pooled HTTP client, made once (by whichever thread asks first)."""
        client = self._http
        if client is None:
            with self._http_guard:
                if self._http is None:
                    self._http = self._make_client()
                client = self._http
        return client

    def _make_client(self) -> httpx.Client:
        client = httpx.Client(
            http1=True,
            http2=False,
            # Only the codings BodyDecoder can decode under the byte cap.
            headers={"User-Agent": self._user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING},
            timeout=httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout),
            # Redirects are followed by hand (see _attempt) so each hop is host-checked
            # and no intermediate body is read; max_redirects is the same limit.
            follow_redirects=False,
            max_redirects=MAX_REDIRECTS,
        )
        # Every socket under the client: addresses checked after DNS, the deadline on every read.
        net.install(client, self._scope, trusted=self.allowed_hosts)
        return client

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        with self._http_guard:
            if self._http is not None:
                self._http.close()

    # -- entry point -------------------------------------------------------------------

    def fetch(
        self,
        url: str,
        *,
        source: str = "local",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> RawDocument:
        """Fetch one URL or local path; a 304 (or an unchanged file) gives `not_modified=True`."""
        url = url.strip()
        match = _SCHEME.match(url)
        scheme = match.group(1).lower() if match else ""
        # A one-letter "scheme" is a Windows drive (C:\...), not a URL.
        if scheme in REMOTE_SCHEMES:
            return self._fetch_remote(url, source=source, etag=etag, last_modified=last_modified)
        if scheme == "file":
            return self._fetch_file(_file_url_path(url), url, source=source, etag=etag, last_modified=last_modified)
        if scheme and len(scheme) > 1 and "://" in url:
            raise _fail(
                f"unsupported URL scheme {scheme!r}: use http://, https://, file:// or a local path",
                source=source,
                url=url,
                kind=FailureKind.NOT_FOUND,
            )
        return self._fetch_file(Path(url).expanduser(), url, source=source, etag=etag, last_modified=last_modified)

    # -- local files -------------------------------------------------------------------

    def _fetch_file(
        self, path: Path, url: str, *, source: str, etag: str | None, last_modified: str | None
    ) -> RawDocument:
        """Read a local file; its validators come from its size and modification time."""
        try:
            stat = path.stat()
        except FileNotFoundError:
            raise _fail(
                f"file not found: {path} (check the path; relative paths are from {Path.cwd()})",
                source=source,
                url=url,
                kind=FailureKind.NOT_FOUND,
            ) from None
        except OSError as exc:
            raise _fail(
                f"cannot read {path}: {exc.strerror}", source=source, url=url, kind=FailureKind.NOT_FOUND
            ) from None
        if not path.is_file():
            raise _fail(f"not a file: {path}", source=source, url=url, kind=FailureKind.NOT_FOUND)
        file_etag = _file_etag(stat.st_size, stat.st_mtime_ns)
        file_modified = email.utils.formatdate(stat.st_mtime, usegmt=True)
        if _file_unchanged(file_etag, stat.st_mtime, etag, last_modified):
            log.debug("%s: %s unchanged", source, path)
            return RawDocument(
                url=url,
                body=b"",
                source=source,
                content_type=_guess_type(path),
                fetched_at=_now(),
                etag=file_etag,
                last_modified=file_modified,
                not_modified=True,
            )
        limit = self.settings.max_bytes
        if stat.st_size > limit:
            raise _too_large(limit, source, url, declared=stat.st_size)
        try:
            with path.open("rb") as fh:
                # Read one byte past the cap: the file may have grown since stat().
                body = fh.read(limit + 1)
        except OSError as exc:
            raise _fail(
                f"cannot read {path}: {exc.strerror}", source=source, url=url, kind=FailureKind.NOT_FOUND
            ) from None
        if len(body) > limit:
            raise _too_large(limit, source, url)
        refused = _not_a_document(body)
        if refused:
            raise _fail(
                f"{path} {refused}; tracker reads feeds, HTML, markdown, CSV and JSON files",
                source=source,
                url=url,
                kind=FailureKind.CONTENT,
            )
        return RawDocument(
            url=url,
            body=body,
            source=source,
            content_type=_guess_type(path),
            fetched_at=_now(),
            etag=file_etag,
            last_modified=file_modified,
        )

    # -- HTTP --------------------------------------------------------------------------

    def _fetch_remote(self, url: str, *, source: str, etag: str | None, last_modified: str | None) -> RawDocument:
        """GET with retries; each attempt follows redirects itself."""
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL as exc:
            raise _fail(
                f"invalid URL: {_scrub(exc, [url])}; check the source's url in sources.toml",
                source=source,
                url=url,
                kind=FailureKind.NOT_FOUND,
            ) from None
        if not parsed.host:
            raise _fail("invalid URL: no host name", source=source, url=url, kind=FailureKind.NOT_FOUND)
        self._check_host(parsed, source=source, url=url)
        if self.settings.robots:
            self._check_robots(parsed, source=source, url=url)
        headers: dict[str, str] = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._get(
            url, headers, source=source, etag=etag, last_modified=last_modified, limit=self.settings.max_bytes
        )

    def _get(
        self,
        url: str,
        headers: dict[str, str],
        *,
        source: str,
        etag: str | None,
        last_modified: str | None,
        limit: int,
        robots: bool = False,
    ) -> RawDocument:
        """The retry loop around `_attempt`; `robots`: a robots.txt (truncated at the cap, redirects anywhere)."""
        attempts = 1 + max(0, self.settings.retries)
        for attempt in range(1, attempts + 1):
            try:
                return self._attempt(
                    url, headers, source=source, etag=etag, last_modified=last_modified, limit=limit, robots=robots
                )
            except _Retry as retry:
                error = retry.error
                cap = max(self.settings.max_retry_wait, 0.0)
                if retry.retry_after is not None and retry.retry_after > cap:
                    # Waiting less than the server asked would be impolite, waiting longer stalls
                    # every other source: give up on this one until the next run.
                    raise _fail(
                        f"{error.message}; the server asked to wait {retry.retry_after:g} s (Retry-After), "
                        f"more than http.max_retry_wait ({cap:g} s): not retried in this run",
                        source=source,
                        url=url,
                        status=error.status,
                        kind=error.kind,
                    ) from None
                if attempt == attempts:
                    suffix = "attempt" if attempts == 1 else "attempts"
                    raise _fail(
                        f"{error.message} after {attempts} {suffix}; {retry.hint}",
                        source=source,
                        url=url,
                        status=error.status,
                        kind=error.kind,
                    ) from None
                delay = self._delay(attempt, retry.retry_after)
                log.warning(
                    "%s: %s (attempt %d of %d); retrying in %.1f s", source, error.message, attempt, attempts, delay
                )
                self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before the next attempt: the server's Retry-After, else backoff with jitter."""
        cap = max(self.settings.max_retry_wait, 0.0)
        if retry_after is not None:
            return min(max(retry_after, 0.0), cap)
        base = max(self.settings.backoff, 0.0) * 2.0 ** (attempt - 1)
        # Jitter spreads the retries of many trackers hitting the same failing server.
        return min(base * random.uniform(1.0, 1.5), cap)

    # -- politeness --------------------------------------------------------------------

    def _lock(self, key: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def _pace(self, target: httpx.URL) -> None:
        """Wait until this host's last request is at least min_interval (or its Crawl-delay) ago."""
        host = target.host.lower()
        with self._lock(f"host:{host}"):
            self._pace_locked(host)

    def _pace_locked(self, host: str) -> None:
        interval = max(self.settings.min_interval, self._crawl_delay.get(host, 0.0), 0.0)
        last = self._last_request.get(host)
        if last is not None and interval > 0:
            wait = last + interval - self._clock()
            if wait > 0:
                log.debug("waiting %.2f s before the next request to %s", wait, host)
                self._sleep(wait)
        self._last_request[host] = self._clock()

    def _check_robots(self, target: httpx.URL, *, source: str, url: str) -> None:
        """Raise a `robots` FetchError when the host's robots.txt disallows the URL for us."""
        origin = f"{target.scheme}://{target.netloc.decode('ascii')}"
        with self._lock(f"robots:{origin}"):
            if origin not in self._robots:
                self._robots[origin] = self._load_robots(origin, target, source=source, url=url)
        rules = self._robots[origin]
        if rules is not None and not rules.can_fetch(url, self._user_agent):
            raise _fail(
                f"robots.txt of {origin} disallows this URL for user agent {self._user_agent!r}; "
                "remove the source or ask the site's owner",
                source=source,
                url=url,
                kind=FailureKind.ROBOTS,
            )

    def _load_robots(self, origin: str, target: httpx.URL, *, source: str, url: str) -> Protego | None:
        """The parsed robots.txt of an origin; None when it has none (RFC 9309 "unavailable": 4xx and the like).

        RFC 9309: its first 500 KiB are parsed (a longer file is cut, not refused), up to five
        redirects are followed, to other hosts too; 5xx or no answer means "disallow all".
        """
        robots_url = f"{origin}/robots.txt"
        cached = self._robots_cache.load(origin) if self._robots_cache else None
        etag, last_modified = (cached.etag, cached.last_modified) if cached else (None, None)
        conditional = {k: v for k, v in (("If-None-Match", etag), ("If-Modified-Since", last_modified)) if v}
        try:
            raw = self._get(
                robots_url,
                conditional,
                source=source,
                etag=etag,
                last_modified=last_modified,
                limit=ROBOTS_MAX_BYTES,
                robots=True,
            )
        except FetchError as exc:
            if exc.kind in (FailureKind.CONNECT, FailureKind.TIMEOUT):
                # Unreachable (RFC 9309 §2.3.1.4): the source itself would fail the same way.
                raise _fail(f"robots.txt: {exc.message}", source=source, url=url, kind=exc.kind) from None
            if exc.status is not None and exc.status >= 500:
                raise _fail(
                    f"robots.txt of {origin} answers {exc.status}: the site is treated as disallowed "
                    "until it recovers (RFC 9309)",
                    source=source,
                    url=url,
                    status=exc.status,
                    kind=FailureKind.ROBOTS,
                ) from None
            log.info("%s: no usable robots.txt at %s (%s); no rules apply", source, robots_url, exc.message)
            return None
        if raw.not_modified and cached:
            body = cached.body
        else:
            body = raw.body
            if self._robots_cache:
                self._robots_cache.save(origin, body, raw.etag, raw.last_modified)
        text = body.decode("utf-8", errors="replace")
        try:
            rules = Protego.parse(text)
        except Exception as exc:  # noqa: BLE001 - an unparseable robots.txt means no rules, not a crash
            log.warning("%s: robots.txt at %s could not be parsed (%s); no rules apply", source, robots_url, exc)
            return None
        delay = rules.crawl_delay(self._user_agent)
        if delay:
            self._crawl_delay[target.host.lower()] = min(float(delay), MAX_CRAWL_DELAY)
        return rules

    def _check_host(self, target: httpx.URL, *, source: str, url: str, redirected: bool = False) -> None:
        """Refuse a host that no configured source names (a redirect's target too)."""
        host = target.host.lower()
        if host not in self.allowed_hosts:
            where = f" (redirected to {mask_url(str(target))})" if redirected else ""
            raise _fail(
                f"host {host!r} is not allowed{where}; only the hosts of the sources in sources.toml are fetched "
                f"({', '.join(sorted(self.allowed_hosts)) or 'none: no source is remote'}); "
                "add a source on that host if it should be fetched",
                source=source,
                url=url,
                kind=FailureKind.FORBIDDEN_HOST,
            )

    def _attempt(
        self,
        url: str,
        headers: dict[str, str],
        *,
        source: str,
        etag: str | None,
        last_modified: str | None,
        limit: int,
        robots: bool = False,
    ) -> RawDocument:
        """One attempt: the request and its redirect chain. Raises _Retry for transient failures."""
        request = self._client.build_request("GET", url, headers=headers)
        chain = [str(request.url)]
        max_seconds = max(self.settings.max_seconds, 0.0)
        deadline = self._clock() + max_seconds
        with self._scope.request(deadline, robots=robots) as scope:
            try:
                while True:
                    self._pace(request.url)
                    response = self._client.send(request, stream=True, follow_redirects=False)
                    try:
                        if response.has_redirect_location:
                            request = self._next_hop(response, chain, source=source, url=url, robots=robots)
                            continue
                        return self._read(
                            response,
                            url,
                            source=source,
                            etag=etag,
                            last_modified=last_modified,
                            limit=limit,
                            deadline=deadline,
                            truncate=robots,
                        )
                    finally:
                        response.close()
            except httpx.TimeoutException as exc:
                if scope.expired or self._clock() >= deadline:
                    # Each read may beat http.timeout, yet a dripping server must not hold the run:
                    # the whole response (headers and body) has max_seconds. Not retried: it
                    # would only hold the run lock that much longer.
                    raise _fail(
                        f"the response took longer than {max_seconds:g} s (http.max_seconds) and was cut off; "
                        "the server is sending very slowly: try again later or raise http.max_seconds",
                        source=source,
                        url=url,
                        kind=FailureKind.TIMEOUT,
                    ) from None
                if isinstance(exc, httpx.ConnectTimeout):
                    phase, seconds, setting = "connecting", self.settings.connect_timeout, "http.connect_timeout"
                else:
                    phase, seconds, setting = "waiting for the server", self.settings.timeout, "http.timeout"
                raise _Retry(
                    _fail(f"timed out {phase} ({seconds:g} s)", source=source, url=url, kind=FailureKind.TIMEOUT),
                    f"check that the server is up, or raise {setting}",
                ) from None
            except net.AddressRefused as exc:
                if robots:
                    raise _fail(
                        f"robots.txt redirect refused: {exc}", source=source, url=url, kind=FailureKind.REDIRECT
                    ) from None
                raise _fail(f"refused: {exc}", source=source, url=url, kind=FailureKind.FORBIDDEN_HOST) from None
            except httpx.RemoteProtocolError as exc:
                if "location header" in str(exc).lower():
                    raise _fail(
                        f"unusable redirect: {_scrub(exc, chain)}", source=source, url=url, kind=FailureKind.REDIRECT
                    ) from None
                raise _Retry(
                    _fail(
                        f"the connection broke before the response was complete ({_scrub(exc, chain)})",
                        source=source,
                        url=url,
                        kind=FailureKind.CONNECT,
                    ),
                    "check the network or try again later",
                ) from None
            except httpx.UnsupportedProtocol as exc:
                raise _fail(
                    f"unsupported URL: {_scrub(exc, chain)}", source=source, url=url, kind=FailureKind.NOT_FOUND
                ) from None
            except (httpx.DecodingError, DecodeError) as exc:
                raise _fail(
                    f"the body could not be decoded: {_scrub(exc, chain)}; tracker accepts one Content-Encoding, "
                    "gzip or deflate: ask the site's owner to fix the server, or disable the source",
                    source=source,
                    url=url,
                    kind=FailureKind.HTTP,
                ) from None
            except (httpx.ConnectError, httpx.ProxyError) as exc:
                host = urllib.parse.urlsplit(mask_url(chain[-1])).netloc
                raise _Retry(
                    _fail(
                        f"could not connect to {host} ({type(exc).__name__}: {_scrub(exc, chain) or 'no detail'})",
                        source=source,
                        url=url,
                        kind=FailureKind.CONNECT,
                    ),
                    "check the URL's host and port, DNS and the network",
                ) from None
            except httpx.TransportError as exc:
                raise _Retry(
                    _fail(
                        f"the connection failed ({type(exc).__name__}: {_scrub(exc, chain) or 'no detail'})",
                        source=source,
                        url=url,
                        kind=FailureKind.CONNECT,
                    ),
                    "check the network or try again later",
                ) from None

    def _next_hop(
        self, response: httpx.Response, chain: list[str], *, source: str, url: str, robots: bool = False
    ) -> httpx.Request:
        """The request a redirect asks for, after the limit, scheme and host checks."""
        request = response.next_request
        if request is None:  # pragma: no cover - httpx sets it whenever has_redirect_location
            raise _fail("redirect without a usable Location", source=source, url=url, kind=FailureKind.REDIRECT)
        target = str(request.url)
        if request.url.scheme not in REMOTE_SCHEMES:
            raise _fail(
                f"redirected to an unsupported URL {mask_url(target)}",
                source=source,
                url=url,
                status=response.status_code,
                kind=FailureKind.REDIRECT,
            )
        chain.append(target)
        if len(chain) - 1 > MAX_REDIRECTS:
            loop = len(set(chain)) < len(chain)
            what = "a redirect loop" if loop else f"more than {MAX_REDIRECTS} redirects"
            raise _fail(
                f"{what}: {' -> '.join(mask_url(u) for u in chain)}; check the URL",
                source=source,
                url=url,
                status=response.status_code,
                kind=FailureKind.REDIRECT,
            )
        if robots:
            # RFC 9309 §2.3.1.2: robots.txt redirects are followed across hosts. The address
            # checks of tracker.sources.net still apply; a site on a loopback or private address
            # (a test, an intranet) may redirect to one, a public site may not.
            if len(chain) == 2:
                peer = _peer_ip(response)
                self._scope.current.private_ok = peer is not None and not peer.is_global
        else:
            self._check_host(request.url, source=source, url=url, redirected=True)
        log.debug("%s: %d redirect to %s", source, response.status_code, mask_url(target))
        return request

    def _read(
        self,
        response: httpx.Response,
        url: str,
        *,
        source: str,
        etag: str | None,
        last_modified: str | None,
        limit: int,
        deadline: float,
        truncate: bool = False,
    ) -> RawDocument:
        """A final (non-redirect) response as a RawDocument or an error; `truncate`: keep the first `limit` bytes."""
        status = response.status_code
        if len(response.history) or str(response.url) != url:
            log.info("%s: fetched %s from %s", source, mask_url(url), mask_url(str(response.url)))
        if status == 304:
            if not (etag or last_modified):
                raise _fail(
                    "HTTP 304 Not Modified although no validators were sent",
                    source=source,
                    url=url,
                    status=status,
                    kind=FailureKind.HTTP,
                )
            return RawDocument(
                url=url,
                body=b"",
                source=source,
                content_type=response.headers.get("Content-Type"),
                fetched_at=_now(),
                etag=response.headers.get("ETag") or etag,
                last_modified=response.headers.get("Last-Modified") or last_modified,
                not_modified=True,
            )
        if status >= 300:
            raise self._status_error(response, source=source, url=url)
        declared = response.headers.get("Content-Length")
        if not truncate and declared and declared.strip().isdigit() and int(declared) > limit:
            raise _too_large(limit, source, url, declared=int(declared))
        decoder = BodyDecoder(coding_of(response.headers.get_list("Content-Encoding")))
        body = bytearray()
        wire = 0
        # Raw reads, as the network gives them (each bounded by the deadline in tracker.sources.net),
        # decoded here under the cap: what we keep and what zlib may produce are both bounded.
        for chunk in response.iter_raw():
            wire += len(chunk)
            body += decoder.decode(chunk, limit - len(body))
            if len(body) > limit or wire > limit:
                if truncate:
                    del body[limit:]
                    log.info(
                        "%s: %s is larger than %d bytes; its first %d bytes are used",
                        source,
                        mask_url(url),
                        limit,
                        len(body),
                    )
                    break
                raise _too_large(limit, source, url)
            if self._clock() > deadline:
                raise httpx.ReadTimeout("the deadline (http.max_seconds) has passed")
        else:
            decoder.finish()
        if truncate and len(body) >= limit:
            # A rule cut in the middle is not a rule: drop the last, incomplete line.
            body = body[: body.rfind(b"\n") + 1]
        return RawDocument(
            url=url,
            body=bytes(body),
            source=source,
            content_type=response.headers.get("Content-Type"),
            fetched_at=_now(),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )

    def _status_error(self, response: httpx.Response, *, source: str, url: str) -> Exception:
        """The error for an HTTP error status; a _Retry for 429 and 5xx."""
        status = response.status_code
        label = f"HTTP {status} {response.reason_phrase}".rstrip()
        if status in _RETRY_STATUSES:
            hint = (
                "the server is rate-limiting this client; run less often or try again later"
                if status == 429
                else "the server is failing; try again later"
            )
            return _Retry(
                _fail(label, source=source, url=url, status=status, kind=FailureKind.HTTP),
                hint,
                _retry_after(response.headers.get("Retry-After")),
            )
        if status in (404, 410):
            return _fail(f"{label}: check the URL", source=source, url=url, status=status, kind=FailureKind.NOT_FOUND)
        if status in (401, 403):
            hint = (
                "the server refused the request; check the URL and whether it blocks "
                "automated clients (http.user_agent)"
            )
        elif 300 <= status < 400:
            hint = "a redirect status without a Location header"
        else:
            hint = "the request was rejected; check the URL"
        return _fail(f"{label}: {hint}", source=source, url=url, status=status, kind=FailureKind.HTTP)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date); None when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        log.debug("ignoring unparseable Retry-After %r", value)
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - _now()).total_seconds(), 0.0)


def _scrub(exc: BaseException, chain: list[str]) -> str:
    """An exception's text with every URL of the redirect chain masked (httpx may quote them)."""
    text = str(exc)
    for hop in chain:
        text = text.replace(hop, mask_url(hop))
    return text


def _peer_ip(response: httpx.Response) -> net.IPAddress | None:
    """The IP address the response came from, when the transport says."""
    stream = response.extensions.get("network_stream")
    try:
        address = stream.get_extra_info("server_addr") if stream is not None else None
    except OSError:
        return None
    return net.parse_ip(str(address[0])) if address else None


def _too_large(limit: int, source: str, url: str, *, declared: int | None = None) -> FetchError:
    size = f" (declared {declared} bytes)" if declared is not None else ""
    return _fail(
        f"response larger than {limit} bytes (http.max_bytes){size}; "
        "raise http.max_bytes if this source is legitimately that big",
        source=source,
        url=url,
        kind=FailureKind.TOO_LARGE,
    )


def _file_url_path(url: str) -> Path:
    """The local path of a file:// URL (percent-decoded; a host other than localhost is kept as UNC-style)."""
    parts = urllib.parse.urlsplit(url)
    path = urllib.request.url2pathname(parts.path)
    if parts.netloc and parts.netloc.lower() != "localhost":
        path = f"//{parts.netloc}{path}"
    return Path(path)


def _file_etag(size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256(f"{size}:{mtime_ns}".encode()).hexdigest()[:20]
    return f'"{digest}"'


def _file_unchanged(file_etag: str, mtime: float, etag: str | None, last_modified: str | None) -> bool:
    """HTTP's rule: If-None-Match wins over If-Modified-Since."""
    if etag:
        return etag == file_etag
    if last_modified:
        try:
            since = email.utils.parsedate_to_datetime(last_modified)
        except (TypeError, ValueError, IndexError):
            return False
        # HTTP dates have whole seconds, so compare at that resolution.
        return int(mtime) <= int(since.timestamp())
    return False


def _guess_type(path: Path) -> str | None:
    suffix = path.suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0]


def _now() -> datetime:
    return datetime.now(UTC)


# Signatures of files that are certainly not documents (a saved PDF, an image, an archive).
_BINARY_MAGIC = (
    (b"%PDF", "a PDF"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive (or an Office file)"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"\x7fELF", "a program"),
    (b"SQLite format 3", "a SQLite database"),
)


def _not_a_document(body: bytes) -> str | None:
    """Why a local file's bytes cannot be a text document, or None when they may be one."""
    if not body.strip():
        return "is empty"
    for magic, what in _BINARY_MAGIC:
        if body.startswith(magic):
            return f"is {what}, not a text document"
    head = body[:8192]
    # UTF-16 and UTF-32 text holds NULs; it announces itself with a byte-order mark.
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf")):
        return "is a binary file, not a text document"
    return None
