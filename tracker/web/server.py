"""`tracker serve`: the output folder, the JSON API and the browse page over HTTP (a WSGI app on waitress).

* Files of the output folder (feeds, archives, index.opml, index.html) are served with a
  strong ETag (SHA-256 of the bytes), Last-Modified (the file's mtime: the publisher only
  rewrites changed files), gzip when the client accepts it, and Cache-Control. Bytes and
  their gzip form are cached in memory per (path, mtime, size, inode): a feed is read and
  compressed once per change, and a conditional request costs a stat and a 304.
* Nothing outside the output folder is reachable: dot segments, backslashes, NUL,
  hidden files (the publisher's temp files) and symlinks leading out are refused, and
  only known file types are served.
* /api/... is the read-only JSON API (`tracker.web.api`), /api/openapi.json describes it,
  /browse is a page to search and filter announcements and find the matching feed.
* /api answers are kept API_CACHE_SECONDS in memory per exact request (a micro-cache: the
  responses allow 60 s of caching anyway), so a burst of identical requests and their
  conditional repeats do not each query the database.
* Only GET and HEAD: nothing in a request can change the store or the folder.
* Connections are served by waitress: one event loop reads every request whole (head at most
  MAX_HEADER_BYTES, else 431) before a fixed pool of threads runs it (SQLITE_THREADS on
  SQLite, THREADS elsewhere), and sends the answer from the loop. A slow, idle or half-sent
  client therefore holds a socket, never a thread; at most CONNECTION_LIMIT are open (more
  wait in the kernel's backlog), one silent for IDLE_SECONDS is closed, and so is one whose
  request has not arrived whole REQUEST_SECONDS after its first byte (a client dripping a byte
  at a time). The hand-built ThreadingHTTPServer it replaces made a thread per connection:
  3,000 slow clients made 2,869 threads and later clients timed out.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

from tracker.errors import ConfigError
from tracker.media import CONTENT_TYPES
from tracker.web.api import Api
from tracker.web.openapi import spec
from tracker.web.responses import Response, compress, finalize, json_error, json_response, strong_etag

log = logging.getLogger(__name__)

_EMPTY_INDEX = (
    b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>tracker: nothing published yet</title>'
    b"</head><body><h1>Nothing published yet</h1><p>The output folder holds no feeds. Run <code>tracker run</code> "
    b"(fetch, extract and publish) or <code>tracker publish</code> (publish what is stored), then reload.</p>"
    b'<p>Stored announcements can be searched at <a href="/browse">/browse</a> and queried at '
    b'<a href="/api/announcements">/api/announcements</a>.</p></body></html>\n'
)

FEED_CACHE = "public, max-age=300"  # readers poll; five minutes of staleness is harmless
ARCHIVE_CACHE = "public, max-age=86400"  # archive pages (RFC 5005) hardly ever change
PAGE_CACHE = "public, max-age=300"
BROWSE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
STATIC_FILES = {
    "/browse": "browse.html",
    "/browse.js": "browse.js",
    "/browse.css": "browse.css",
    "/favicon.svg": "favicon.svg",
    # The browse page's chart library, vendored (no CDN: the page's CSP allows only 'self').
    "/uPlot.iife.min.js": "uPlot.iife.min.js",
    "/uPlot.min.css": "uPlot.min.css",
}
MAX_QUERY = 4096
API_CACHE_SECONDS = 5.0  # how long an API answer is reused for the same request
API_CACHE_ENTRIES = 512
# Server limits (see the module docstring).
THREADS = 8  # requests run at once on PostgreSQL; the rest queue (each connection has at most one request in flight)
# On SQLite a request is all CPU in this process, and Python threads that each hold the GIL
# between SQLite's steps hand it to one another at the switch interval: on 2 cores, the
# uncached by-service page answered 2,062-2,209 requests/s with one thread, 780-895 with two or
# three, 731-758 with four and 398-454 with eight (tests/benchmarks/api_vs_datasette.py). The
# event loop still holds every connection; one thread answers each process's requests in turn,
# and `--workers` adds processes.
SQLITE_THREADS = 1
CONNECTION_LIMIT = 4096  # open connections; twice the 2,000 idle ones the issue tried, each a socket only
MIN_CONNECTIONS = 64  # never fewer, whatever the open-file limit says
FD_RESERVE = 128  # descriptors kept for the database, the files being read and the loop's own pipe
BACKLOG = 1024  # connections the kernel holds while the server is at its limit
ACCEPT_BURST = 256  # connections accepted per pass of the event loop
IDLE_SECONDS = 30  # a connection silent this long (idle, or a request half-sent) is closed
REQUEST_SECONDS = 30  # a request not read whole this long after its first byte (a slow drip) is dropped
CLEANUP_SECONDS = 5  # how often idle connections are looked for
LIMIT_LOG_SECONDS = 60.0  # "connection limit reached" is logged at most this often
# A request head (request line and headers) over this is refused with 431: Node.js's limit.
# Readers' and browsers' requests to this server take under 2 KiB.
MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 64 * 1024  # only GET and HEAD are served: a body is read only to send the 405
REQUEST_HEADERS = {
    "accept-encoding": "HTTP_ACCEPT_ENCODING",
    "if-none-match": "HTTP_IF_NONE_MATCH",
    "if-modified-since": "HTTP_IF_MODIFIED_SINCE",
}
StartResponse = Callable[..., Any]


@dataclass
class _Cached:
    key: tuple[int, int, int]
    body: bytes
    etag: str
    last_modified: datetime
    gzipped: bytes | None = None


@dataclass
class FolderFiles:
    """Safe, cached access to the files of the output folder."""

    root: Path
    _cache: dict[str, _Cached] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.root = self.root.resolve()

    def resolve(self, url_path: str) -> Path | None:
        """The file a URL path names inside the root, or None (missing, hidden, outside, unknown type)."""
        decoded = unquote(url_path)
        if "\x00" in decoded or "\\" in decoded:
            return None
        parts = [p for p in decoded.split("/") if p]
        if not parts:
            parts = ["index.html"]
        if any(p in (".", "..") or p.startswith(".") for p in parts):
            return None
        candidate = self.root.joinpath(*parts)
        if candidate.suffix not in CONTENT_TYPES:
            return None
        try:
            real = candidate.resolve(strict=True)
        except (OSError, RuntimeError):
            return None
        if self.root not in real.parents:
            return None  # a symlink leading out of the folder
        return real

    def get(self, url_path: str) -> Response | None:
        """The response for a file, or None when there is no such (servable) file."""
        path = self.resolve(url_path)
        if path is None:
            return None
        try:
            info = path.stat()
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        key = (info.st_mtime_ns, info.st_size, info.st_ino)
        rel = path.relative_to(self.root).as_posix()
        with self._lock:
            cached = self._cache.get(rel)
        if cached is None or cached.key != key:
            try:
                body = path.read_bytes()
            except OSError:
                return None
            cached = _Cached(
                key=key,
                body=body,
                etag=strong_etag(body),
                last_modified=datetime.fromtimestamp(info.st_mtime, UTC).replace(microsecond=0),
            )
            with self._lock:
                self._cache[rel] = cached
        if cached.gzipped is None and len(cached.body) >= 256:
            cached.gzipped = compress(cached.body)
        return Response(
            status=200,
            body=cached.body,
            content_type=CONTENT_TYPES[path.suffix],
            cache_control=ARCHIVE_CACHE if rel.startswith("archive/") else FEED_CACHE,
            last_modified=cached.last_modified,
            etag=cached.etag,
            gzipped=cached.gzipped,
        )


class TrackerApp:
    """The WSGI application: GET and HEAD of the folder's files, the API and the browse page."""

    def __init__(self, output_dir: Path, factory: sessionmaker[Session]) -> None:
        self.files = FolderFiles(output_dir)
        self.api = Api(factory=factory, feed_root=self.files.root)
        self.openapi = json_response(spec(), cache_control="public, max-age=3600")
        self._api_cache: OrderedDict[str, tuple[float, Response]] = OrderedDict()
        self._api_lock = threading.Lock()
        self.static: dict[str, Response] = {}
        package = resources.files("tracker.web") / "static"
        for url, name in STATIC_FILES.items():
            body = (package / name).read_bytes()
            kind = {"html": "text/html", "js": "application/javascript", "css": "text/css", "svg": "image/svg+xml"}[
                name.rsplit(".", 1)[1]
            ]
            self.static[url] = Response(
                status=200,
                body=body,
                content_type=kind + "; charset=utf-8",
                cache_control=PAGE_CACHE,
                etag=strong_etag(body),
                headers={"Content-Security-Policy": BROWSE_CSP},
            )

    def api_response(self, path: str, query: dict[str, list[str]], raw_query: str) -> Response:
        """An API answer, from the micro-cache when the same request was answered moments ago.

        Responses say max-age=60 anyway, so holding a 200 for API_CACHE_SECONDS changes nothing
        a client can rely on, and under load most requests (and every 304) skip the database.
        """
        key = path + "?" + raw_query
        now = time.monotonic()
        with self._api_lock:
            hit = self._api_cache.get(key)
            if hit is not None and now - hit[0] < API_CACHE_SECONDS:
                self._api_cache.move_to_end(key)
                return hit[1]
        response = self.api.handle(path, query)
        if response.status == 200:
            response.etag = strong_etag(response.body)
            with self._api_lock:
                self._api_cache[key] = (now, response)
                while len(self._api_cache) > API_CACHE_ENTRIES:
                    self._api_cache.popitem(last=False)
        return response

    def route(self, target: str) -> Response:
        """The response for a request target (path and query exactly as the client sent them)."""
        parts = urlsplit(target)
        path = parts.path or "/"
        if len(parts.query) > MAX_QUERY:
            return json_error(414, f"the query string is longer than {MAX_QUERY} characters")
        if path == "/api/openapi.json":
            return self.openapi
        if path == "/api" or path.startswith("/api/"):
            try:
                query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False, max_num_fields=50)
            except ValueError as exc:
                return json_error(400, f"malformed query string: {exc}")
            return self.api_response(path.rstrip("/") or path, query, parts.query)
        if path in self.static:
            return self.static[path]
        found = self.files.get(path)
        if found is not None:
            return found
        if path in ("/", "/index.html"):
            # Nothing published yet: say how to publish instead of a bare 404.
            return Response(status=200, body=_EMPTY_INDEX, content_type="text/html; charset=utf-8")
        body = b"Not found. Feeds are listed at / and in /index.opml; search at /browse.\n"
        return Response(status=404, body=body, content_type="text/plain; charset=utf-8")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
        """Answer one request (WSGI, PEP 3333)."""
        method = environ["REQUEST_METHOD"]
        # REQUEST_URI is the target as sent (PATH_INFO is already percent-decoded, which would
        # turn %2F into a separator before FolderFiles checks the segments).
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO") or "/"
        if method in ("GET", "HEAD"):
            try:
                response = self.route(target)
            except Exception:  # noqa: BLE001 - one bad request must not kill the server
                log.exception("error serving %s", target[:200])
                response = json_error(500, "internal error; see the server log")
        else:
            response = json_error(405, f"{method} is not allowed: this server is read-only; use GET or HEAD")
            response.headers["Allow"] = "GET, HEAD"
            method = "GET"  # the refusal is sent with its body
        request_headers = {name: environ[key] for name, key in REQUEST_HEADERS.items() if key in environ}
        status, headers, body = finalize(response, request_headers, method)
        start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s %d", environ.get("REMOTE_ADDR", "-"), environ["REQUEST_METHOD"], target[:200], status)
        return [body] if body else []


def open_file_budget(connections: int) -> int:
    """How many connections the open-file limit allows, after raising the soft limit towards the need.

    Each connection is a file descriptor; past the limit accept() fails (EMFILE) and the loop
    spins on it. The soft limit is raised (up to the hard one) when it is lower than
    connections + FD_RESERVE, and the connection limit is lowered to what fits.
    """
    try:
        import resource
    except ImportError:  # not POSIX: nothing to raise or read
        return connections
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < want:
        target = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-file limit from %d to %d: %s", soft, target, exc)
    if soft == resource.RLIM_INFINITY:
        return connections
    fits = max(MIN_CONNECTIONS, soft - FD_RESERVE)
    if fits < connections:
        log.warning("the open-file limit (%d) allows %d connections, not %d", soft, fits, connections)
    return min(connections, fits)


class _OncePerMinute(logging.Filter):
    """Lets each of waitress's connection-limit messages through at most once a minute.

    At the limit waitress logs "reached the connection limit" and "dropped below" on every
    close and accept: under a flood of connections, hundreds of lines a second.
    """

    def __init__(self) -> None:
        super().__init__()
        self._last: dict[str, float] = {}
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a repeat of a connection-limit message within a minute."""
        message = str(record.msg)
        if not message.startswith("total open connections"):
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._last.get(message, -LIMIT_LOG_SECONDS) < LIMIT_LOG_SECONDS:
                return False
            self._last[message] = now
        return True


_LIMIT_LOG_FILTER = _OncePerMinute()


class _Task(WSGITask):
    """waitress's request task, except that a 304 keeps the connection open.

    waitress closes the connection after any response without a Content-Length, a 304
    included, although a 304 never has a body to delimit (RFC 9110 15.4.5); readers polling
    several feeds with conditional requests would reconnect for each one.
    """

    def set_close_on_finish(self) -> None:
        """Close after this response, unless it has no body and the client did not ask to close."""
        if not self.has_body and not self._client_closes():
            return
        super().set_close_on_finish()

    def _client_closes(self) -> bool:
        connection = str(self.request.headers.get("CONNECTION", "")).lower()
        return connection == "close" or (self.version == "1.0" and connection != "keep-alive")


class _Channel(HTTPChannel):
    """waitress's connection, running `_Task` and noting when the request being read began."""

    task_class = _Task
    request_began = 0.0  # time.time() of the first bytes of the request being read

    def received(self, data: bytes) -> bool:
        """Read request bytes (waitress), noting the time when they start a new request."""
        if self.request is None:
            self.request_began = time.time()
        return bool(super().received(data))


class _Listener(TcpWSGIServer):
    """waitress's listening socket, accepting a burst of connections per pass of the loop.

    waitress accepts one connection per pass, and a pass costs time in proportion to the open
    connections (it polls each one): with 2,000 open, a burst of new ones waited seconds in
    the backlog, and the kernel dropped SYNs once it was full (3 s retransmits).
    """

    channel_class = _Channel
    request_seconds = REQUEST_SECONDS

    def maintenance(self, now: float) -> None:
        """Close silent connections (waitress), and those whose request has not arrived whole in time.

        waitress closes a connection silent for channel_timeout, but one that sends a byte now
        and then (a slowloris) stays: 16 KiB of head at a byte a second is four and a half hours.
        """
        super().maintenance(now)
        cutoff = now - self.request_seconds
        for channel in self.active_channels.values():
            request = channel.request
            if (
                request is not None
                and not request.completed
                and not channel.requests
                and channel.request_began < cutoff
            ):
                channel.will_close = True

    def handle_accept(self) -> None:
        """Accept until none is waiting, the burst is done or the connection limit is reached."""
        for _ in range(ACCEPT_BURST):
            if len(self._map) >= self.adj.connection_limit:
                return
            before = len(self._map)
            super().handle_accept()
            if len(self._map) == before:  # nothing was waiting (or accept failed): back to the loop
                return


def bind_listener(address: tuple[str, int], *, reuse_port: bool = False) -> socket.socket:
    """A TCP socket bound to (host, port), not yet listening; a ConfigError saying what to change when refused.

    reuse_port sets SO_REUSEPORT, so that several sockets (one per worker of `serve --workers`)
    share the address and the kernel spreads the incoming connections over them (Linux).
    """
    host, port = address
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"cannot listen on {shown}: the port is in use (another server, or another `tracker serve`, "
                "listens there); stop it, or choose another --port"
            ) from None
        if exc.errno == errno.EACCES:
            raise ConfigError(
                f"cannot listen on {shown}: this user may not use port {port} (ports below 1024 need privileges); "
                "choose a port from 1024 up with --port, or let a reverse proxy listen on the low port"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
            problem = (
                f"the name {host!r} does not resolve ({exc.strerror})"
                if isinstance(exc, socket.gaierror)
                else f"no network interface of this machine has the address {host!r}"
            )
            raise ConfigError(
                f"cannot listen on {shown}: {problem}; give --host one of this machine's addresses: "
                "127.0.0.1 for this machine only, 0.0.0.0 for every interface"
            ) from None
        raise
    return sock


class TrackerServer:
    """`tracker serve` bound to one address: the app on a waitress server with fixed limits."""

    def __init__(
        self,
        address: tuple[str, int],
        *,
        sock: socket.socket | None = None,
        output_dir: Path,
        factory: sessionmaker[Session],
        threads: int | None = None,
        connection_limit: int = CONNECTION_LIMIT,
        idle_seconds: int = IDLE_SECONDS,
        request_seconds: int = REQUEST_SECONDS,
    ) -> None:
        if threads is None:
            threads = threads_for(factory)
        self.threads = threads
        self.app = TrackerApp(output_dir, factory)
        self.files = self.app.files
        self.api = self.app.api
        self.connection_limit = open_file_budget(connection_limit)
        # Bound here (not by waitress from host/port) so that one name gives one socket, as before:
        # waitress would listen on every address "localhost" resolves to. A worker of
        # `serve --workers` is given the socket its parent bound (tracker.web.workers).
        if sock is None:
            sock = bind_listener(address)
        self._map: dict[int, Any] = {}
        adjustments = Adjustments(
            sockets=[sock],
            ident="tracker",
            threads=threads,
            connection_limit=self.connection_limit,
            backlog=BACKLOG,
            channel_timeout=idle_seconds,
            cleanup_interval=max(1, min(CLEANUP_SECONDS, idle_seconds, request_seconds)),
            max_request_header_size=MAX_HEADER_BYTES,
            max_request_body_size=MAX_BODY_BYTES,
            # poll(), not select(): select() cannot watch descriptors above 1023.
            asyncore_use_poll=True,
            # A client that resets its connection is normal on the internet: no traceback.
            log_socket_errors=False,
            expose_tracebacks=False,
        )
        # waitress warns "Task queue depth is N" whenever a request waits for a thread: with a
        # fixed pool that is normal under load (the queue is bounded by the connections, one
        # request each), and a warning per request filled the log (and a stderr pipe) under wrk.
        logging.getLogger("waitress.queue").setLevel(logging.ERROR)
        waitress_log = logging.getLogger("waitress")
        if _LIMIT_LOG_FILTER not in waitress_log.filters:
            waitress_log.addFilter(_LIMIT_LOG_FILTER)
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(threads)
        # What waitress.create_server does for a socket it is given, with the listener above.
        self._server = _Listener(
            self.app,
            self._map,
            True,
            sock,
            dispatcher=dispatcher,
            adj=adjustments,
            bind_socket=False,
            sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
        )
        self._server.request_seconds = request_seconds
        self._stop = threading.Event()
        self._stopped = threading.Event()
        self._stopped.set()
        # Asked between two passes of the loop: whether to stop (a worker's signal flag, its parent gone).
        self.stop_check: Callable[[], bool] | None = None

    @property
    def server_address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        return str(self._server.effective_host), int(self._server.effective_port)

    @property
    def open_connections(self) -> int:
        """Client connections open now."""
        return len(self._server.active_channels)

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        name, port = self.server_address
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        """Run the event loop until `shutdown` (from another thread) or an interrupt."""
        self._stop.clear()
        self._stopped.clear()
        check = self.stop_check
        try:
            while not self._stop.is_set() and not (check is not None and check()):
                wasyncore.loop(timeout=poll_interval, map=self._map, use_poll=True, count=1)
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop `serve_forever` and wait until it has returned."""
        self._stop.set()
        self._server.pull_trigger()  # wakes the loop's poll() now
        self._stopped.wait(timeout=10)

    def server_close(self) -> None:
        """Close the listening socket and every connection; stop the worker threads."""
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        wasyncore.close_all(self._map, ignore_all=True)


def threads_for(factory: sessionmaker[Session]) -> int:
    """The threads that answer requests: one on SQLite (see SQLITE_THREADS), THREADS elsewhere."""
    bind = factory.kw.get("bind")
    dialect = getattr(bind, "dialect", None)
    return SQLITE_THREADS if getattr(dialect, "name", "") == "sqlite" else THREADS


def make_server(
    output_dir: Path, factory: sessionmaker[Session], *, host: str = "127.0.0.1", port: int = 8000
) -> TrackerServer:
    """A bound (not yet serving) server; port 0 picks a free port."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return TrackerServer((host, port), output_dir=output_dir, factory=factory)


def serve_forever(server: TrackerServer) -> None:
    """Serve until interrupted, then close the socket."""
    log.info(
        "serving %s on %s (pid %d, at most %d connections, %d threads)",
        server.files.root,
        server.url,
        os.getpid(),
        server.connection_limit,
        server.threads,
    )
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


__all__ = [
    "FolderFiles",
    "TrackerApp",
    "TrackerServer",
    "bind_listener",
    "make_server",
    "open_file_budget",
    "serve_forever",
]
