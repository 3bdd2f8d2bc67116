"""`tracker serve`: the output folder, the JSON API and the browse page over HTTP (stdlib only).

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
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy.orm import Session, sessionmaker

from tracker.web.api import Api
from tracker.web.openapi import spec
from tracker.web.responses import Response, compress, finalize, json_error, json_response, strong_etag

log = logging.getLogger(__name__)

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
FEED_CACHE = "public, max-age=300"  # readers poll; five minutes of staleness is harmless
ARCHIVE_CACHE = "public, max-age=86400"  # archive pages (RFC 5005) hardly ever change
PAGE_CACHE = "public, max-age=300"
BROWSE_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
              "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
STATIC_FILES = {"/browse": "browse.html", "/browse.js": "browse.js", "/browse.css": "browse.css",
                "/favicon.svg": "favicon.svg"}
MAX_QUERY = 4096
API_CACHE_SECONDS = 5.0  # how long an API answer is reused for the same request
API_CACHE_ENTRIES = 512


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
            cached = _Cached(key=key, body=body, etag=strong_etag(body),
                             last_modified=datetime.fromtimestamp(info.st_mtime, UTC).replace(microsecond=0))
            with self._lock:
                self._cache[rel] = cached
        if cached.gzipped is None and len(cached.body) >= 256:
            cached.gzipped = compress(cached.body)
        return Response(
            status=200, body=cached.body, content_type=CONTENT_TYPES[path.suffix],
            cache_control=ARCHIVE_CACHE if rel.startswith("archive/") else FEED_CACHE,
            last_modified=cached.last_modified, etag=cached.etag, gzipped=cached.gzipped,
        )


class TrackerServer(ThreadingHTTPServer):
    """A threading HTTP server holding the app's state."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], *, output_dir: Path, factory: sessionmaker[Session]) -> None:
        # Read by TCPServer.__init__ when it makes the socket.
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, Handler)
        self.files = FolderFiles(output_dir)
        self.api = Api(factory=factory, feed_root=self.files.root)
        self.openapi = json_response(spec(), cache_control="public, max-age=3600")
        self._api_cache: OrderedDict[str, tuple[float, Response]] = OrderedDict()
        self._api_lock = threading.Lock()
        self.static: dict[str, Response] = {}
        package = resources.files("tracker.web") / "static"
        for url, name in STATIC_FILES.items():
            body = (package / name).read_bytes()
            kind = {"html": "text/html", "js": "application/javascript", "css": "text/css",
                    "svg": "image/svg+xml"}[name.rsplit(".", 1)[1]]
            self.static[url] = Response(status=200, body=body, content_type=kind + "; charset=utf-8",
                                       cache_control=PAGE_CACHE, etag=strong_etag(body),
                                       headers={"Content-Security-Policy": BROWSE_CSP})

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

    @property
    def url(self) -> str:
        """The base URL the server answers on."""
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"


class Handler(BaseHTTPRequestHandler):
    """One connection: GET and HEAD only."""

    server: TrackerServer
    protocol_version = "HTTP/1.1"  # keep-alive: readers and load tools reuse connections
    server_version = "tracker"
    sys_version = ""
    timeout = 30  # a silent client does not hold a thread forever

    def setup(self) -> None:
        """Per connection: no Nagle delay (headers and body go out as two writes)."""
        super().setup()
        # Without TCP_NODELAY a small body waits for the ACK of the headers (delayed ACK: ~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's name
        """Access log through logging (debug), not stderr."""
        log.debug("%s %s", self.address_string(), format % args)

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        """Serve a GET."""
        self._serve("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        """Serve a HEAD (a GET without the body)."""
        self._serve("HEAD")

    def _refuse(self) -> None:
        response = json_error(405, f"{self.command} is not allowed: this server is read-only; use GET or HEAD")
        response.headers["Allow"] = "GET, HEAD"
        self._send(response, "GET")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse  # noqa: N815

    def _route(self) -> Response:
        parts = urlsplit(self.path)
        path = parts.path or "/"
        if len(parts.query) > MAX_QUERY:
            return json_error(414, f"the query string is longer than {MAX_QUERY} characters")
        if path == "/api/openapi.json":
            return self.server.openapi
        if path == "/api" or path.startswith("/api/"):
            try:
                query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=False, max_num_fields=50)
            except ValueError as exc:
                return json_error(400, f"malformed query string: {exc}")
            return self.server.api_response(path.rstrip("/") or path, query, parts.query)
        if path in self.server.static:
            return self.server.static[path]
        found = self.server.files.get(path)
        if found is not None:
            return found
        body = b"Not found. Feeds are listed at / and in /index.opml; search at /browse.\n"
        return Response(status=404, body=body, content_type="text/plain; charset=utf-8")

    def _serve(self, method: str) -> None:
        try:
            response = self._route()
        except Exception:  # noqa: BLE001 - one bad request must not kill the server
            log.exception("error serving %s", self.path)
            response = json_error(500, "internal error; see the server log")
        self._send(response, method)

    def _send(self, response: Response, method: str) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, out_headers, body = finalize(response, headers, method)
        self.send_response(status)
        for name, value in out_headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)


def make_server(output_dir: Path, factory: sessionmaker[Session], *, host: str = "127.0.0.1",
                port: int = 8000) -> TrackerServer:
    """A bound (not yet serving) server; port 0 picks a free port."""
    output_dir.mkdir(parents=True, exist_ok=True)
    return TrackerServer((host, port), output_dir=output_dir, factory=factory)


def serve_forever(server: TrackerServer) -> None:
    """Serve until interrupted, then close the socket."""
    log.info("serving %s on %s (pid %d)", server.files.root, server.url, os.getpid())
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


__all__ = ["FolderFiles", "TrackerServer", "make_server", "serve_forever"]
