"""The shared loopback server (tests.support.http), checked with the standard library's client."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest

from tests.support.http import DEFAULT_LAST_MODIFIED, FixtureServer, Reply


def _get(
    server: FixtureServer, path: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def test_route_headers_and_request_log(http_server: FixtureServer) -> None:
    http_server.route("/x", "héllo", headers={"X-Test": "1"}, content_type="text/plain; charset=utf-8")
    status, headers, body = _get(http_server, "/x?page=2", {"X-Client": "abc"})
    assert status == 200
    assert body == "héllo".encode()
    assert headers["x-test"] == "1"
    assert headers["content-length"] == str(len(body))
    assert headers["last-modified"] == DEFAULT_LAST_MODIFIED
    logged = http_server.requests[0]
    assert (logged.method, logged.path, logged.route) == ("GET", "/x?page=2", "/x")
    assert logged.headers["x-client"] == "abc" and logged.headers["X-CLIENT"] == "abc"
    assert http_server.count("/x") == 1


def test_conditional_get(http_server: FixtureServer) -> None:
    http_server.route("/c", "body")
    _, headers, _ = _get(http_server, "/c")
    status, again, body = _get(http_server, "/c", {"If-None-Match": headers["etag"]})
    assert (status, body, again["etag"]) == (304, b"", headers["etag"])
    assert _get(http_server, "/c", {"If-None-Match": '"other"'})[0] == 200
    assert _get(http_server, "/c", {"If-Modified-Since": DEFAULT_LAST_MODIFIED})[0] == 304
    assert _get(http_server, "/c", {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200


def test_script_repeats_its_last_reply(http_server: FixtureServer) -> None:
    http_server.script("/s", [Reply(status=503, headers={"Retry-After": "1"}), Reply(body="ok")])
    statuses = [_get(http_server, "/s")[0] for _ in range(3)]
    assert statuses == [503, 200, 200]


def test_chunked_body_and_head(http_server: FixtureServer) -> None:
    http_server.route("/chunks", b"abcdefghij", chunked=True, chunk_size=3)
    status, headers, body = _get(http_server, "/chunks")
    assert status == 200 and body == b"abcdefghij"
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    http_server.route("/plain", b"abc")
    status, headers, body = _get(http_server, "/plain", method="HEAD")
    assert status == 200 and body == b"" and headers["content-length"] == "3"


def test_truncated_body_raises_in_a_client(http_server: FixtureServer) -> None:
    http_server.route("/t", b"q" * 100, truncate_at=10)
    with pytest.raises(http.client.IncompleteRead):
        _get(http_server, "/t")


def test_drop_closes_without_response(http_server: FixtureServer) -> None:
    http_server.route("/d", "never", drop=True)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        _get(http_server, "/d")
    assert http_server.count("/d") == 1


def test_redirect_and_unknown_path(http_server: FixtureServer) -> None:
    http_server.redirect("/r", "/target", status=308)
    status, headers, _ = _get(http_server, "/r")
    assert status == 308 and headers["location"] == "/target"
    assert _get(http_server, "/missing")[0] == 404


def test_root_folder_and_no_escape(fixtures: Path) -> None:
    with FixtureServer(root=fixtures / "sources") as server:
        status, headers, body = _get(server, "/feed.xml")
        assert status == 200 and body == (fixtures / "sources" / "feed.xml").read_bytes()
        assert headers["content-type"].startswith("application/xml")
        assert _get(server, "/feed.xml", {"If-None-Match": headers["etag"]})[0] == 304
        # A raw request line, so no client normalises the dot segments away.
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            sock.sendall(b"GET /../conftest.py HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := sock.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 404")


def test_url_and_stop() -> None:
    server = FixtureServer().start()
    assert server.url("feed.xml") == f"http://127.0.0.1:{server.port}/feed.xml"
    assert server.url("/x", host="localhost").startswith("http://localhost:")
    port = server.port
    server.stop()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
