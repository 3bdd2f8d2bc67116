"""A real HTTP/1.1 server on 127.0.0.1 for tests: files, routes, conditional GET and faults.

Usage (or take the `http_server` fixture from tests/support/fixtures.py)::

    with FixtureServer(root=Path("tests/fixtures/mirror")) as server:
        server.route("/feed.xml", "<rss/>", content_type="application/rss+xml")
        server.script("/flaky", [Reply(status=503, headers={"Retry-After": "2"}), Reply(body=b"ok")])
        server.redirect("/old", "/feed.xml")
        httpx.get(server.url("/feed.xml"))
        assert server.requests[-1].headers["user-agent"]

What a path serves, first match wins:

1. a registered route (`route`, `script`, `redirect`): a sequence of `Reply` objects served in
   turn, the last one repeated for every later request;
2. a file under `root` (when set), with an ETag from its size and mtime and a Last-Modified;
3. otherwise 404.

Conditional GET is real: a reply with an `etag` answers 304 when If-None-Match matches it (or
when there is no If-None-Match and If-Modified-Since is not older than its `last_modified`).
Every request is logged in `server.requests` (method, path with query, headers, body, client
address) before
it is answered, including the ones that are then dropped or delayed.

Faults, per `Reply`: `delay` (sleep before answering), `trickle` (sleep between body chunks of
`chunk_size` bytes; `chunk_size=1` drips the body), `header_drip` (sleep between the bytes of the
status line and headers), `chunked` (Transfer-Encoding: chunked, no Content-Length), `truncate_at`
(declare the full Content-Length, send this many bytes, close), `drop` (close the connection
without any response). Redirect chains and loops are routes whose replies carry a Location.
"""

from __future__ import annotations

import email.utils
import hashlib
import logging
import mimetypes
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

# A fixed, plausible Last-Modified for routes, so tests can compare against it.
DEFAULT_LAST_MODIFIED = "Wed, 04 Dec 2030 10:00:00 GMT"
AUTO = "auto"  # etag/last_modified: derive one (the body's hash / DEFAULT_LAST_MODIFIED)


class Headers(Mapping[str, str]):
    """Request headers, looked up case-insensitively (`headers["if-none-match"]`)."""

    def __init__(self, items: Sequence[tuple[str, str]]) -> None:
        self._items = list(items)
        self._lower = {k.lower(): v for k, v in self._items}

    def __getitem__(self, key: str) -> str:
        return self._lower[key.lower()]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower() in self._lower

    def __iter__(self) -> Iterator[str]:
        return iter(k for k, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str  # with the query string, e.g. "/feed.xml?page=2"
    headers: Headers
    body: bytes = b""
    client: tuple[str, int] = ("", 0)  # the client's address: one port per connection, so reuse shows

    @property
    def route(self) -> str:
        """The path without the query string."""
        return urlsplit(self.path).path


@dataclass(frozen=True)
class Reply:
    """One response a route gives, with optional fault injection."""

    body: bytes | str = b""
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str | None = None  # default: text/plain; charset=utf-8 when there is a body
    etag: str | None = AUTO  # AUTO: a hash of the body; None: no ETag, no If-None-Match handling
    last_modified: str | None = AUTO  # AUTO: DEFAULT_LAST_MODIFIED; None: none
    delay: float = 0.0  # seconds to wait before sending anything
    trickle: float = 0.0  # seconds to wait between body chunks
    chunk_size: int = 1024
    chunked: bool = False  # Transfer-Encoding: chunked instead of Content-Length
    truncate_at: int | None = None  # send only this many body bytes after a full Content-Length, then close
    drop: bool = False  # close the connection without a response
    header_drip: float = 0.0  # seconds to wait between the bytes of the status line and headers

    @property
    def data(self) -> bytes:
        """The body as bytes (str bodies are UTF-8)."""
        return self.body.encode("utf-8") if isinstance(self.body, str) else self.body

    def resolved_etag(self) -> str | None:
        """The ETag this reply carries, if any."""
        if self.etag == AUTO:
            # Only successful bodies are worth validating; error pages carry no ETag.
            if not 200 <= self.status < 300:
                return None
            return '"' + hashlib.sha256(self.data).hexdigest()[:16] + '"'
        return self.etag

    def resolved_last_modified(self) -> str | None:
        """The Last-Modified this reply carries, if any."""
        if self.last_modified == AUTO:
            return DEFAULT_LAST_MODIFIED if 200 <= self.status < 300 else None
        return self.last_modified


class _Route:
    """A sequence of replies: each request takes the next, the last repeats."""

    def __init__(self, replies: Sequence[Reply]) -> None:
        if not replies:
            raise ValueError("a route needs at least one reply")
        self.replies = list(replies)
        self.served = 0

    def next(self) -> Reply:
        reply = self.replies[min(self.served, len(self.replies) - 1)]
        self.served += 1
        return reply


class FixtureServer:
    """A loopback HTTP server (port chosen by the OS) serving routes and/or a folder."""

    def __init__(self, root: Path | None = None, *, host: str = "127.0.0.1") -> None:
        self.root = root
        self.host = host
        self.requests: list[RecordedRequest] = []
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FixtureServer:
        """Bind and serve in a daemon thread."""
        if self._server is not None:
            return self
        server = _Server((self.host, 0), _Handler)
        server.fixture = self
        self._server = server
        # A short poll interval makes stop() (shutdown) return quickly.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fixture-http", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (delayed handlers die with their daemon threads)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FixtureServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The bound port."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return int(self._server.server_address[1])

    def url(self, path: str = "/", *, host: str | None = None) -> str:
        """Absolute URL of a path; `host="localhost"` gives the same server under another host name."""
        if not path.startswith("/"):
            path = "/" + path
        return f"http://{host or self.host}:{self.port}{path}"

    @property
    def base_url(self) -> str:
        """The server's root URL, ending in /."""
        return self.url("/")

    # -- routes ----------------------------------------------------------------------

    def route(
        self,
        path: str,
        body: bytes | str = b"",
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
        **faults: object,
    ) -> None:
        """Serve one reply at `path` (a path without query); `faults` are other `Reply` fields."""
        reply = Reply(
            body=body,
            status=status,
            headers=dict(headers or {}),
            content_type=content_type,
            **faults,  # type: ignore[arg-type]
        )
        self.script(path, [reply])

    def script(self, path: str, replies: Sequence[Reply]) -> None:
        """Serve `replies` in turn at `path`; the last one repeats (e.g. 503, 503, then 200)."""
        with self._lock:
            self._routes[_normal_path(path)] = _Route(replies)

    def redirect(self, path: str, to: str, *, status: int = 302) -> None:
        """Answer `path` with a redirect to `to` (a path or an absolute URL)."""
        self.script(path, [Reply(status=status, headers={"Location": to}, etag=None, last_modified=None)])

    # -- the request log ---------------------------------------------------------------

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The logged requests for one path (query string ignored)."""
        with self._lock:
            return [r for r in self.requests if r.route == _normal_path(path)]

    def count(self, path: str) -> int:
        """How many requests reached `path`."""
        return len(self.requests_to(path))

    def clear(self) -> None:
        """Forget the logged requests (routes stay)."""
        with self._lock:
            self.requests.clear()

    # -- used by the handler -----------------------------------------------------------

    def _log(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _reply_for(self, path: str) -> Reply:
        with self._lock:
            route = self._routes.get(path)
            if route is not None:
                return route.next()
        if self.root is not None:
            reply = _file_reply(self.root, path)
            if reply is not None:
                return reply
        return Reply(body=f"no route or file for {path}\n", status=404)


def _normal_path(path: str) -> str:
    path = urlsplit(path).path or "/"
    return unquote(path if path.startswith("/") else "/" + path)


def _file_reply(root: Path, path: str) -> Reply | None:
    """A file under root, or None (also for paths escaping root)."""
    base = root.resolve()
    target = (base / path.lstrip("/")).resolve()
    if target.is_dir():
        target = target / "index.html"
    if not target.is_relative_to(base) or not target.is_file():
        return None
    stat = target.stat()
    content_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix.lower() == ".md":
        content_type = "text/markdown"
    if content_type.startswith("text/") or content_type.endswith("xml"):
        content_type += "; charset=utf-8"
    return Reply(
        body=target.read_bytes(),
        content_type=content_type,
        etag='"' + hashlib.sha256(f"{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16] + '"',
        last_modified=email.utils.formatdate(stat.st_mtime, usegmt=True),
    )


def _not_modified(reply: Reply, headers: Headers) -> bool:
    """RFC 9110: If-None-Match, when present, decides; else If-Modified-Since."""
    etag = reply.resolved_etag()
    if "if-none-match" in headers:
        if etag is None:
            return False
        wanted = [t.strip() for t in headers["if-none-match"].split(",")]
        weak = etag.removeprefix("W/")
        return "*" in wanted or any(t.removeprefix("W/") == weak for t in wanted)
    modified = reply.resolved_last_modified()
    if "if-modified-since" in headers and modified:
        try:
            since = email.utils.parsedate_to_datetime(headers["if-modified-since"])
            return email.utils.parsedate_to_datetime(modified) <= since
        except (TypeError, ValueError):
            return False
    return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    fixture: FixtureServer

    def handle_error(self, request: object, client_address: object) -> None:
        # Clients that time out or give up mid-body are expected in fault tests.
        log.debug("fixture server: a client went away (%s)", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients' connection pooling is exercised
    # Headers and body go out in separate writes: without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        log.debug("fixture server: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._handle()

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        fixture = self.server.fixture
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = Headers(list(self.headers.items()))
        client = (str(self.client_address[0]), int(self.client_address[1]))
        fixture._log(RecordedRequest(self.command, self.path, headers, body, client))
        reply = fixture._reply_for(_normal_path(self.path))
        if reply.delay:
            time.sleep(reply.delay)
        if reply.drop:
            self.close_connection = True
            return
        etag, modified = reply.resolved_etag(), reply.resolved_last_modified()
        if 200 <= reply.status < 300 and self.command in ("GET", "HEAD") and _not_modified(reply, headers):
            self.send_response(304)
            if etag:
                self.send_header("ETag", etag)
            if modified:
                self.send_header("Last-Modified", modified)
            self.end_headers()
            return
        data = reply.data
        self.send_response(reply.status)
        content_type = reply.content_type or ("text/plain; charset=utf-8" if data else None)
        if content_type:
            self.send_header("Content-Type", content_type)
        if etag:
            self.send_header("ETag", etag)
        if modified:
            self.send_header("Last-Modified", modified)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(len(data)))
        if reply.header_drip:
            self._drip_headers(reply.header_drip)
        else:
            self.end_headers()
        if self.command == "HEAD":
            return
        if reply.truncate_at is not None:
            data = data[: reply.truncate_at]
            self.close_connection = True
        self._send_body(data, reply)

    def _drip_headers(self, pause: float) -> None:
        """Send the buffered status line and headers one byte at a time."""
        head = b"".join(self._headers_buffer) + b"\r\n"  # type: ignore[attr-defined]
        self._headers_buffer = []  # type: ignore[attr-defined]
        for index in range(len(head)):
            if index:
                time.sleep(pause)
            self.wfile.write(head[index : index + 1])
            self.wfile.flush()

    def _send_body(self, data: bytes, reply: Reply) -> None:
        size = max(reply.chunk_size, 1)
        for start in range(0, len(data), size):
            if start and reply.trickle:
                time.sleep(reply.trickle)
            piece = data[start : start + size]
            if reply.chunked:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            self.wfile.flush()
        if reply.chunked and reply.truncate_at is None:
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
